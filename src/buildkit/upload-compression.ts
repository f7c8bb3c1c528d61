// Whether the session's upload is gzip-compressed. buildkitd accepts gzip (not deflate) on its
// gRPC server; buildctl never compresses. Compression pays when the link is slower than one core
// compresses: gzip at zlib's default level does about 60 MB/s (near 500 Mbit/s) per core for a
// source tree, which shrinks about 4× (grpc/gzip-level.ts picks a faster level when that is short). Loopback, a unix socket and a local network are faster than
// that, so there it only costs CPU (and makes the runner gzip its replies on the session too).
// "auto" never compresses for a unix socket or loopback, and otherwise tells a local network from a
// wide-area link by the round trip of the quickest call while probing the runner: a LAN answers
// within a millisecond or two, a path across the internet takes 5 ms and more.
import { isLoopbackHost, type Endpoint } from "./endpoint.js";

export const UPLOAD_COMPRESSION_MODES = ["auto", "on", "off"] as const;
export type UploadCompressionMode = (typeof UPLOAD_COMPRESSION_MODES)[number];

/** Round trips from here up are a wide-area link, where gzip pays. */
export const WAN_ROUND_TRIP_MS = 5;

export interface UploadCompressionChoice {
  compress: boolean;
  /** Why, for the log: "on (upload-compression=on)" and the like come from the caller. */
  reason: string;
}

export function chooseUploadCompression(
  mode: UploadCompressionMode,
  endpoint: Endpoint,
  roundTripMs: number | undefined,
): UploadCompressionChoice {
  if (mode === "on") return { compress: true, reason: "asked for" };
  if (mode === "off") return { compress: false, reason: "turned off" };
  if (endpoint.kind === "unix") return { compress: false, reason: "a unix socket" };
  if (endpoint.kind === "tcp" && isLoopbackHost(endpoint.host))
    return { compress: false, reason: "loopback" };
  if (roundTripMs === undefined) return { compress: false, reason: "no round trip measured" };
  const measured = `the runner's round trip is ${roundTripMs.toFixed(1)} ms`;
  return roundTripMs >= WAN_ROUND_TRIP_MS
    ? { compress: true, reason: `${measured}, a wide-area link` }
    : { compress: false, reason: `${measured}, a local link` };
}
