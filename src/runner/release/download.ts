// HTTP downloads of a release and of its checksum, with a sentence for each way they fail.
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { RunnerStartError } from "../errors.js";

export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

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

export function downloadFailure(url: string, error: unknown, signal: AbortSignal): DownloadError {
  if (signal.aborted) {
    const reason = signal.reason as Error | undefined;
    if (reason?.name === "TimeoutError") return new DownloadError(`Downloading ${url} timed out.`);
    return new DownloadError(`Downloading ${url} was cancelled.`);
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new DownloadError(`Downloading ${url} failed: ${detail}.`);
}

export function explainDownload(error: unknown, version: string, url: string, timeoutMs: number): Error {
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
