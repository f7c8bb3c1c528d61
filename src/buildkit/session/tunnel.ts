// The session: an HTTP/2 gRPC server of ours, carried inside the Control.Session stream. The
// daemon is the HTTP/2 client on that byte tunnel and calls the services we register (health,
// file sync, auth, secrets, ssh and file send).
import type { DescService } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { BuildkitClient } from "../client.js";
import { Control, type BytesMessage, type BytesMessageSchema } from "../proto/moby/buildkit/v1/control_pb.js";
import { callBidiStream, FLOW_CONTROL_WINDOW_BYTES, MAX_MESSAGE_BYTES, type Call } from "../rpc.js";
import { Metadata } from "../grpc/status.js";
import { GrpcServer, type ServiceDefinition, type ServiceImplementation } from "../grpc/server.js";
import { TunnelReader } from "./tunnel-reader.js";
import { TunnelWriter } from "./tunnel-writer.js";
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
    // The daemon's HTTP/2 connection to our server: its bytes come in the call's messages, and
    // what the server sends goes out in ours. Uncompressed, the messages are read as their bytes
    // arrive (tunnel-reader.ts); a compressed message comes whole, once inflated.
    const compress = options.compress ?? false;
    const reader = compress ? undefined : new TunnelReader();
    this.call = callBidiStream(client.connection, Control.method.session, {
      metadata,
      signal: options.signal,
      compress,
      pieces: reader,
    });
    const writer = new TunnelWriter(this.call, compress);
    const connection = this.server.connect(writer);
    if (reader) reader.receive = (bytes) => connection.receive(bytes);
    this.call.on("data", (message: BytesMessage) =>
      connection.receive(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)),
    );
    // The daemon half-closed the tunnel: so do we, once what is on its way has gone.
    this.call.on("end", () => {
      connection.destroy();
      writer.end();
    });
    // Cancellation at close is expected; the connection ends with the tunnel either way.
    this.call.on("error", () => connection.destroy());
    this.call.on("close", () => connection.destroy());
  }

  /** Ends the session: half-closes the tunnel, which the daemon takes as the end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.end();
    this.server.close();
    // The daemon answers the half-close by ending the stream; cancel if it does not.
    setTimeout(() => this.call.cancel(), 2000).unref();
  }
}
