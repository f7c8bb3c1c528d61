// The session's gRPC server: our own HTTP/2 (server-connection.ts) on the one connection the
// daemon makes through the session tunnel, dispatching each call to our service handlers. The
// handlers see grpc-js's server call API (the part we use): `request` and `metadata`, write/end,
// an 'error' emitted to end the call with that status, 'cancelled' and `cancelled` when the daemon
// gives up on a call.
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { CompressedMessageError, FrameReader, type MessagePieces } from "./call.js";
import { MAX_HEADER_LIST_BYTES } from "./connection.js";
import {
  ErrorCode,
  ServerConnection,
  type FrameSink,
  type RequestHeaders,
  type ServerStream,
} from "./server-connection.js";
import { frame } from "../framing.js";
import { Metadata, Status, type StatusCode } from "./status.js";

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  /**
   * When set, used in place of requestDeserialize with each request as the views of the frames it
   * came in: a message split across HTTP/2 frames (a 32 KiB fsutil packet always is) is never
   * copied together. For the methods that carry data (FileSend). No compressed requests then.
   */
  requestDeserializePieces?: (pieces: Buffer[]) => unknown;
  responseSerialize: (message: never) => Buffer;
}

export type ServiceDefinition = Record<string, MethodDefinition>;

/** The status details for a compressed request: we advertise no compression to the daemon. */
const COMPRESSED_REFUSED = "compressed requests are not accepted";

/** The status a handler ends a call with: a code and its details (or an Error's message). */
export interface Failure {
  code?: number;
  details?: string;
  message?: string;
}

export type UnaryCallback<Response = unknown> = (failure: Failure | null, response?: Response) => void;

// The handlers are typed by their services; the server only passes calls through.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type UnaryHandler = (call: ServerCall<any, any>, callback: UnaryCallback<any>) => void;
export type StreamHandler = (call: ServerCall<any, any>) => void;
/* eslint-enable @typescript-eslint/no-explicit-any */

export type ServiceImplementation = Record<string, UnaryHandler | StreamHandler>;

export interface ServerOptions {
  /** The largest message accepted from the daemon. */
  maxReceiveBytes: number;
  /** HTTP/2 receive window, per stream and for the connection. */
  windowBytes: number;
}

interface Registered {
  definition: MethodDefinition;
  handler: UnaryHandler | StreamHandler;
}

export class GrpcServer {
  private readonly methods = new Map<string, Registered>();
  private readonly calls = new Set<ServerCall<unknown, unknown>>();
  private readonly connections = new Set<ServerConnection>();

  constructor(private readonly options: ServerOptions) {}

  addService(definition: ServiceDefinition, implementation: ServiceImplementation): void {
    for (const [name, method] of Object.entries(definition)) {
      const handler = implementation[name];
      if (handler !== undefined) this.methods.set(method.path, { definition: method, handler });
    }
  }

  /**
   * Serves an HTTP/2 connection whose bytes go to `sink`: give it the client's bytes with
   * `receive`, and `destroy` it when they end.
   */
  connect(sink: FrameSink): ServerConnection {
    const connection = new ServerConnection(
      sink,
      { windowBytes: this.options.windowBytes, maxHeaderListBytes: MAX_HEADER_LIST_BYTES },
      (stream, headers) => this.dispatch(stream, headers),
      () => this.connections.delete(connection),
    );
    this.connections.add(connection);
    return connection;
  }

  /** Serves the HTTP/2 connection on a socket (or any byte stream). */
  serve(socket: Duplex): void {
    const connection = this.connect(socketSink(socket));
    socket.on("data", (chunk: Buffer) => connection.receive(chunk));
    socket.on("end", () => {
      connection.destroy();
      socket.end();
    });
    socket.on("error", () => connection.destroy());
    socket.on("close", () => connection.destroy());
  }

  /** Ends every call and connection at once. */
  close(): void {
    for (const call of this.calls) call.cancelFromServer();
    for (const connection of this.connections) connection.destroy();
  }

  private dispatch(stream: ServerStream, headers: RequestHeaders): void {
    const rawPath = headers[":path"];
    const path = (Array.isArray(rawPath) ? rawPath[0] : rawPath) ?? "";
    const registered = this.methods.get(path);
    if (registered === undefined) {
      respondStatus(stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
      return;
    }
    const { definition, handler } = registered;
    const call = new ServerCall<unknown, unknown>(
      stream,
      Metadata.fromHeaders(headers),
      definition,
      this.options,
    );
    this.calls.add(call);
    call.once("close", () => this.calls.delete(call));
    // A handler that throws ends its call with UNKNOWN, as grpc-js does, not the process.
    const run = (start: () => void) => {
      try {
        start();
      } catch (error) {
        call.emit("error", { code: Status.UNKNOWN, details: (error as Error)?.message ?? String(error) });
      }
    };
    if (definition.requestStream) {
      run(() => (handler as StreamHandler)(call));
      return;
    }
    // Unary and server-streaming calls: the handler starts with the one request.
    call.readRequest((request) => {
      call.request = request;
      if (definition.responseStream) {
        run(() => (handler as StreamHandler)(call));
        return;
      }
      run(() =>
        (handler as UnaryHandler)(call, (failure, response) => {
          if (failure) call.emit("error", failure);
          else call.end(response);
        }),
      );
    });
  }
}

/**
 * A socket as a connection's sink: the frames of one turn of the event loop in one write, sent
 * at once (no Nagle: a frame's tail would wait on the peer's delayed ACK, as Node's HTTP/2 knows).
 */
function socketSink(socket: Duplex): FrameSink {
  (socket as Partial<Socket>).setNoDelay?.(true);
  let corked = false;
  const sink: FrameSink = {
    append: (bytes) => {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      socket.write(Buffer.from(bytes));
    },
    get blocked() {
      return socket.writableNeedDrain;
    },
    onUnblocked: () => {},
    end: () => socket.end(),
  };
  socket.on("drain", () => sink.onUnblocked());
  return sink;
}

export class ServerCall<Request, Response> extends Duplex {
  readonly metadata: Metadata;
  /** The request of a unary or server-streaming call. */
  request!: Request;
  /** True once the daemon cancelled the call (or the connection went). */
  cancelled = false;
  private status: { code: StatusCode; details: string } = { code: Status.OK, details: "OK" };
  private readonly reader: FrameReader;
  /** The collector of each request's pieces, for a method that takes them. */
  private readonly pieces: MessagePieces | undefined;
  private onRequest: ((request: Request) => void) | undefined;
  private statusSent = false;
  /** The call failed a request of the daemon's: no more of its requests are delivered. */
  private refused = false;

  constructor(
    private readonly stream: ServerStream,
    metadata: Metadata,
    private readonly definition: MethodDefinition,
    options: ServerOptions,
  ) {
    super({ objectMode: true });
    this.metadata = metadata;
    this.reader = new FrameReader(options.maxReceiveBytes);
    const deserializePieces = definition.requestDeserializePieces;
    if (deserializePieces) {
      let collected: Buffer[] = [];
      this.pieces = {
        start: () => (collected = []),
        piece: (bytes) => collected.push(bytes),
        end: () => this.deliver(() => deserializePieces(collected) as Request),
      };
    }
    // grpc-js's convention: an 'error' emitted by the handler is the call's status.
    this.on("error", (failure: Failure) => {
      this.status = statusOfFailure(failure);
      this.end();
    });
    stream.onData = (chunk) => this.onData(chunk);
    stream.onEnd = () => {
      if (this.onRequest) this.failWith(Status.INTERNAL, "the request ended without a message");
      else this.push(null);
    };
    stream.onClose = () => {
      if (!this.statusSent) this.cancelFromServer();
    };
  }

  /** For a unary request: `use` gets the one message; nothing else is read. */
  readRequest(use: (request: Request) => void): void {
    this.onRequest = use;
    this.resume();
  }

  /** The call ends as cancelled: what grpc-js does when the daemon resets the stream. */
  cancelFromServer(): void {
    if (this.cancelled || this.statusSent) return;
    this.cancelled = true;
    this.statusSent = true;
    this.emit("cancelled", "cancelled");
    this.stream.reset(ErrorCode.CANCEL);
    this.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.statusSent || this.refused) return;
    if (this.pieces) {
      try {
        this.reader.pushPieces(chunk, this.pieces);
      } catch (error) {
        if (error instanceof CompressedMessageError) this.failWith(Status.UNIMPLEMENTED, COMPRESSED_REFUSED);
        else this.failWith(Status.RESOURCE_EXHAUSTED, (error as Error).message);
      }
      return;
    }
    let messages: Array<{ compressed: boolean; bytes: Buffer }>;
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      this.failWith(Status.RESOURCE_EXHAUSTED, (error as Error).message);
      return;
    }
    for (const { compressed, bytes } of messages) {
      if (compressed) {
        this.failWith(Status.UNIMPLEMENTED, COMPRESSED_REFUSED);
        return;
      }
      if (!this.deliver(() => this.definition.requestDeserialize(bytes) as Request)) return;
    }
  }

  /**
   * Parses a request and hands it to the handler. A request that does not parse ends the call, and
   * the requests after it are dropped: false then.
   */
  private deliver(deserialize: () => Request): boolean {
    if (this.refused || this.statusSent) return false;
    let message: Request;
    try {
      message = deserialize();
    } catch (error) {
      this.failWith(Status.INTERNAL, `a request failed to parse: ${(error as Error).message}`);
      return false;
    }
    if (this.onRequest) {
      const use = this.onRequest;
      this.onRequest = undefined;
      use(message);
    } else if (!this.push(message)) this.stream.pause();
    return true;
  }

  private failWith(code: StatusCode, details: string): void {
    if (this.statusSent) return;
    this.refused = true;
    this.onRequest = undefined;
    this.status = { code, details };
    this.end();
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(
    message: Response,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this._writev([{ chunk: message, encoding }], callback);
  }

  /**
   * Every queued response at once, in one write to the connection: a context is mostly small
   * packets (a STAT per entry, a DATA or two per small file), and sending them one per turn of
   * the event loop made an upload of many small files take several times longer than buildctl's.
   */
  override _writev(
    chunks: Array<{ chunk: Response; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.statusSent || this.stream.closed) return callback();
    let frames: Buffer[];
    try {
      frames = chunks.map(({ chunk }) => frame(this.definition.responseSerialize(chunk as never)));
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.sendHeaders();
    this.stream.write(frames, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
    this.sendStatus();
  }

  /** A handler's destroy(error) ends the call with that error's status, as an emitted 'error' does. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) this.status = statusOfFailure(error as Failure);
    this.sendStatus();
    callback(error);
  }

  private sendStatus(): void {
    if (this.statusSent || this.stream.closed) return;
    this.statusSent = true;
    const { code, details } = this.status;
    if (!this.stream.respondedAlready) {
      respondStatus(this.stream, code, details);
      return;
    }
    this.stream.end(statusFields(code, details));
  }

  private sendHeaders(): void {
    if (this.stream.respondedAlready) return;
    this.stream.respond(
      [
        [":status", "200"],
        ["content-type", "application/grpc"],
        ["grpc-accept-encoding", "identity"],
      ],
      false,
    );
  }
}

/** A trailers-only response: the status in the headers, and no message. */
function respondStatus(stream: ServerStream, code: StatusCode, details: string): void {
  stream.respond(
    [[":status", "200"], ["content-type", "application/grpc"], ...statusFields(code, details)],
    true,
  );
}

function statusFields(code: StatusCode, details: string): Array<[string, string]> {
  return [
    ["grpc-status", String(code)],
    ["grpc-message", percentEncoded(details)],
  ];
}

/** grpc-message's encoding: bytes outside printable ASCII, and '%', percent-encoded. */
function percentEncoded(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function statusOfFailure(failure: Failure): { code: StatusCode; details: string } {
  const code =
    Number.isInteger(failure?.code) && failure.code! > 0 && failure.code! <= 16
      ? failure.code!
      : Status.UNKNOWN;
  return { code: code as StatusCode, details: failure?.details ?? failure?.message ?? "Unknown error" };
}
