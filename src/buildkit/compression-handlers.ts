// grpc-js's compression handlers (private classes of the version we bundle), reached for the two
// changes we make to them: framing without a copy (framing.ts) and gzip's level (gzip-channel.ts).
import type * as grpc from "@grpc/grpc-js";
import { CompressionFilter } from "@grpc/grpc-js/build/src/compression-filter.js";

/**
 * The prototype of the handler a call made with `options` compresses its messages with (shared by
 * every such call of the process), and its algorithm's name; undefined where grpc-js has no such
 * filter field (another version).
 */
export function sendCompressionHandler(
  options: grpc.ChannelOptions,
): { algorithm: string | undefined; prototype: object } | undefined {
  const filter = new CompressionFilter(options, {}) as unknown as {
    sendCompression?: object;
    currentCompressionAlgorithm?: string;
  };
  if (typeof filter.sendCompression !== "object") return undefined;
  return {
    algorithm: filter.currentCompressionAlgorithm,
    prototype: Object.getPrototypeOf(filter.sendCompression) as object,
  };
}
