// The session's gRPC server: Node's HTTP/2 server on the one connection the daemon makes through
// the session tunnel, dispatching each call to our service handlers. The handlers see grpc-js's
// server call API (the part we use): `request` and `metadata`, write/end, an 'error' emitted to end
// the call with that status, 'cancelled' and `cancelled` when the daemon gives up on a call.
import * as http2 from "node:http2";
import { Duplex } from "node:stream";
import { FrameReader } from "./call.js";
import { MAX_HEADER_LIST_BYTES } from "./connection.js";
import { frame } from "../framing.js";
import { Metadata, Status, type StatusCode } from "./status.js";

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (message: never) => Buffer;
}

export type ServiceDefinition = Record<string, MethodDefinition>;

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
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly server: http2.Http2Server;

  constructor(private readonly options: ServerOptions) {
    this.server = http2.createServer({
      settings: { initialWindowSize: options.windowBytes, maxHeaderListSize: MAX_HEADER_LIST_BYTES },
      // Node refuses more than 128 headers (or 64 KiB of them) with ENHANCE_YOUR_CALM: a
      // .dockerignore of more than about 115 lines would fail the build.
      maxHeaderListPairs: Number.MAX_SAFE_INTEGER,
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    this.server.on("session", (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      // The daemon sends outputs to us: Node's 64 KiB window would make it wait for a
      // WINDOW_UPDATE, a round trip through the tunnel, after every 64 KiB.
      session.on("connect", () => session.setLocalWindowSize(options.windowBytes));
      session.on("error", () => undefined);
    });
    this.server.on("stream", (stream, headers) => this.dispatch(stream, headers));
  }

  addService(definition: ServiceDefinition, implementation: ServiceImplementation): void {
    for (const [name, method] of Object.entries(definition)) {
      const handler = implementation[name];
      if (handler !== undefined) this.methods.set(method.path, { definition: method, handler });
    }
  }

  /** Serves the HTTP/2 connection on `connection` (the daemon's, through the tunnel). */
  serve(connection: Duplex): void {
    this.server.emit("connection", connection);
  }

  /** Ends every call and connection at once. */
  close(): void {
    for (const call of this.calls) call.cancelFromServer();
    for (const session of this.sessions) session.destroy();
    this.server.close();
  }

  private dispatch(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => undefined);
    const path = headers[":path"] ?? "";
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

export class ServerCall<Request, Response> extends Duplex {
  readonly metadata: Metadata;
  /** The request of a unary or server-streaming call. */
  request!: Request;
  /** True once the daemon cancelled the call (or the connection went). */
  cancelled = false;
  private status: { code: StatusCode; details: string } = { code: Status.OK, details: "OK" };
  private readonly reader: FrameReader;
  private onRequest: ((request: Request) => void) | undefined;
  private statusSent = false;
  private headersSent = false;
  /** The status, for Node to send once the last response has gone (waitForTrailers). */
  private trailers: http2.OutgoingHttpHeaders = {};

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    metadata: Metadata,
    private readonly definition: MethodDefinition,
    options: ServerOptions,
  ) {
    super({ objectMode: true });
    this.metadata = metadata;
    this.reader = new FrameReader(options.maxReceiveBytes);
    // grpc-js's convention: an 'error' emitted by the handler is the call's status.
    this.on("error", (failure: Failure) => {
      this.status = statusOfFailure(failure);
      this.end();
    });
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("end", () => {
      if (this.onRequest) this.failWith(Status.INTERNAL, "the request ended without a message");
      else this.push(null);
    });
    stream.on("close", () => {
      if (!this.statusSent) this.cancelFromServer();
    });
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
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.statusSent) return;
    let messages: Array<{ compressed: boolean; bytes: Buffer }>;
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      this.failWith(Status.RESOURCE_EXHAUSTED, (error as Error).message);
      return;
    }
    for (const { compressed, bytes } of messages) {
      if (compressed) {
        this.failWith(Status.UNIMPLEMENTED, "compressed requests are not accepted");
        return;
      }
      let message: Request;
      try {
        message = this.definition.requestDeserialize(bytes) as Request;
      } catch (error) {
        this.failWith(Status.INTERNAL, `a request failed to parse: ${(error as Error).message}`);
        return;
      }
      if (this.onRequest) {
        const use = this.onRequest;
        this.onRequest = undefined;
        use(message);
      } else if (!this.push(message)) this.stream.pause();
    }
  }

  private failWith(code: StatusCode, details: string): void {
    if (this.statusSent) return;
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
    if (this.statusSent || this.stream.destroyed) return callback();
    let frames: Buffer[];
    try {
      frames = chunks.map(({ chunk }) => frame(this.definition.responseSerialize(chunk as never)));
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.sendHeaders();
    this.stream.cork();
    frames.forEach((framed, i) =>
      i === frames.length - 1 ? this.stream.write(framed, () => callback()) : this.stream.write(framed),
    );
    this.stream.uncork();
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
    if (this.statusSent || this.stream.destroyed) return;
    this.statusSent = true;
    const { code, details } = this.status;
    if (!this.headersSent) {
      respondStatus(this.stream, code, details);
      return;
    }
    this.trailers = statusHeaders(code, details);
    this.stream.end();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(
      { ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": "identity" },
      { waitForTrailers: true },
    );
    this.stream.on("wantTrailers", () => this.stream.sendTrailers(this.trailers));
  }
}

/** A trailers-only response: the status in the headers, and no message. */
function respondStatus(stream: http2.ServerHttp2Stream, code: StatusCode, details: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    { ":status": 200, "content-type": "application/grpc", ...statusHeaders(code, details) },
    { endStream: true },
  );
}

function statusHeaders(code: StatusCode, details: string): http2.OutgoingHttpHeaders {
  return { "grpc-status": String(code), "grpc-message": percentEncoded(details) };
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
