// The session: an HTTP/2 gRPC server of ours, carried inside the Control.Session stream. The
// daemon is the HTTP/2 client on that byte tunnel and calls the services we register (health,
// file sync, auth, secrets, ssh and file send).
import type { DescService } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { BuildkitClient } from "../client.js";
import { Control, type BytesMessageSchema } from "../proto/moby/buildkit/v1/control_pb.js";
import { callBidiStream, FLOW_CONTROL_WINDOW_BYTES, MAX_MESSAGE_BYTES, type Call } from "../rpc.js";
import { Metadata } from "../grpc/status.js";
import { GrpcServer, type ServiceDefinition, type ServiceImplementation } from "../grpc/server.js";
import { connectTunnel, type TunnelConnectionKind } from "./tunnel-connection.js";
import { methodPaths, serviceDefinition } from "./services.js";

export interface SessionService {
  service: DescService;
  implementation: ServiceImplementation;
  /**
   * Whether to list the methods in x-docker-expose-session-grpc-method. The daemon only uses
   * FileSync and FileSend when listed; it calls the others regardless.
   */
  advertise: boolean;
  /**
   * A definition to register instead of the one built from `service`: FileSend carries two wire
   * formats on one method, so it takes raw bytes and decodes them itself.
   */
  definition?: ServiceDefinition;
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
  private readonly server: GrpcServer;
  private readonly call: Call<typeof BytesMessageSchema, typeof BytesMessageSchema>;
  private readonly disconnect: () => void;
  private closed = false;

  constructor(client: BuildkitClient, options: SessionOptions) {
    this.server = new GrpcServer({
      maxReceiveBytes: MAX_MESSAGE_BYTES,
      windowBytes: FLOW_CONTROL_WINDOW_BYTES,
    });
    const metadata = new Metadata();
    metadata.set("x-docker-expose-session-uuid", this.id);
    metadata.set("x-docker-expose-session-name", options.name ?? "remote-buildkit");
    metadata.set("x-docker-expose-session-sharedkey", options.sharedKey);
    for (const { service, implementation, advertise, definition } of options.services) {
      this.server.addService(definition ?? serviceDefinition(service), implementation);
      if (advertise) {
        for (const path of methodPaths(service)) metadata.add("x-docker-expose-session-grpc-method", path);
      }
    }
    this.call = callBidiStream(client.connection, Control.method.session, {
      metadata,
      signal: options.signal,
      compress: options.compress ?? false,
    });
    const server = this.server;
    this.disconnect = connectTunnel(
      this.call,
      options.compress ?? false,
      (connection) => server.serve(connection),
      {
        kind: options.connection,
      },
    );
  }

  /** Ends the session: half-closes the tunnel, which the daemon takes as the end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.end();
    this.server.close();
    this.disconnect();
    // The daemon answers the half-close by ending the stream; cancel if it does not.
    setTimeout(() => this.call.cancel(), 2000).unref();
  }
}
