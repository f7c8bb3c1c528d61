// The build part of a job: the context and the Dockerfile, found on this machine, with the rest of
// the build's inputs as the input table typed them. solve-request.ts maps it to the dockerfile.v0
// frontend's attributes; the parsers here are the table's, for the values only a build takes.
import { statSync } from "node:fs";
import { isIP } from "node:net";
import { basename, dirname, resolve } from "node:path";
import { gitContextAttrs, GitContextError, isGitUrl, type Platform } from "../buildkit/index.js";
import { InputError } from "../errors.js";
import { gitContext, type ContextInput, type GitContext } from "./git-context.js";
import type { LocalVcs } from "./local-git.js";

export type NetworkMode = "default" | "none" | "host";

export interface BuildPlan {
  /** The context directory on this machine; empty for a Git context. */
  contextDir: string;
  /** The Dockerfile's directory on this machine; empty for a Git context. */
  dockerfileDir: string;
  /** The Dockerfile's name in its directory, or its path in a Git context (relative to its subdir). */
  dockerfileName: string;
  /** A Git context, which the runner fetches: nothing of this machine is uploaded for it. */
  git?: GitContext;
  /** A local context's Git work tree, for provenance (local-git.ts); absent outside one. */
  vcs?: LocalVcs;
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
  network: NetworkMode;
  shmSizeBytes?: number;
  /** name=soft[:hard], the frontend's syntax. */
  ulimits: string[];
  pull: boolean;
  /** Entitlements asked of the runner (buildx's --allow): network.host, security.insecure. */
  allow: Entitlement[];
  /** The parent cgroup of RUN steps' containers. */
  cgroupParent?: string;
}

export type Entitlement = "network.host" | "security.insecure";

export type NamedContext =
  { name: string; kind: "local"; dir: string } | { name: string; kind: "source"; source: string };

/** The build's inputs as the input table types them; the context and the Dockerfile are paths. */
export type BuildInputs = Omit<
  BuildPlan,
  "contextDir" | "dockerfileDir" | "dockerfileName" | "namedContexts"
> & {
  context: ContextInput;
  file?: string;
  buildContexts: NamedContext[];
};

/** Finds the context and the Dockerfile; `names` are the inputs as the user knows them. */
export function planBuild(
  inputs: BuildInputs,
  names: { context: string; file: string },
  cwd: string,
): BuildPlan {
  return { ...findSources(inputs, names, cwd), ...buildOptions(inputs) };
}

/** The context and the Dockerfile: on this machine, or in the Git repository the runner fetches. */
function findSources(
  inputs: BuildInputs,
  names: { context: string; file: string },
  cwd: string,
): Pick<BuildPlan, "contextDir" | "dockerfileDir" | "dockerfileName" | "git"> {
  if (inputs.context.kind === "git") {
    // The Dockerfile is a path in the repository (relative to #ref:subdir), as the frontend reads it.
    const name = inputs.file?.trim().replace(/^\.\//, "") || "Dockerfile";
    if (name.startsWith("/") || name.split("/").includes("..")) {
      throw new InputError(
        `${names.file} "${inputs.file}" must be a path inside the Git context, such as docker/Dockerfile.`,
      );
    }
    refuseCredentialsInUrl(inputs.context.url, names.context);
    return { contextDir: "", dockerfileDir: "", dockerfileName: name, git: gitContext(inputs.context.url) };
  }
  const given = inputs.context.path;
  const contextDir = resolve(cwd, given);
  requireKind(contextDir, "directory", `${names.context} "${given}"`);
  const file = inputs.file ? resolve(cwd, inputs.file) : defaultDockerfile(contextDir);
  requireKind(file, "file", inputs.file ? `${names.file} "${inputs.file}"` : `The Dockerfile "${file}"`);
  return { contextDir, dockerfileDir: dirname(file), dockerfileName: basename(file) };
}

function buildOptions(
  inputs: BuildInputs,
): Omit<BuildPlan, "contextDir" | "dockerfileDir" | "dockerfileName" | "git"> {
  return {
    target: inputs.target,
    buildArgs: inputs.buildArgs,
    labels: inputs.labels,
    platforms: inputs.platforms,
    noCache: inputs.noCache,
    noCacheFilters: inputs.noCacheFilters,
    namedContexts: inputs.buildContexts,
    addHosts: inputs.addHosts,
    network: inputs.network,
    shmSizeBytes: inputs.shmSizeBytes,
    ulimits: inputs.ulimits,
    pull: inputs.pull,
    allow: inputs.allow,
    cgroupParent: inputs.cgroupParent,
  };
}

/** Sources the dockerfile frontend resolves itself (`context:NAME=…`), by prefix. */
const REMOTE_CONTEXT = /^(docker-image:\/\/|https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

/** NAME=VALUE: a local directory, or an image, URL or Git repository, as buildx takes them. */
export function namedContext(item: string, name: string, cwd: string): NamedContext {
  const equals = item.indexOf("=");
  const contextName = item.slice(0, Math.max(equals, 0)).trim();
  const value = item.slice(equals + 1).trim();
  if (equals < 0 || contextName === "" || value === "") {
    throw new InputError(
      `${name} "${item}" is not NAME=VALUE; write it as name=./dir or name=docker-image://image.`,
    );
  }
  if (REMOTE_CONTEXT.test(value)) {
    if (isGitUrl(value)) refuseCredentialsInUrl(value, name);
    return { name: contextName, kind: "source", source: value };
  }
  if (value.startsWith("oci-layout://") || value.startsWith("target:")) {
    throw new InputError(
      `${name} "${item}" uses a form we do not support yet; use a directory, docker-image://, a Git or an HTTPS URL.`,
    );
  }
  const dir = resolve(cwd, value);
  requireKind(dir, "directory", `${name} "${item}": the directory "${value}"`);
  return { name: contextName, kind: "local", dir };
}

/** A Git URL with a token in it would be kept in the runner's build history: refused before the build. */
function refuseCredentialsInUrl(url: string, name: string): void {
  try {
    gitContextAttrs(url);
  } catch (error) {
    if (error instanceof GitContextError) throw new InputError(`${name}: ${error.message}`);
    throw error;
  }
}

/** host:ip or host=ip (docker's two spellings) into the frontend's host=ip. */
export function hostEntry(item: string, name: string): string {
  const separator = item.includes("=") ? "=" : ":";
  const at = item.indexOf(separator);
  const host = item.slice(0, Math.max(at, 0));
  const ip = item.slice(at + 1).replace(/^\[(.*)\]$/, "$1");
  if (at <= 0 || !isIP(ip)) {
    throw new InputError(`${name} "${item}" is not HOST:IP; write it as example.test:10.0.0.1.`);
  }
  return `${host}=${ip}`;
}

const ENTITLEMENTS: readonly Entitlement[] = ["network.host", "security.insecure"];

/** An entitlement as buildx's --allow takes it; the runner must allow it too (--allow-insecure-entitlement). */
export function entitlement(item: string, name: string): Entitlement {
  const value = item.trim() as Entitlement;
  if (ENTITLEMENTS.includes(value)) return value;
  throw new InputError(
    `${name} "${item}" is not an entitlement BuildKit grants; use network.host or security.insecure.`,
  );
}

export function networkMode(value: string | undefined, name: string): NetworkMode {
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

export function ulimit(item: string, name: string): string {
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

/** A named context called "context" or "dockerfile" must not shadow the main two (buildx does the same). */
export function localDirName(name: string): string {
  return name === "context" || name === "dockerfile" ? `_${name}` : name;
}
