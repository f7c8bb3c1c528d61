// The session: an HTTP/2 gRPC server of ours, carried inside the Control.Session stream. The
// daemon is the HTTP/2 client on that byte tunnel and calls the services we register (health,
// file sync, auth, secrets, ssh and file send).
import { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import type * as http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { BuildkitClient } from "../client.js";
import { BytesMessageSchema, Control, type BytesMessage } from "../proto/moby/buildkit/v1/control_pb.js";
import { callBidiStream, FLOW_CONTROL_WINDOW_BYTES, MAX_MESSAGE_BYTES } from "../rpc.js";
import { createInPlace, HEADER_ROOM } from "../encoder.js";
import { frameInPlace } from "../framing.js";
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
    injector.injectConnection(tunnelDuplex(this.call, options.compress ?? false));
    widenReceiveWindows(this.server);
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

/** Tunnel messages carry at most this much; HTTP/2 frames written together are joined up to it. */
const TUNNEL_MESSAGE_BYTES = 1024 * 1024;

/**
 * Messages of at least this much are built in reused buffers of TUNNEL_MESSAGE_BYTES; smaller ones
 * in their own, so that many small messages on their way never hold a large buffer each.
 */
const REUSED_BUFFER_MIN_BYTES = 64 * 1024;

/**
 * Bytes handed to the tunnel call that have not reached the connection yet, beyond which writers
 * wait. grpc-js's own limit counts messages (16), which for a large upload held 16 MiB here.
 * Several round trips' worth of a fast link, and still a bounded peak memory. (It bounds because
 * a write's callback comes once the connection has taken the message: our channel options.)
 */
const TUNNEL_IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/**
 * The same bound for a gzip-compressed tunnel, counted before compression: source trees shrink
 * about 4 times, so about as many bytes on the wire. (With 4 MiB, a cold upload of a source tree
 * over 50 ms and 100 Mbit/s took 0.57 of buildctl's time instead of 0.48, 3 runs each.)
 */
const COMPRESSED_TUNNEL_IN_FLIGHT_BYTES = 4 * TUNNEL_IN_FLIGHT_BYTES;

/** Bytes written to the duplex go out as BytesMessages; incoming messages' bytes are read. */
function tunnelDuplex(
  call: grpc.ClientDuplexStream<BytesMessage, BytesMessage>,
  compressed: boolean,
): Duplex {
  const inFlightLimit = compressed ? COMPRESSED_TUNNEL_IN_FLIGHT_BYTES : TUNNEL_IN_FLIGHT_BYTES;
  // The HTTP/2 session on top writes a few frames at a time (often one small FileSync packet).
  // One tunnel message per write would cost the runner and us a gRPC message each, so writes are
  // collected and sent together once the current round of I/O is handled (or at
  // TUNNEL_MESSAGE_BYTES), as grpc-go's buffered writer does. A write completes as soon as it is
  // collected; only when the call's buffer is full (or inFlightLimit bytes are on their way)
  // does the next one wait.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let scheduled = false;
  /** Waiting for the call's 'drain'. */
  let full = false;
  /** Bytes of messages written to the call whose write has not completed. */
  let inFlightBytes = 0;
  let closed = false;
  let waiting: (() => void)[] = [];
  // Buffers of large messages the connection has taken (the write callback says so with our
  // channel options, rpc.ts), for the next ones: a 1 GiB upload otherwise allocated 1 GiB here.
  // At most as many as can be on their way at once.
  const spare: Buffer[] = [];
  const maxSpare = Math.ceil(inFlightLimit / TUNNEL_MESSAGE_BYTES) + 1;
  const blocked = () => full || inFlightBytes >= inFlightLimit;

  /** Sends what was collected meanwhile, and lets the waiting writers go if no longer blocked. */
  const resume = () => {
    flush();
    if (blocked()) return;
    const callbacks = waiting;
    waiting = [];
    for (const callback of callbacks) callback();
  };

  const flush = () => {
    scheduled = false;
    while (pending.length > 0 && !blocked()) {
      let count = 0;
      let bytes = 0;
      while (
        count < pending.length &&
        (count === 0 || bytes + pending[count]!.length <= TUNNEL_MESSAGE_BYTES)
      ) {
        bytes += pending[count]!.length;
        count++;
      }
      // The message's encoding is built in one buffer: one copy of the payload, not three.
      // (A single write of more than TUNNEL_MESSAGE_BYTES goes alone, in a buffer of its own.)
      const reused = bytes >= REUSED_BUFFER_MIN_BYTES && bytes <= TUNNEL_MESSAGE_BYTES;
      const memory = reused
        ? (spare.pop() ?? Buffer.allocUnsafeSlow(HEADER_ROOM + TUNNEL_MESSAGE_BYTES))
        : Buffer.allocUnsafe(HEADER_ROOM + bytes);
      const encoding = memory.subarray(0, HEADER_ROOM + bytes);
      let offset = HEADER_ROOM;
      for (let i = 0; i < count; i++) {
        offset += pending[i]!.copy(encoding, offset);
      }
      pending = pending.slice(count);
      pendingBytes -= bytes;
      const message = createInPlace(BytesMessageSchema, {}, encoding, HEADER_ROOM, bytes);
      inFlightBytes += bytes;
      const written = () => {
        if (closed) return;
        if (reused && spare.length < maxSpare) spare.push(memory);
        const wasBlocked = blocked();
        inFlightBytes -= bytes;
        if (wasBlocked && !blocked()) resume();
      };
      if (!call.write(message, written)) {
        full = true;
        call.once("drain", () => {
          full = false;
          resume();
        });
      }
    }
  };

  const collect = (chunks: Buffer[], callback: () => void) => {
    for (const chunk of chunks) {
      pending.push(chunk);
      pendingBytes += chunk.length;
    }
    if (pendingBytes >= TUNNEL_MESSAGE_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    if (blocked()) waiting.push(callback);
    else callback();
  };

  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      collect([chunk], callback);
    },
    writev(chunks, callback) {
      collect(
        chunks.map(({ chunk }) => chunk as Buffer),
        callback,
      );
    },
    final(callback) {
      const end = () => {
        call.end();
        callback();
      };
      flush();
      if (blocked()) waiting.push(end);
      else end();
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
  // A write waiting for 'drain' on a call that ended would wait for ever: let it go.
  call.on("close", () => {
    closed = true;
    pending = [];
    pendingBytes = 0;
    full = false;
    inFlightBytes = 0;
    const callbacks = waiting;
    waiting = [];
    for (const callback of callbacks) callback();
  });
  return duplex;
}
