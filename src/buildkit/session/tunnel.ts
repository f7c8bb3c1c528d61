// The session: an HTTP/2 gRPC server of ours, carried inside the Control.Session stream. The
// daemon is the HTTP/2 client on that byte tunnel and calls the services we register (health,
// file sync, and later auth, secrets, ssh and file send).
import { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { create, type DescService } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { BuildkitClient } from "../client.js";
import { BytesMessageSchema, Control, type BytesMessage } from "../proto/moby/buildkit/v1/control_pb.js";
import { callBidiStream, MAX_MESSAGE_BYTES } from "../rpc.js";
import { methodPaths, serviceDefinition } from "./services.js";

export interface SessionService {
  service: DescService;
  implementation: grpc.UntypedServiceImplementation;
  /**
   * Whether to list the methods in x-docker-expose-session-grpc-method. The daemon only uses
   * FileSync and FileSend when listed; it calls the others regardless.
   */
  advertise: boolean;
}

export interface SessionOptions {
  /** Stable across builds of the same context, so the runner's incremental transfer applies. */
  sharedKey: string;
  name?: string;
  services: SessionService[];
  signal?: AbortSignal;
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
  private closed = false;

  constructor(client: BuildkitClient, options: SessionOptions) {
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    });
    const metadata = new grpc.Metadata();
    metadata.set("x-docker-expose-session-uuid", this.id);
    metadata.set("x-docker-expose-session-name", options.name ?? "remote-buildkit");
    metadata.set("x-docker-expose-session-sharedkey", options.sharedKey);
    for (const { service, implementation, advertise } of options.services) {
      this.server.addService(serviceDefinition(service), implementation);
      if (advertise) {
        for (const path of methodPaths(service)) metadata.add("x-docker-expose-session-grpc-method", path);
      }
    }
    this.call = callBidiStream(client.channel, Control.method.session, { metadata, signal: options.signal });
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    injector.injectConnection(tunnelDuplex(this.call));
  }

  /** Ends the session: half-closes the tunnel, which the daemon takes as the end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.end();
    this.server.forceShutdown();
    // The daemon answers the half-close by ending the stream; cancel if it does not.
    setTimeout(() => this.call.cancel(), 2000).unref();
  }
}

/** Bytes written to the duplex go out as BytesMessages; incoming messages' bytes are read. */
function tunnelDuplex(call: grpc.ClientDuplexStream<BytesMessage, BytesMessage>): Duplex {
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      call.write(create(BytesMessageSchema, { data: chunk }), callback);
    },
    final(callback) {
      call.end();
      callback();
    },
    read() {
      call.resume();
    },
    destroy(error, callback) {
      call.cancel();
      callback(error);
    },
  });
  call.on("data", (message: BytesMessage) => {
    if (!duplex.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength))) {
      call.pause();
    }
  });
  call.on("end", () => duplex.push(null));
  // Cancellation at close is expected; the HTTP/2 session on top ends with the tunnel either way.
  call.on("error", () => duplex.destroy());
  return duplex;
}
