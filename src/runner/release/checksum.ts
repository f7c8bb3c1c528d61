// The sha256 a downloaded release must have: given, listed by GitHub's API for BuildKit's own
// releases, or read from a mirror's sha256sum-style file.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { pipeline } from "node:stream/promises";
import { InputError } from "../../errors.js";
import { RunnerStartError } from "../errors.js";
import { downloadFailure, explainDownload } from "./download.js";
import { DEFAULT_RELEASE_URL, releaseUrl } from "./versions.js";

/**
 * Where a mirror's expected sha256 is read when none is given: a sha256sum-style file next to the
 * tarball. BuildKit's own releases publish none; their sha256 comes from GitHub's API instead.
 */
export const DEFAULT_CHECKSUM_URL = "{url}.sha256";

/** GitHub's REST API, which lists each release asset's sha256 (its `digest`). */
export const DEFAULT_GITHUB_API_URL = "https://api.github.com";

/** Where the expected sha256 of a release download comes from. */
export interface ChecksumOptions {
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
}

/** The download is BuildKit's GitHub release (or the caller names the API to ask), and no mirror checksum is set. */
export function fromGitHubRelease(options: ChecksumOptions): boolean {
  if (options.checksumUrlPattern !== undefined) return false;
  const pattern = options.urlPattern ?? DEFAULT_RELEASE_URL;
  return pattern === DEFAULT_RELEASE_URL || options.githubApi?.url !== undefined;
}

/** The asset's sha256 as GitHub lists it: GET /repos/moby/buildkit/releases/tags/vVERSION, assets[].digest. */
export async function readGitHubDigest(
  options: ChecksumOptions,
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
export async function readPublishedChecksum(
  options: ChecksumOptions,
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

/**
 * A sha256 in hex (with or without "sha256:"). One the user gave that is not is an InputError;
 * one read from GitHub or a mirror fails the start instead.
 */
export function parseSha256(value: string, source: string, fromUser = false): string {
  const hex = value
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, "");
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new (fromUser ? InputError : RunnerStartError)(
      `${source} is "${value}", which is not a sha256 in hex.`,
    );
  return hex;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}
