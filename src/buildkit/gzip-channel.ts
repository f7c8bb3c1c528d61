// A channel whose calls gzip the messages they send, on the connection of the build's channel.
// grpc-js sets compression per channel, and channels share a connection only when every channel
// option and the credentials are the same: a channel made with the gzip option dials a connection
// of its own, which costs a remote runner's session a TCP and a TLS handshake (two or three round
// trips before the daemon can read the context) and gives the build a second connection to lose.
import * as grpc from "@grpc/grpc-js";

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
