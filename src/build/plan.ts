// The build part of the inputs, validated once into a BuildPlan, and mapped to the dockerfile.v0
// frontend's attributes. Both adapters use this; error sentences use the names the user knows.
import { statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { InputError } from "../errors.js";

export interface BuildPlan {
  contextDir: string;
  dockerfileDir: string;
  dockerfileName: string;
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  platforms: string[];
  noCache: boolean;
  noCacheFilters: string[];
}

export interface BuildInputs {
  context: string;
  file?: string;
  target?: string;
  buildArgs: string[];
  labels: string[];
  platforms: string[];
  noCache: boolean;
  noCacheFilters: string[];
}

export interface BuildInputNames {
  context: string;
  file: string;
  buildArgs: string;
  labels: string;
  platforms: string;
}

const PLATFORM = /^[a-z0-9_-]+\/[a-z0-9_-]+(\/[a-z0-9_.-]+)?$/i;

export function parseBuildPlan(
  inputs: BuildInputs,
  names: BuildInputNames,
  cwd = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): BuildPlan {
  const contextDir = resolve(cwd, inputs.context);
  requireKind(contextDir, "directory", `${names.context} "${inputs.context}"`);
  const file = inputs.file ? resolve(cwd, inputs.file) : defaultDockerfile(contextDir);
  requireKind(file, "file", inputs.file ? `${names.file} "${inputs.file}"` : `The Dockerfile "${file}"`);
  const platforms = commaList(inputs.platforms);
  for (const platform of platforms) {
    if (!PLATFORM.test(platform)) {
      throw new InputError(
        `${names.platforms} "${platform}" is not a platform; write it as os/arch[/variant], such as linux/arm64.`,
      );
    }
  }
  return {
    contextDir,
    dockerfileDir: dirname(file),
    dockerfileName: basename(file),
    target: inputs.target?.trim() || undefined,
    buildArgs: keyValues(inputs.buildArgs, names.buildArgs, env),
    labels: keyValues(inputs.labels, names.labels, undefined),
    platforms,
    noCache: inputs.noCache,
    noCacheFilters: commaList(inputs.noCacheFilters),
  };
}

/** Values given repeatedly, comma-separated, or both, as buildx takes --platform. */
function commaList(values: string[]): string[] {
  return values
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter(Boolean);
}

/**
 * CONTEXT/Dockerfile. Written without path.resolve on purpose: ncc's asset relocator rewrites
 * `resolve(dir, "Dockerfile")` into a path inside dist/.
 */
function defaultDockerfile(contextDir: string): string {
  return [contextDir, "Dockerfile"].join("/");
}

function requireKind(path: string, kind: "file" | "directory", what: string): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new InputError(`${what} does not exist.`);
  }
  if (kind === "directory" && !stats.isDirectory()) throw new InputError(`${what} is not a directory.`);
  if (kind === "file" && !stats.isFile()) throw new InputError(`${what} is not a file.`);
}

/**
 * NAME=value pairs. A bare NAME takes its value from the environment, as docker buildx does
 * for build args; where that is not possible the sentence says why.
 */
function keyValues(
  items: string[],
  name: string,
  env: NodeJS.ProcessEnv | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items) {
    const equals = item.indexOf("=");
    const key = (equals < 0 ? item : item.slice(0, equals)).trim();
    if (key === "") throw new InputError(`${name} "${item}" has no name; write it as NAME=value.`);
    if (equals >= 0) {
      result[key] = item.slice(equals + 1);
    } else if (env && env[key] !== undefined) {
      result[key] = env[key]!;
    } else {
      throw new InputError(
        env
          ? `${name} "${item}" has no "=" and no environment variable ${key} is set; write it as ${key}=value.`
          : `${name} "${item}" has no "="; write it as ${key}=value.`,
      );
    }
  }
  return result;
}

/** The dockerfile.v0 frontend's attributes for a plan. */
export function frontendAttrs(plan: BuildPlan): Record<string, string> {
  const attrs: Record<string, string> = { filename: plan.dockerfileName };
  if (plan.target) attrs.target = plan.target;
  for (const [key, value] of Object.entries(plan.buildArgs)) attrs[`build-arg:${key}`] = value;
  for (const [key, value] of Object.entries(plan.labels)) attrs[`label:${key}`] = value;
  if (plan.platforms.length > 0) attrs.platform = plan.platforms.join(",");
  if (plan.noCache) attrs["no-cache"] = "";
  else if (plan.noCacheFilters.length > 0) attrs["no-cache"] = plan.noCacheFilters.join(",");
  return attrs;
}
