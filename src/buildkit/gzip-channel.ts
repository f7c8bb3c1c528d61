// A channel whose calls gzip the messages they send, on the connection of the build's channel.
// grpc-js sets compression per channel, and channels share a connection only when every channel
// option and the credentials are the same: a channel made with the gzip option dials a connection
// of its own, which costs a remote runner's session a TCP and a TLS handshake (two or three round
// trips before the daemon can read the context) and gives the build a second connection to lose.
import * as grpc from "@grpc/grpc-js";
import { gzip } from "node:zlib";
import { sendCompressionHandler } from "./compression-handlers.js";

/** The part of grpc-js's compression filter factory we set (a private class of the version we bundle). */
interface CompressionFilterFactory {
  options: grpc.ChannelOptions;
  sharedFilterConfig: object;
  createFilter: () => unknown;
}

const GZIP: grpc.ChannelOptions = {
  "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip,
};

/**
 * Made with the same target, credentials object and options as `channel`, the new channel shares
 * its connection; compression is then turned on in its compression filter's options only. Where
 * grpc-js has no such filter (another version), a channel of its own with the gzip option.
 */
export function gzipChannel(
  target: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
): grpc.Client {
  adaptGzipLevel();
  const shared = new grpc.Client(target, credentials, options);
  const factory = compressionFilterFactory(shared);
  if (factory !== undefined) {
    factory.options = { ...factory.options, ...GZIP };
    return shared;
  }
  shared.close();
  return new grpc.Client(target, credentials, { ...options, ...GZIP });
}

function compressionFilterFactory(client: grpc.Client): CompressionFilterFactory | undefined {
  const channel = client.getChannel() as unknown as {
    internalChannel?: { filterStackFactory?: { factories?: unknown[] } };
  };
  const factories = channel.internalChannel?.filterStackFactory?.factories ?? [];
  const found = factories.filter(
    (factory): factory is CompressionFilterFactory =>
      typeof factory === "object" &&
      factory !== null &&
      "options" in factory &&
      "sharedFilterConfig" in factory &&
      typeof (factory as { createFilter?: unknown }).createFilter === "function",
  );
  return found.length === 1 ? found[0] : undefined;
}

/**
 * zlib's levels for the session's gzip. grpc-js compresses each message at zlib's default (6) before
 * it sends it, one message after the other: 57 MB/s of a source tree on one core here, for 5.0x,
 * so that on a 100 Mbit/s link the upload waited for the compressor; level 1 does 158 MB/s for
 * 4.1x, but sends a fifth more over a slow link. The level follows what holds the upload up.
 */
const FASTEST_LEVEL = 1;
const DENSEST_LEVEL = 6;

/** Messages smaller than this say little about the compressor's speed. */
const MEASURED_MESSAGE_BYTES = 64 * 1024;

/**
 * Between two compressions the upload waits for the link (the previous message to be written):
 * while that wait is longer than compressing took, a denser level costs no time and sends less;
 * while it is much shorter (a quarter), the compressor is what the upload waits for, and a faster
 * level helps.
 */
export class AdaptiveGzipLevel {
  level = FASTEST_LEVEL;
  private lastEnd: number | undefined;
  private lastDuration = 0;

  /** The level for a message of `bytes` starting to compress at `now` (ms). */
  start(bytes: number, now: number): number {
    if (bytes >= MEASURED_MESSAGE_BYTES && this.lastEnd !== undefined && this.lastDuration > 0) {
      const waited = now - this.lastEnd;
      if (waited > this.lastDuration) this.level = Math.min(DENSEST_LEVEL, this.level + 1);
      else if (waited < this.lastDuration / 4) this.level = Math.max(FASTEST_LEVEL, this.level - 1);
    }
    return this.level;
  }

  /** Notes a compression of `bytes` that started at `started` and ended at `now` (ms). */
  end(bytes: number, started: number, now: number): void {
    if (bytes < MEASURED_MESSAGE_BYTES) return;
    this.lastEnd = now;
    this.lastDuration = now - started;
  }
}

/** The part of grpc-js's gzip handler we replace (a private class of the version we bundle). */
interface GzipHandler {
  compressMessage: (message: Buffer) => Promise<Buffer>;
}

let adaptiveGzip: boolean | undefined;

/**
 * Makes grpc-js's gzip choose its level with AdaptiveGzipLevel, once per process (the process's
 * compressed sessions share it); false, and nothing changed, where grpc-js has no such handler.
 */
export function adaptGzipLevel(): boolean {
  if (adaptiveGzip !== undefined) return adaptiveGzip;
  const found = sendCompressionHandler(GZIP);
  const handler = found?.algorithm === "gzip" ? (found.prototype as GzipHandler) : undefined;
  adaptiveGzip = handler !== undefined && Object.hasOwn(handler, "compressMessage");
  if (!adaptiveGzip) return false;
  const level = new AdaptiveGzipLevel();
  handler!.compressMessage = (message: Buffer) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      gzip(message, { level: level.start(message.length, started) }, (error, output) => {
        level.end(message.length, started, performance.now());
        if (error) reject(error);
        else resolve(output);
      });
    });
  return true;
}
