// The build part of the inputs, validated once into a BuildPlan, and mapped to the dockerfile.v0
// frontend's attributes. Both adapters use this; error sentences use the names the user knows.
import { statSync } from "node:fs";
import { isIP } from "node:net";
import { basename, dirname, resolve } from "node:path";
import { formatPlatform, type Platform } from "../buildkit/index.js";
import { InputError } from "../errors.js";
import { listItems, parseByteSize, parseKeyValues, parsePlatforms } from "../values.js";

export interface BuildPlan {
  contextDir: string;
  dockerfileDir: string;
  dockerfileName: string;
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  platforms: Platform[];
  noCache: boolean;
  noCacheFilters: string[];
  /** Named contexts: local directories go through the session, the rest to the frontend as is. */
  namedContexts: NamedContext[];
  /** host=ip pairs, the frontend's syntax. */
  addHosts: string[];
  network?: "default" | "none" | "host";
  shmSizeBytes?: number;
  /** name=soft[:hard], the frontend's syntax. */
  ulimits: string[];
  pull: boolean;
}

export type NamedContext =
  { name: string; kind: "local"; dir: string } | { name: string; kind: "source"; source: string };

export interface BuildInputs {
  context: string;
  file?: string;
  target?: string;
  buildArgs: string[];
  labels: string[];
  platforms: string[];
  noCache: boolean;
  noCacheFilters: string[];
  buildContexts?: string[];
  addHosts?: string[];
  network?: string;
  shmSize?: string;
  ulimits?: string[];
  pull?: boolean;
}

export interface BuildInputNames {
  context: string;
  file: string;
  buildArgs: string;
  labels: string;
  platforms: string;
  buildContexts: string;
  addHosts: string;
  network: string;
  shmSize: string;
  ulimits: string;
}

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
  const platforms = parsePlatforms(listItems(inputs.platforms, ","), names.platforms);
  return {
    contextDir,
    dockerfileDir: dirname(file),
    dockerfileName: basename(file),
    target: inputs.target?.trim() || undefined,
    buildArgs: parseKeyValues(inputs.buildArgs, names.buildArgs, env),
    labels: parseKeyValues(inputs.labels, names.labels),
    platforms,
    noCache: inputs.noCache,
    noCacheFilters: listItems(inputs.noCacheFilters, ","),
    namedContexts: (inputs.buildContexts ?? []).map((item) => namedContext(item, names.buildContexts, cwd)),
    addHosts: listItems(inputs.addHosts ?? [], ",").map((item) => hostEntry(item, names.addHosts)),
    network: networkMode(inputs.network, names.network),
    shmSizeBytes: inputs.shmSize?.trim() ? parseByteSize(inputs.shmSize.trim(), names.shmSize) : undefined,
    ulimits: listItems(inputs.ulimits ?? [], /[\s,]+/).map((item) => ulimit(item, names.ulimits)),
    pull: inputs.pull ?? false,
  };
}

/** Sources the dockerfile frontend resolves itself (`context:NAME=…`), by prefix. */
const REMOTE_CONTEXT = /^(docker-image:\/\/|https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

/** NAME=VALUE: a local directory, or an image, URL or Git repository, as buildx takes them. */
function namedContext(item: string, name: string, cwd: string): NamedContext {
  const equals = item.indexOf("=");
  const contextName = item.slice(0, Math.max(equals, 0)).trim();
  const value = item.slice(equals + 1).trim();
  if (equals < 0 || contextName === "" || value === "") {
    throw new InputError(
      `${name} "${item}" is not NAME=VALUE; write it as name=./dir or name=docker-image://image.`,
    );
  }
  if (REMOTE_CONTEXT.test(value)) return { name: contextName, kind: "source", source: value };
  if (value.startsWith("oci-layout://") || value.startsWith("target:")) {
    throw new InputError(
      `${name} "${item}" uses a form we do not support yet; use a directory, docker-image://, a Git or an HTTPS URL.`,
    );
  }
  const dir = resolve(cwd, value);
  requireKind(dir, "directory", `${name} "${item}": the directory "${value}"`);
  return { name: contextName, kind: "local", dir };
}

/** host:ip or host=ip (docker's two spellings) into the frontend's host=ip. */
function hostEntry(item: string, name: string): string {
  const separator = item.includes("=") ? "=" : ":";
  const at = item.indexOf(separator);
  const host = item.slice(0, Math.max(at, 0));
  const ip = item.slice(at + 1).replace(/^\[(.*)\]$/, "$1");
  if (at <= 0 || !isIP(ip)) {
    throw new InputError(`${name} "${item}" is not HOST:IP; write it as example.test:10.0.0.1.`);
  }
  return `${host}=${ip}`;
}

function networkMode(value: string | undefined, name: string): BuildPlan["network"] {
  const mode = value?.trim() || "default";
  if (mode === "default" || mode === "none" || mode === "host") return mode;
  throw new InputError(`${name} "${mode}" is not a network mode BuildKit has; use default, none or host.`);
}

const ULIMIT = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/;
const ULIMIT_NAMES = new Set([
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
]);

function ulimit(item: string, name: string): string {
  const match = ULIMIT.exec(item);
  if (!match || !ULIMIT_NAMES.has(match[1]!)) {
    throw new InputError(
      `${name} "${item}" is not a ulimit; write it as nofile=1024:2048 with a name such as nofile or nproc.`,
    );
  }
  if (match[3] !== undefined && Number(match[3]) !== -1 && Number(match[2]) > Number(match[3])) {
    throw new InputError(`${name} "${item}" has a soft limit above its hard limit.`);
  }
  return item;
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

/** The dockerfile.v0 frontend's attributes for a plan. */
export function frontendAttrs(plan: BuildPlan): Record<string, string> {
  const attrs: Record<string, string> = { filename: plan.dockerfileName };
  if (plan.target) attrs.target = plan.target;
  for (const [key, value] of Object.entries(plan.buildArgs)) attrs[`build-arg:${key}`] = value;
  for (const [key, value] of Object.entries(plan.labels)) attrs[`label:${key}`] = value;
  if (plan.platforms.length > 0) attrs.platform = plan.platforms.map(formatPlatform).join(",");
  if (plan.noCache) attrs["no-cache"] = "";
  else if (plan.noCacheFilters.length > 0) attrs["no-cache"] = plan.noCacheFilters.join(",");
  for (const context of plan.namedContexts) {
    attrs[`context:${context.name}`] =
      context.kind === "local" ? `local:${localDirName(context.name)}` : context.source;
  }
  if (plan.addHosts.length > 0) attrs["add-hosts"] = plan.addHosts.join(",");
  if (plan.network === "none" || plan.network === "host") attrs["force-network-mode"] = plan.network;
  if (plan.shmSizeBytes !== undefined) attrs["shm-size"] = String(plan.shmSizeBytes);
  if (plan.ulimits.length > 0) attrs.ulimit = plan.ulimits.join(",");
  if (plan.pull) attrs["image-resolve-mode"] = "pull";
  return attrs;
}

/** The session's directory names for a plan: the context, the Dockerfile's dir, named contexts. */
export function localDirs(plan: BuildPlan): Record<string, string> {
  const dirs: Record<string, string> = { context: plan.contextDir, dockerfile: plan.dockerfileDir };
  for (const context of plan.namedContexts) {
    if (context.kind === "local") dirs[localDirName(context.name)] = context.dir;
  }
  return dirs;
}

/** A named context called "context" or "dockerfile" must not shadow the main two (buildx does the same). */
function localDirName(name: string): string {
  return name === "context" || name === "dockerfile" ? `_${name}` : name;
}

/** Entitlements the plan needs from the runner: host networking is one. */
export function entitlements(plan: BuildPlan): string[] {
  return plan.network === "host" ? ["network.host"] : [];
}
