// The session: an HTTP/2 gRPC server of ours, carried inside the Control.Session stream. The
// daemon is the HTTP/2 client on that byte tunnel and calls the services we register (health,
// file sync, auth, secrets, ssh and file send).
import * as grpc from "@grpc/grpc-js";
import type * as http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { BuildkitClient } from "../client.js";
import { Control, type BytesMessage } from "../proto/moby/buildkit/v1/control_pb.js";
import { callBidiStream, FLOW_CONTROL_WINDOW_BYTES, MAX_MESSAGE_BYTES } from "../rpc.js";
import { frameInPlace } from "../framing.js";
import { connectTunnel, type TunnelConnectionKind } from "./tunnel-connection.js";
import { methodPaths, serviceDefinition } from "./services.js";

export interface SessionService {
  service: DescService;
  implementation: grpc.UntypedServiceImplementation;
  /**
   * Whether to list the methods in x-docker-expose-session-grpc-method. The daemon only uses
   * FileSync and FileSend when listed; it calls the others regardless.
   */
  advertise: boolean;
  /**
   * A grpc-js definition to register instead of the one built from `service`: FileSend carries
   * two wire formats on one method, so it takes raw bytes and decodes them itself.
   */
  definition?: grpc.ServiceDefinition;
}

export interface SessionOptions {
  /** Stable across builds of the same context, so the runner's incremental transfer applies. */
  sharedKey: string;
  name?: string;
  services: SessionService[];
  signal?: AbortSignal;
  /** Whether the messages we send on the tunnel are gzip-compressed (upload-compression.ts). */
  compress?: boolean;
  /** How our server meets the tunnel; by default a socket pair where the platform has one. */
  connection?: TunnelConnectionKind;
}

/** A random 25-character base36 id, like buildctl's; never contains ':'. */
export function newIdentifier(): string {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  return Array.from(randomBytes(25), (byte) => alphabet[byte % 36]).join("");
}

export class Session {
  readonly id = newIdentifier();
  private readonly server: grpc.Server;
  private readonly call: grpc.ClientDuplexStream<BytesMessage, BytesMessage>;
  private readonly disconnect: () => void;
  private closed = false;

  constructor(client: BuildkitClient, options: SessionOptions) {
    // The tunnel's messages and FileSync's data packets go without a copy into a gRPC frame.
    frameInPlace();
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    });
    const metadata = new grpc.Metadata();
    metadata.set("x-docker-expose-session-uuid", this.id);
    metadata.set("x-docker-expose-session-name", options.name ?? "remote-buildkit");
    metadata.set("x-docker-expose-session-sharedkey", options.sharedKey);
    for (const { service, implementation, advertise, definition } of options.services) {
      this.server.addService(definition ?? serviceDefinition(service), implementation);
      if (advertise) {
        for (const path of methodPaths(service)) metadata.add("x-docker-expose-session-grpc-method", path);
      }
    }
    this.call = callBidiStream(client.sessionChannel(options.compress ?? false), Control.method.session, {
      metadata,
      signal: options.signal,
    });
    acceptLargeHeaders(this.server);
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const server = this.server;
    this.disconnect = connectTunnel(
      this.call,
      options.compress ?? false,
      (connection) => {
        injector.injectConnection(connection);
        widenReceiveWindows(server);
      },
      { kind: options.connection },
    );
  }

  /** Ends the session: half-closes the tunnel, which the daemon takes as the end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.end();
    this.server.forceShutdown();
    this.disconnect();
    // The daemon answers the half-close by ending the stream; cancel if it does not.
    setTimeout(() => this.call.cancel(), 2000).unref();
  }
}

/** What grpc-go accepts in a request's headers (its default MaxHeaderListSize), and so buildctl. */
const MAX_HEADER_LIST_BYTES = 16 * 1024 * 1024;

/**
 * The daemon sends a directory's .dockerignore patterns and followpaths to our FileSync as request
 * headers, one header each. Node's HTTP/2 refuses a request of more than 128 headers (or 64 KiB of
 * them) with ENHANCE_YOUR_CALM, so a .dockerignore of more than about 115 lines failed every
 * build. grpc-js has no option for it; the options it creates its HTTP/2 server with (a private
 * field, present in the grpc-js version we bundle) get grpc-go's limits. Must run before the
 * connection injector creates that server.
 */
function acceptLargeHeaders(server: grpc.Server): void {
  const options = (server as unknown as { commonServerOptions?: http2.ServerOptions }).commonServerOptions;
  if (options === undefined) return;
  options.maxHeaderListPairs = Number.MAX_SAFE_INTEGER;
  options.maxSessionMemory = Number.MAX_SAFE_INTEGER;
  options.settings = { ...options.settings, maxHeaderListSize: MAX_HEADER_LIST_BYTES };
}

/**
 * The runner sends outputs to our server (FileSend), and Node's HTTP/2 grants the sender 64 KiB
 * per stream before a WINDOW_UPDATE, which here makes a round trip through the tunnel: that caps
 * a transfer at about 70 MB/s. grpc-js offers no server option for it, so the session it made
 * for the injected connection (a private field, present in the grpc-js version we bundle) gets
 * the window the client side already has. Without the field, nothing changes but the speed.
 */
function widenReceiveWindows(server: grpc.Server): void {
  const sessions = (server as unknown as { sessions?: Map<http2.Http2Session, unknown> }).sessions;
  for (const session of sessions?.keys() ?? []) {
    session.setLocalWindowSize(FLOW_CONTROL_WINDOW_BYTES);
    session.settings({ initialWindowSize: FLOW_CONTROL_WINDOW_BYTES });
  }
}
