// The build part of the inputs, validated once into a BuildPlan, and mapped to the dockerfile.v0
// frontend's attributes. Both adapters use this; error sentences use the names the user knows.
import { statSync } from "node:fs";
import { isIP } from "node:net";
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

const PLATFORM = /^([a-z0-9_-]+)\/([a-z0-9_-]+)(\/[a-z0-9_.-]+)?$/i;
// Go's operating systems and architectures, and the aliases containerd normalizes: a platform
// outside these would reach the runner only to fail there, or worse, build for nothing.
const KNOWN_OS = new Set(
  "aix android darwin dragonfly freebsd illumos ios js linux netbsd openbsd plan9 solaris wasip1 windows".split(
    " ",
  ),
);
const KNOWN_ARCH = new Set(
  "386 amd64 arm arm64 loong64 mips mips64 mips64le mipsle ppc64 ppc64le riscv64 s390x wasm x86_64 x86-64 aarch64 armhf armel i386".split(
    " ",
  ),
);

function checkPlatform(platform: string, name: string): void {
  const match = PLATFORM.exec(platform);
  if (!match) {
    throw new InputError(
      `${name} "${platform}" is not a platform; write it as os/arch[/variant], such as linux/arm64.`,
    );
  }
  const os = match[1]!.toLowerCase();
  const arch = match[2]!.toLowerCase();
  if (!KNOWN_OS.has(os))
    throw new InputError(`${name} "${platform}" names an unknown operating system "${os}".`);
  if (!KNOWN_ARCH.has(arch))
    throw new InputError(`${name} "${platform}" names an unknown architecture "${arch}".`);
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
  const platforms = commaList(inputs.platforms);
  for (const platform of platforms) checkPlatform(platform, names.platforms);
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
    namedContexts: (inputs.buildContexts ?? []).map((item) => namedContext(item, names.buildContexts, cwd)),
    addHosts: commaList(inputs.addHosts ?? []).map((item) => hostEntry(item, names.addHosts)),
    network: networkMode(inputs.network, names.network),
    shmSizeBytes: inputs.shmSize?.trim() ? byteSize(inputs.shmSize.trim(), names.shmSize) : undefined,
    ulimits: (inputs.ulimits ?? [])
      .flatMap((item) => item.split(/[\s,]+/))
      .filter(Boolean)
      .map((item) => ulimit(item, names.ulimits)),
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

const SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;

/** Sizes as docker reads them (64m, 1g, 512MiB): binary multiples, a bare number is bytes. */
function byteSize(value: string, name: string): number {
  const match = SIZE.exec(value);
  if (!match) throw new InputError(`${name} "${value}" is not a size; write it as 64m or 1g.`);
  const power = " kmgtp".indexOf((match[2] ?? " ").toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
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
