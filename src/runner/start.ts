// A pinned runner started on this machine when none is given: buildkitd of the pinned version
// from PATH, the cache dir, or a verified download of BuildKit's release tarball; run as root on
// a unix socket with its state (the build cache) in a directory we can save and restore.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { basename, delimiter, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { promisify } from "node:util";
import { BuildkitClient } from "../buildkit/client.js";
import { parseEndpoint, type Endpoint } from "../buildkit/endpoint.js";
import { BuildkitError } from "../buildkit/errors.js";
import { InputError } from "../errors.js";
import { boundedSignal } from "../deadline.js";
import type { Reporter } from "../report/reporter.js";
import semver from "semver";
import type { VersionPin } from "./version-pin.js";
import {
  asRoot,
  isAlive,
  requireRootAccess,
  signalProcess,
  type RootAccess,
  type RootCommand,
} from "./privilege.js";
import { BUILDKIT_VERSION } from "../version.js";

const execFileAsync = promisify(execFile);

/** The version started when the pin allows it (the one the tests run against). */
export const DEFAULT_BUILDKIT_VERSION = BUILDKIT_VERSION;

/** BuildKit's GitHub release assets; {version} has no leading v, {arch} is amd64, arm64, arm-v7... */
export const DEFAULT_RELEASE_URL =
  "https://github.com/moby/buildkit/releases/download/v{version}/buildkit-v{version}.linux-{arch}.tar.gz";

/**
 * Where a mirror's expected sha256 is read when none is given: a sha256sum-style file next to the
 * tarball. BuildKit's own releases publish none; their sha256 comes from GitHub's API instead.
 */
export const DEFAULT_CHECKSUM_URL = "{url}.sha256";

/** GitHub's REST API, which lists each release asset's sha256 (its `digest`). */
export const DEFAULT_GITHUB_API_URL = "https://api.github.com";

export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_START_TIMEOUT_MS = 60_000;
/** buildkitd unmounts its snapshots on SIGTERM; give it that long before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 15_000;

/** Starting, downloading or stopping a local runner failed; the message is one sentence. */
export class RunnerStartError extends BuildkitError {
  override name = "RunnerStartError";
}

/** The architecture as BuildKit's release file names spell it. */
export function releaseArch(nodeArch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm-v7",
    s390x: "s390x",
    ppc64: "ppc64le",
    riscv64: "riscv64",
  };
  const arch = names[nodeArch];
  if (!arch) throw new RunnerStartError(`BuildKit publishes no release for the ${nodeArch} architecture.`);
  return arch;
}

/**
 * The exact version to start for a pin: the pin itself when it is one version, else our default
 * when the range allows it. A range that excludes the default cannot be started.
 */
export function versionToStart(pin: VersionPin | undefined, name: string): string {
  if (!pin) return DEFAULT_BUILDKIT_VERSION;
  const exact = semver.valid(semver.clean(pin.text, { loose: true }) ?? "", { loose: true });
  if (exact) return exact;
  if (semver.satisfies(DEFAULT_BUILDKIT_VERSION, pin.range, { includePrerelease: true })) {
    return DEFAULT_BUILDKIT_VERSION;
  }
  throw new InputError(
    `${name} is the range "${pin.text}", which excludes v${DEFAULT_BUILDKIT_VERSION}; give one exact version to start a runner.`,
  );
}

export function releaseUrl(pattern: string, version: string, arch: string): string {
  return pattern.replaceAll("{version}", version.replace(/^v/, "")).replaceAll("{arch}", arch);
}

/** $REMOTE_BUILDKIT_CACHE, else $XDG_CACHE_HOME/remote-buildkit, else ~/.cache/remote-buildkit. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REMOTE_BUILDKIT_CACHE) return env.REMOTE_BUILDKIT_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "remote-buildkit");
}

/**
 * Where released binaries are kept between runs. The CLI uses DirToolStore; the GitHub adapter
 * can implement this with @actions/tool-cache (find, downloadTool, cacheDir).
 */
export interface ToolStore {
  /** The directory holding bin/buildkitd of this version, when already kept. */
  find(version: string, arch: string): Promise<string | undefined>;
  /** Downloads url to a new file and returns its path; throws DownloadError, honours the signal. */
  download(url: string, signal: AbortSignal): Promise<string>;
  /** A new empty directory to extract into, on the same file system as the store. */
  scratchDir(): Promise<string>;
  /** Keeps an extracted release (a directory with bin/buildkitd); returns where it now is. */
  keep(extracted: string, version: string, arch: string): Promise<string>;
}

/** An HTTP download failed: status is set for an answer that was not 200. */
export class DownloadError extends RunnerStartError {
  override name = "DownloadError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * The cache dir layout of the test harness: ROOT/buildkit-vVERSION/bin/buildkitd. The cache is
 * per machine, so the architecture is not part of the path.
 */
export class DirToolStore implements ToolStore {
  constructor(readonly root: string = defaultCacheRoot()) {}

  async find(version: string): Promise<string | undefined> {
    const dir = this.versionDir(version);
    return existsSync(join(dir, "bin", "buildkitd")) ? dir : undefined;
  }

  async download(url: string, signal: AbortSignal): Promise<string> {
    await mkdir(this.root, { recursive: true });
    const file = join(this.root, `.download-${randomBytes(6).toString("hex")}`);
    try {
      await fetchToFile(url, file, signal);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    return file;
  }

  async scratchDir(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    return mkdtemp(join(this.root, ".extract-"));
  }

  async keep(extracted: string, version: string): Promise<string> {
    const dir = this.versionDir(version);
    await rm(dir, { recursive: true, force: true });
    await rename(extracted, dir);
    return dir;
  }

  private versionDir(version: string): string {
    return join(this.root, `buildkit-v${version.replace(/^v/, "")}`);
  }
}

/** GET url into file with node's fetch, within the signal. */
export async function fetchToFile(url: string, file: string, signal: AbortSignal): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: "follow" });
  } catch (error) {
    throw downloadFailure(url, error, signal);
  }
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw new DownloadError(`Downloading ${url} failed: HTTP ${response.status}.`, response.status);
  }
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream), createWriteStream(file), { signal });
  } catch (error) {
    throw downloadFailure(url, error, signal);
  }
}

function downloadFailure(url: string, error: unknown, signal: AbortSignal): DownloadError {
  if (signal.aborted) {
    const reason = signal.reason as Error | undefined;
    if (reason?.name === "TimeoutError") return new DownloadError(`Downloading ${url} timed out.`);
    return new DownloadError(`Downloading ${url} was cancelled.`);
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new DownloadError(`Downloading ${url} failed: ${detail}.`);
}

export interface EnsureBuildkitdOptions {
  /** Exact version, with or without the leading v. */
  version: string;
  arch?: string;
  /** Release URL pattern with {version} and {arch}; default BuildKit's GitHub releases. */
  urlPattern?: string;
  /** The tarball's expected sha256 (hex). When absent it is read from checksumUrlPattern. */
  sha256?: string;
  /** Pattern with {url} (the tarball's URL), {version} and {arch}; default "{url}.sha256". */
  checksumUrlPattern?: string;
  /**
   * Where the sha256 of a download from BuildKit's GitHub releases (the default URL) is read when
   * none is given: GitHub's API lists each release asset's digest. The token, when given, lifts
   * the API's rate limit for anonymous callers (runners share addresses).
   */
  githubApi?: { url?: string; token?: string };
  /** Bound on each download; default 5 minutes. */
  downloadTimeoutMs?: number;
  /** Look on PATH first; default true. */
  searchPath?: boolean;
  env?: NodeJS.ProcessEnv;
  store: ToolStore;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface FoundBuildkitd {
  /** The buildkitd executable. */
  path: string;
  /** Its directory, put first on buildkitd's PATH (a release ships buildkit-runc and helpers beside it). */
  binDir: string;
  source: "path" | "cache" | "download";
}

/** Finds buildkitd of `version` on PATH or in the store, else downloads, verifies and keeps it. */
export async function ensureBuildkitd(options: EnsureBuildkitdOptions): Promise<FoundBuildkitd> {
  const version = options.version.replace(/^v/, "");
  const arch = options.arch ?? releaseArch();
  const { reporter } = options;
  if (options.searchPath ?? true) {
    for (const dir of (options.env?.PATH ?? process.env.PATH ?? "").split(delimiter)) {
      const path = join(dir, "buildkitd");
      if (dir !== "" && (await reportsVersion(path, version, options.signal))) {
        reporter.info(`Using buildkitd v${version} from PATH: ${path}.`);
        return { path, binDir: dir, source: "path" };
      }
    }
  }
  const cached = await options.store.find(version, arch);
  if (cached !== undefined) {
    const path = join(cached, "bin", "buildkitd");
    if (await reportsVersion(path, version, options.signal)) {
      reporter.info(`Using buildkitd v${version} from the cache: ${path}.`);
      return { path, binDir: join(cached, "bin"), source: "cache" };
    }
    reporter.warning(`The cached ${path} is not buildkitd v${version}; downloading it again.`);
  }
  const dir = await downloadRelease(options, version, arch);
  return { path: join(dir, "bin", "buildkitd"), binDir: join(dir, "bin"), source: "download" };
}

/** True when `path` is an executable buildkitd that says it is `version`. */
async function reportsVersion(path: string, version: string, signal?: AbortSignal): Promise<boolean> {
  if (!existsSync(path)) return false;
  try {
    const { stdout } = await execFileAsync(path, ["--version"], { timeout: 10_000, signal });
    // "buildkitd github.com/moby/buildkit vVERSION <revision>"
    return stdout.split(/\s+/).includes(`v${version}`);
  } catch {
    return false;
  }
}

async function downloadRelease(
  options: EnsureBuildkitdOptions,
  version: string,
  arch: string,
): Promise<string> {
  const url = releaseUrl(options.urlPattern ?? DEFAULT_RELEASE_URL, version, arch);
  const timeoutMs = options.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  // Each bounded step gets its own deadline; every timer is cleared when the download ends.
  const deadlines: Array<() => void> = [];
  const bounded = () => {
    const deadline = boundedSignal(timeoutMs, options.signal);
    deadlines.push(deadline.clear);
    return deadline.signal;
  };
  try {
    return await downloadWithin(options, url, version, arch, timeoutMs, bounded);
  } finally {
    for (const clear of deadlines) clear();
  }
}

async function downloadWithin(
  options: EnsureBuildkitdOptions,
  url: string,
  version: string,
  arch: string,
  timeoutMs: number,
  bounded: () => AbortSignal,
): Promise<string> {
  const { store, reporter } = options;
  reporter.info(`Downloading BuildKit v${version} from ${url}.`);
  let tarball: string;
  try {
    tarball = await store.download(url, bounded());
  } catch (error) {
    throw explainDownload(error, version, url, timeoutMs);
  }
  let scratch: string | undefined;
  try {
    const expected = options.sha256
      ? parseSha256(options.sha256, "the given sha256")
      : fromGitHubRelease(options)
        ? await readGitHubDigest(options, url, version, bounded(), timeoutMs)
        : await readPublishedChecksum(options, url, version, arch, bounded(), timeoutMs);
    const actual = await sha256File(tarball);
    if (actual !== expected) {
      throw new RunnerStartError(
        `The download of ${url} has sha256 ${actual}, but ${expected} was expected; it was not used.`,
      );
    }
    scratch = await store.scratchDir();
    await extractRelease(tarball, scratch, url, bounded());
    const kept = await store.keep(scratch, version, arch);
    scratch = undefined;
    reporter.info(`BuildKit v${version} verified (sha256 ${actual}) and kept in ${kept}.`);
    return kept;
  } finally {
    await rm(tarball, { force: true });
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

function explainDownload(error: unknown, version: string, url: string, timeoutMs: number): Error {
  if (!(error instanceof DownloadError)) return error as Error;
  if (error.status === 404) {
    return new DownloadError(
      `BuildKit v${version} is not at ${url} (HTTP 404): no such release, or the mirror does not have it.`,
      404,
    );
  }
  if (/timed out\.$/.test(error.message)) {
    return new DownloadError(
      `Downloading BuildKit v${version} from ${url} did not finish within ${timeoutMs / 1000} s.`,
    );
  }
  return error;
}

/** The download is BuildKit's GitHub release (or the caller names the API to ask), and no mirror checksum is set. */
function fromGitHubRelease(options: EnsureBuildkitdOptions): boolean {
  if (options.checksumUrlPattern !== undefined) return false;
  const pattern = options.urlPattern ?? DEFAULT_RELEASE_URL;
  return pattern === DEFAULT_RELEASE_URL || options.githubApi?.url !== undefined;
}

/** The asset's sha256 as GitHub lists it: GET /repos/moby/buildkit/releases/tags/vVERSION, assets[].digest. */
async function readGitHubDigest(
  options: EnsureBuildkitdOptions,
  url: string,
  version: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<string> {
  const apiUrl = `${(options.githubApi?.url ?? DEFAULT_GITHUB_API_URL).replace(/\/$/, "")}/repos/moby/buildkit/releases/tags/v${version}`;
  const name = basename(new URL(url).pathname);
  const headers: Record<string, string> = {
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
    "user-agent": "remote-buildkit",
  };
  if (options.githubApi?.token) headers.authorization = `Bearer ${options.githubApi.token}`;
  const text = await fetchText(apiUrl, { signal, headers }, version, timeoutMs, (status) => {
    const why =
      status === 403 || status === 429
        ? "it limits callers without a token: give a token, or the expected sha256"
        : "give the expected sha256 instead";
    return `GitHub's API did not list the sha256 of ${name} (${apiUrl}: HTTP ${status}); ${why}.`;
  });
  let release: { assets?: { name?: string; digest?: string | null }[] };
  try {
    release = JSON.parse(text) as typeof release;
  } catch {
    throw new RunnerStartError(`GitHub's API answered ${apiUrl} with something that is not JSON.`);
  }
  const digest = release.assets?.find((asset) => asset.name === name)?.digest;
  if (typeof digest !== "string" || !digest.startsWith("sha256:")) {
    throw new RunnerStartError(
      `GitHub lists no sha256 for ${name} in BuildKit's v${version} release; give the expected sha256 instead.`,
    );
  }
  return parseSha256(digest, `GitHub's digest of ${name}`);
}

/**
 * GETs `url` (following redirects) and returns its body. Another status than 200 is a
 * RunnerStartError saying `refusal(status)`; a fetch that fails or times out is a DownloadError.
 */
async function fetchText(
  url: string,
  init: { signal: AbortSignal; headers?: Record<string, string> },
  version: string,
  timeoutMs: number,
  refusal: (status: number) => string,
): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: "follow" });
    if (response.status === 200) return await response.text();
  } catch (error) {
    throw explainDownload(downloadFailure(url, error, init.signal), version, url, timeoutMs);
  }
  await response.body?.cancel().catch(() => undefined);
  throw new RunnerStartError(refusal(response.status));
}

/** Reads a sha256sum-style file ("HEX  NAME" lines, or one bare HEX) and picks the tarball's line. */
async function readPublishedChecksum(
  options: EnsureBuildkitdOptions,
  url: string,
  version: string,
  arch: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<string> {
  const checksumUrl = releaseUrl(
    (options.checksumUrlPattern ?? DEFAULT_CHECKSUM_URL).replaceAll("{url}", url),
    version,
    arch,
  );
  const text = await fetchText(
    checksumUrl,
    { signal },
    version,
    timeoutMs,
    (status) =>
      `There is no checksum for ${url} at ${checksumUrl} (HTTP ${status}); give the expected sha256 instead.`,
  );
  const name = basename(new URL(url).pathname);
  for (const line of text.split("\n")) {
    const [hash, file] = line.trim().split(/\s+\*?/);
    if (hash && (file === undefined || file.replace(/^\*/, "") === name)) {
      return parseSha256(hash, checksumUrl);
    }
  }
  throw new RunnerStartError(`The checksum file ${checksumUrl} has no sha256 for ${name}.`);
}

function parseSha256(value: string, source: string): string {
  const hex = value
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, "");
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new InputError(`${source} is "${value}", which is not a sha256 in hex.`);
  return hex;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/** Unpacks the release (bin/buildkitd, bin/buildctl, helpers) with the system tar. */
async function extractRelease(tarball: string, dir: string, url: string, signal: AbortSignal): Promise<void> {
  try {
    await execFileAsync("tar", ["-xzf", tarball, "-C", dir, "--no-same-owner"], { signal });
  } catch (error) {
    const detail = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
    throw new RunnerStartError(`The download of ${url} is not a gzipped tarball: ${lastLine(detail)}.`);
  }
  if (!existsSync(join(dir, "bin", "buildkitd"))) {
    throw new RunnerStartError(`The download of ${url} has no bin/buildkitd in it.`);
  }
}

export interface StartBuildkitdOptions {
  buildkitd: FoundBuildkitd | string;
  /** buildkitd's --root: its state, the build cache. Created when missing. */
  stateDir: string;
  /** Extra buildkitd flags (--oci-worker-platform, --config...). */
  args?: string[];
  startTimeoutMs?: number;
  /**
   * Let this process exit while buildkitd runs on (the action's main step; the post step stops
   * it by pid). Otherwise the handle keeps node alive until stop().
   */
  detached?: boolean;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface StartedRunner {
  /** unix:///.../buildkitd.sock */
  endpoint: Endpoint;
  pid: number;
  stateDir: string;
  /** The socket and the log live here; removed by stop(). */
  runtimeDir: string;
  logFile: string;
  /** SIGTERM, then SIGKILL after the grace period; removes the socket. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts buildkitd as root (directly, through sudo, or rootless in rootlesskit's user namespace)
 * on a unix socket and waits until our client gets an answer from it.
 */
export async function startBuildkitd(options: StartBuildkitdOptions): Promise<StartedRunner> {
  const access = await requireRootAccess();
  const found: FoundBuildkitd =
    typeof options.buildkitd === "string"
      ? { path: options.buildkitd, binDir: join(options.buildkitd, ".."), source: "path" }
      : options.buildkitd;
  await mkdir(options.stateDir, { recursive: true });
  // The socket path must stay under 108 bytes, so it lives in a short temporary dir of its own.
  const runtimeDir = await mkdtemp(join(tmpdir(), "rb-buildkitd-"));
  const logFile = join(runtimeDir, "buildkitd.log");
  const log = await open(logFile, "a");
  let child: ChildProcess;
  let spawned: Promise<void>;
  try {
    const command = buildkitdCommand(access, found, options.stateDir, runtimeDir, options.args ?? []);
    child = spawn(command.file, command.args, {
      // Its own process group: a Ctrl-C meant for us must not kill it before we stop it cleanly.
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
      env: command.env,
    });
    // Listen before any await: "spawn" fires on a later tick and would be missed.
    spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
  } finally {
    await log.close();
  }
  try {
    await spawned;
  } catch (error) {
    await rm(runtimeDir, { recursive: true, force: true });
    throw new RunnerStartError(`buildkitd at ${found.path} cannot be started: ${(error as Error).message}.`);
  }
  if (options.detached) child.unref();
  const endpoint = parseEndpoint(`unix://${join(runtimeDir, "buildkitd.sock")}`);
  let stopped: Promise<void> | undefined;
  const runner: StartedRunner = {
    endpoint,
    pid: child.pid!,
    stateDir: options.stateDir,
    runtimeDir,
    logFile,
    stop: (graceMs = DEFAULT_STOP_GRACE_MS) => {
      stopped ??= (async () => {
        // Through sudo our child is sudo, which cannot pass on a SIGKILL: stop buildkitd itself.
        const pid = access === "sudo" ? readPid(runtimeDir) : undefined;
        if (pid !== undefined) await stopProcessById(pid, graceMs);
        await stopChild(child, graceMs);
      })().finally(() => rm(runtimeDir, { recursive: true, force: true }));
      return stopped;
    },
  };
  try {
    await waitUntilAnswering(
      runner,
      child,
      options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      options.signal,
    );
  } catch (error) {
    const tail = logTail(logFile);
    await runner.stop(5_000);
    if (error instanceof RunnerStartError && tail) {
      throw new RunnerStartError(`${error.message.replace(/\.$/, "")}: ${tail}.`);
    }
    throw error;
  }
  if (access === "sudo") runner.pid = readPid(runtimeDir) ?? runner.pid;
  options.reporter.info(
    `Started buildkitd${HOW_STARTED[access]} (pid ${runner.pid}) on ${endpoint.address} with state in ${options.stateDir}.`,
  );
  return runner;
}

const HOW_STARTED: Record<RootAccess, string> = {
  root: "",
  sudo: " through sudo",
  rootless: " rootless (rootlesskit)",
};

/** Variables buildkitd needs that sudo would drop: the proxies its pulls and pushes go through. */
const PASSED_THROUGH_SUDO = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

function buildkitdCommand(
  access: RootAccess,
  found: FoundBuildkitd,
  stateDir: string,
  runtimeDir: string,
  extraArgs: string[],
): RootCommand {
  const args = [
    "--root",
    stateDir,
    "--addr",
    `unix://${join(runtimeDir, "buildkitd.sock")}`,
    // Its own trace socket: the default /run/buildkit/otel-grpc.sock is removed and re-bound by
    // every buildkitd, so two on one machine (or one beside the system's) race for it.
    "--otel-socket-path",
    join(runtimeDir, "otel-grpc.sock"),
    "--oci-worker=true",
    "--containerd-worker=false",
  ];
  // The release's buildkit-runc is found on PATH.
  const env: Record<string, string> = { PATH: `${found.binDir}${delimiter}${process.env.PATH ?? ""}` };
  // runc keeps container state under $XDG_RUNTIME_DIR, else /run/runc, which is root's.
  if (access === "rootless") env.XDG_RUNTIME_DIR = runtimeDir;
  // As root, or as root of rootlesskit's user namespace (our own uid outside it), our child's pid
  // stops it and the socket is ours.
  if (access !== "sudo") return asRoot(access, found.path, [...args, ...extraArgs], env);
  for (const name of PASSED_THROUGH_SUDO) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  // The socket's group is ours, so that we can connect without root. Through sudo our child is
  // sudo: a shell notes buildkitd's own pid (it execs into buildkitd) for stopping it later.
  args.push("--group", String(process.getgid?.() ?? 0));
  return asRoot(
    access,
    "/bin/sh",
    ["-c", 'echo $$ > "$0" && exec "$@"', join(runtimeDir, PID_FILE), found.path, ...args, ...extraArgs],
    env,
  );
}

const PID_FILE = "buildkitd.pid";

function readPid(runtimeDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(runtimeDir, PID_FILE), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntilAnswering(
  runner: StartedRunner,
  child: ChildProcess,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new RunnerStartError(`buildkitd exited during start (${child.exitCode ?? child.signalCode})`);
    }
    if (signal?.aborted) throw new RunnerStartError("Starting buildkitd was cancelled.");
    if (existsSync(join(runner.runtimeDir, "buildkitd.sock"))) {
      const client = new BuildkitClient({ endpoint: runner.endpoint, tls: {}, connectTimeoutMs: 2_000 });
      try {
        const info = await client.probe(signal);
        if (info.workers.length > 0) return;
      } catch {
        // Not answering yet.
      } finally {
        client.close();
      }
    }
    if (Date.now() > deadline) {
      throw new RunnerStartError(
        `buildkitd did not answer on ${runner.endpoint.address} within ${timeoutMs / 1000} s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The last meaningful line of buildkitd's log, for the error sentence. */
function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, "utf8").trim().split("\n");
    const fatal = lines.reverse().find((line) => /level=(fatal|error)|^buildkitd:|error/i.test(line));
    return (fatal ?? lines[0] ?? "").trim().slice(0, 500);
  } catch {
    return "";
  }
}

function lastLine(text: string): string {
  return text.split("\n").pop()!.replace(/\.$/, "");
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const exited = () => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve();
    };
    child.once("exit", exited);
    const term = setTimeout(() => child.kill("SIGKILL"), graceMs);
    // After SIGKILL the exit is immediate; this only guards against an unkillable process.
    const kill = setTimeout(() => {
      child.off("exit", exited);
      resolve();
    }, graceMs + 10_000);
    child.kill("SIGTERM");
  });
}

/**
 * Stops a buildkitd this program started in an earlier process (the action's post step): SIGTERM,
 * then SIGKILL after the grace period. Resolves once the pid is gone.
 */
export async function stopProcessById(pid: number, graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<void> {
  if (!(await signalProcess(pid, "SIGTERM"))) return;
  if (await waitForExit(pid, graceMs)) return;
  await signalProcess(pid, "SIGKILL");
  if (!(await waitForExit(pid, 10_000))) {
    throw new RunnerStartError(`buildkitd (pid ${pid}) did not exit after SIGKILL.`);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isAlive(pid);
}
