// buildkitd of an exact version: from PATH, from the tool store, or downloaded, verified,
// extracted and kept there.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { boundedSignal } from "../../deadline.js";
import type { Reporter } from "../../report/reporter.js";
import { RunnerStartError } from "../errors.js";
import {
  fromGitHubRelease,
  parseSha256,
  readGitHubDigest,
  readPublishedChecksum,
  sha256File,
  type ChecksumOptions,
} from "./checksum.js";
import { DEFAULT_DOWNLOAD_TIMEOUT_MS, explainDownload } from "./download.js";
import type { ToolStore } from "./tool-store.js";
import { DEFAULT_RELEASE_URL, releaseArch, releaseUrl } from "./versions.js";

const execFileAsync = promisify(execFile);

export interface EnsureBuildkitdOptions extends ChecksumOptions {
  /** Exact version, with or without the leading v. */
  version: string;
  arch?: string;
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
      ? parseSha256(options.sha256, "the given sha256", true)
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

function lastLine(text: string): string {
  return text.split("\n").pop()!.replace(/\.$/, "");
}
