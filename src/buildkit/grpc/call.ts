// One gRPC call on an HTTP/2 stream of a GrpcConnection: messages framed out and parsed in,
// gzip when asked, a deadline, cancellation, and the status from the trailers. A Duplex in object
// mode, like grpc-js's calls: write requests (the callback once the stream has taken the bytes),
// read responses ('data'); 'error' with a GrpcError when the status is not OK, then 'status'.
import * as http2 from "node:http2";
import { Duplex } from "node:stream";
import { gunzip, gunzipSync, gzip, gzipSync } from "node:zlib";
import { DialError, type GrpcConnection } from "./connection.js";
import { GrpcError, Metadata, Status, statusOfHttp, type StatusCode } from "./status.js";
import { FRAME_HEADER_BYTES, frame } from "../framing.js";
import { AdaptiveGzipLevel } from "./gzip-level.js";

export interface CallOptions {
  /** Milliseconds until the call ends with DEADLINE_EXCEEDED; none when undefined. */
  timeoutMs?: number;
  metadata?: Metadata;
  /** Gzip every message this call sends (the runner then answers in gzip too). */
  compress?: boolean;
  /** The largest message accepted from the runner. */
  maxReceiveBytes: number;
  /**
   * Each response's bytes to this as they arrive, in place of whole messages on the readable
   * side (which then only ends): a message split across frames is never copied together. For
   * an uncompressed call; the runner is told to answer uncompressed.
   */
  pieces?: MessagePieces;
}

/** A reader of each message's bytes as they arrive: views of the stream's chunks, in order. */
export interface MessagePieces {
  /** A message of `length` bytes begins. */
  start(length: number): void;
  piece(bytes: Buffer): void;
  /** The message is whole. */
  end(): void;
}

export interface CallStatus {
  code: StatusCode;
  details: string;
  metadata: Metadata;
}

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR } = http2.constants;

/** One level chooser for the process's compressed calls (gzip-level.ts). */
const gzipLevel = new AdaptiveGzipLevel();

/**
 * Messages up to this size are gzipped and gunzipped right here, on the main thread. zlib's thread
 * pool costs about 0.15 ms of CPU per message in hand-overs, ten times the work of a small one
 * (a 4 KiB message gzips in 0.02 ms here): a compressed session's thousands of small messages
 * each way spent 0.6 s of a cold WAN upload's main thread there. Larger messages go to the pool,
 * so that compressing one overlaps reading the next.
 */
const IN_THREAD_ZLIB_MAX_BYTES = 64 * 1024;

export class ClientCall<Request, Response> extends Duplex {
  private stream: http2.ClientHttp2Stream | undefined;
  /** Writes wait for the stream; a call that ended first takes them without sending. */
  private readonly opened: Promise<http2.ClientHttp2Stream | undefined>;
  private finished = false;
  private responseEncoding = "identity";
  private readonly reader: FrameReader;
  /**
   * Decompression is asynchronous: while a message is being inflated, the messages after it and
   * the status wait their turn on this chain. Otherwise messages are delivered as they come.
   */
  private decoded: Promise<void> = Promise.resolve();
  private inflating = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  /** Why the stream failed, when it did: the stream's or its connection's error message. */
  private streamFailure: string | undefined;
  private httpStatus = 0;
  /** The status from the trailers (or from the headers of a trailers-only response). */
  private status: CallStatus | undefined;

  constructor(
    private readonly connection: GrpcConnection,
    path: string,
    private readonly serialize: (message: Request) => Buffer,
    private readonly deserialize: (bytes: Buffer) => Response,
    private readonly options: CallOptions,
  ) {
    super({ objectMode: true });
    this.reader = new FrameReader(options.maxReceiveBytes);
    if (options.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.cancelWith("deadline"), options.timeoutMs);
      this.timer.unref();
    }
    this.opened = this.open(path).catch((error: unknown) => {
      const detail = error instanceof Error ? error.message : String(error);
      const code =
        error instanceof DialError && error.timedOut ? Status.DEADLINE_EXCEEDED : Status.UNAVAILABLE;
      this.finish(code, detail, new Metadata());
      return undefined;
    });
  }

  /** Ends the call with CANCELLED, resetting its stream. */
  cancel(): void {
    this.cancelWith("client");
  }

  private cancelWith(reason: "client" | "deadline"): void {
    if (this.finished) return;
    this.stream?.close(NGHTTP2_CANCEL);
    if (reason === "deadline") this.finish(Status.DEADLINE_EXCEEDED, "Deadline exceeded", new Metadata());
    else this.finish(Status.CANCELLED, "Cancelled on client", new Metadata());
  }

  private async open(path: string): Promise<http2.ClientHttp2Stream | undefined> {
    const session = await this.connection.session();
    if (this.finished) return undefined;
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      ":authority": this.connection.authority,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": this.options.pieces ? "identity" : "identity,gzip",
    };
    if (this.options.compress) headers["grpc-encoding"] = "gzip";
    if (this.options.timeoutMs !== undefined) headers["grpc-timeout"] = grpcTimeout(this.options.timeoutMs);
    for (const [key, values] of this.options.metadata?.entries() ?? []) {
      const text = values.map((value) => (Buffer.isBuffer(value) ? value.toString("base64") : value));
      headers[key] = text.length === 1 ? text[0] : text;
    }
    const stream = session.request(headers);
    this.stream = stream;
    this.connection.callStarted();
    stream.on("response", (responseHeaders) => this.onResponse(responseHeaders));
    stream.on("trailers", (trailers) => this.onTrailers(trailers));
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", (error: Error) => (this.streamFailure ??= error.message));
    stream.on("close", () => this.onStreamClose(session));
    return stream;
  }

  private onResponse(headers: http2.IncomingHttpHeaders): void {
    this.httpStatus = Number(headers[":status"] ?? 0);
    const encoding = headers["grpc-encoding"];
    if (typeof encoding === "string") this.responseEncoding = encoding;
    // A trailers-only response: the status comes with the headers.
    if (headers["grpc-status"] !== undefined) this.status = statusOf(headers);
  }

  private onTrailers(trailers: http2.IncomingHttpHeaders): void {
    this.status = statusOf(trailers);
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.options.pieces) {
      try {
        this.reader.pushPieces(chunk, this.options.pieces);
      } catch (error) {
        this.stream?.close(NGHTTP2_CANCEL);
        this.finish(Status.INTERNAL, (error as Error).message, new Metadata());
      }
      return;
    }
    let messages: Array<{ compressed: boolean; bytes: Buffer }>;
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      this.stream?.close(NGHTTP2_CANCEL);
      this.finish(Status.RESOURCE_EXHAUSTED, (error as Error).message, new Metadata());
      return;
    }
    for (const message of messages) {
      if (!message.compressed) {
        this.deliverInOrder(message.bytes);
        continue;
      }
      if (this.responseEncoding !== "gzip") {
        this.finish(
          Status.INTERNAL,
          `a compressed message in encoding "${this.responseEncoding}"`,
          new Metadata(),
        );
        this.stream?.close(NGHTTP2_CANCEL);
        return;
      }
      if (message.bytes.length <= IN_THREAD_ZLIB_MAX_BYTES) {
        let bytes: Buffer;
        try {
          bytes = gunzipSync(message.bytes, { maxOutputLength: this.options.maxReceiveBytes });
        } catch (error) {
          this.failInflate(error as Error);
          return;
        }
        this.deliverInOrder(bytes);
        continue;
      }
      this.inflating++;
      const inflated = new Promise<Buffer>((resolve, reject) =>
        gunzip(message.bytes, { maxOutputLength: this.options.maxReceiveBytes }, (error, output) =>
          error ? reject(error) : resolve(output),
        ),
      );
      this.decoded = this.decoded.then(() =>
        inflated
          .then(
            (bytes) => this.deliver(bytes),
            (error: Error) => this.failInflate(error),
          )
          .finally(() => this.inflating--),
      );
    }
  }

  /** Delivers now, or after the messages still being inflated. */
  private deliverInOrder(bytes: Buffer): void {
    if (this.inflating === 0) this.deliver(bytes);
    else this.decoded = this.decoded.then(() => this.deliver(bytes));
  }

  private failInflate(error: Error): void {
    this.stream?.close(NGHTTP2_CANCEL);
    this.finish(Status.INTERNAL, `a message failed to decompress: ${error.message}`, new Metadata());
  }

  private deliver(bytes: Buffer): void {
    if (this.finished) return;
    let message: Response;
    try {
      message = this.deserialize(bytes);
    } catch (error) {
      this.stream?.close(NGHTTP2_CANCEL);
      this.finish(Status.INTERNAL, `a response failed to parse: ${(error as Error).message}`, new Metadata());
      return;
    }
    if (!this.push(message)) this.stream?.pause();
  }

  override _read(): void {
    this.stream?.resume();
  }

  private onStreamClose(session: http2.ClientHttp2Session): void {
    void this.decoded.then(() => {
      if (this.finished) return;
      if (this.status) {
        const { code, details, metadata } = this.status;
        this.finish(code, details, metadata);
        return;
      }
      const rstCode = this.stream?.rstCode ?? NGHTTP2_NO_ERROR;
      const lost = session.destroyed || session.closed;
      const fail = (code: StatusCode, details: string) => this.finish(code, details, new Metadata());
      if (this.httpStatus !== 0 && this.httpStatus !== 200) {
        fail(statusOfHttp(this.httpStatus), `the runner answered HTTP ${this.httpStatus}`);
      } else if (lost) {
        // Node resets every stream of a connection that closed with CANCEL: the loss is what counts.
        fail(
          Status.UNAVAILABLE,
          this.connection.lastFailure(session) ?? this.streamFailure ?? "the connection closed",
        );
      } else if (rstCode === NGHTTP2_REFUSED_STREAM) {
        fail(Status.UNAVAILABLE, "the runner refused the stream");
      } else if (rstCode === NGHTTP2_CANCEL) {
        fail(Status.CANCELLED, "the runner cancelled the call");
      } else if (this.streamFailure !== undefined) {
        fail(Status.UNAVAILABLE, this.streamFailure);
      } else if (rstCode !== NGHTTP2_NO_ERROR) {
        fail(Status.INTERNAL, `the runner reset the stream (HTTP/2 error ${rstCode})`);
      } else {
        fail(Status.UNKNOWN, "the call ended without a status");
      }
    });
  }

  /** Ends the call once: OK ends the readable side, any other status is the 'error'. */
  private finish(code: StatusCode, details: string, metadata: Metadata): void {
    if (!this.settle()) return;
    this.stream?.resume();
    const status: CallStatus = { code, details, metadata };
    if (code === Status.OK) {
      this.push(null);
      this.emit("status", status);
      return;
    }
    this.emit("status", status);
    this.destroy(new GrpcError(code, details, metadata));
  }

  override _write(
    message: Request,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    let bytes: Buffer;
    try {
      bytes = this.serialize(message);
    } catch (error) {
      callback(error as Error);
      return;
    }
    const inThread = !this.options.compress || bytes.length <= IN_THREAD_ZLIB_MAX_BYTES;
    const framedNow = (): Buffer => (this.options.compress ? compressedFrameNow(bytes) : frame(bytes));
    // Once the stream is open, a message framed here goes at once: no turn of the event loop.
    if (this.stream && inThread) {
      let framed: Buffer;
      try {
        framed = framedNow();
      } catch (error) {
        return callback(error as Error);
      }
      this.send(this.stream, framed, callback);
      return;
    }
    void this.opened.then(async (stream) => {
      if (!stream) return callback();
      let framed: Buffer;
      try {
        framed = inThread ? framedNow() : await compressedFrame(bytes);
      } catch (error) {
        return callback(error as Error);
      }
      this.send(stream, framed, callback);
    });
  }

  /** Writes a frame; the callback comes once the connection has taken it (or the call ended). */
  private send(
    stream: http2.ClientHttp2Stream,
    framed: Buffer,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.finished || stream.destroyed) return callback();
    stream.write(framed, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    void this.opened.then((stream) => {
      if (stream && !stream.destroyed) stream.end();
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.settle()) this.stream?.close(NGHTTP2_CANCEL);
    callback(error);
  }

  /** Marks the call ended, once: its deadline and its hold on the connection go. False if it had. */
  private settle(): boolean {
    if (this.finished) return false;
    this.finished = true;
    clearTimeout(this.timer);
    if (this.stream !== undefined) this.connection.callEnded();
    return true;
  }
}

/** gRPC's timeout header: at most 8 digits, so a long timeout goes in seconds, minutes or hours. */
export function grpcTimeout(ms: number): string {
  const units: Array<[string, number]> = [
    ["m", 1],
    ["S", 1000],
    ["M", 60_000],
    ["H", 3_600_000],
  ];
  for (const [unit, size] of units) {
    const value = Math.max(1, Math.ceil(ms / size));
    if (value <= 99_999_999) return `${value}${unit}`;
  }
  return "99999999H";
}

/** The gzip-compressed frame of a small message, compressed here at the current level. */
function compressedFrameNow(message: Buffer): Buffer {
  return compressedFrameOf(gzipSync(message, { level: gzipLevel.level }));
}

/** The gzip-compressed frame of `message`, in zlib's thread pool, at AdaptiveGzipLevel's level. */
function compressedFrame(message: Buffer): Promise<Buffer> {
  const started = performance.now();
  // One output chunk for the whole message: the default 16 KiB ones cost a hand-over each.
  const chunkSize = message.length + 1024;
  return new Promise((resolve, reject) =>
    gzip(message, { level: gzipLevel.start(message.length, started), chunkSize }, (error, output) => {
      gzipLevel.end(message.length, started, performance.now());
      if (error) return reject(error);
      resolve(compressedFrameOf(output));
    }),
  );
}

function compressedFrameOf(compressed: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(compressed.length + FRAME_HEADER_BYTES);
  framed.writeUInt8(1, 0);
  framed.writeUInt32BE(compressed.length, 1);
  compressed.copy(framed, FRAME_HEADER_BYTES);
  return framed;
}

function statusOf(headers: http2.IncomingHttpHeaders): CallStatus {
  const code = Number(headers["grpc-status"] ?? Status.UNKNOWN);
  const raw = headers["grpc-message"];
  const details = typeof raw === "string" ? percentDecoded(raw) : "";
  return {
    code: (Number.isInteger(code) && code >= 0 && code <= 16 ? code : Status.UNKNOWN) as StatusCode,
    details,
    metadata: Metadata.fromHeaders(headers),
  };
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A compressed message on a call read in pieces, which takes uncompressed ones only. */
export class CompressedMessageError extends Error {
  constructor() {
    super("a compressed message on a call that asked for none");
  }
}

const SLAB_BYTES = 1024 * 1024;
const SLAB_MESSAGE_MAX_BYTES = 128 * 1024;

/** Splits the stream's bytes into gRPC messages: a flag byte, a 32-bit length, the message. */
export class FrameReader {
  private header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  private message: Buffer | undefined;
  private messageBytes = 0;
  private compressed = false;
  /** Memory for messages split across chunks, handed out once each and never written again. */
  private slab: Buffer | undefined;
  private slabUsed = 0;
  /** What is left of the message `pushPieces` is handing over. */
  private pieceBytesLeft = 0;

  constructor(private readonly maxBytes: number) {}

  /**
   * Room for a message split across chunks: most are, as HTTP/2 frames carry 16 KiB and a tunnel
   * message as much plus its header. One buffer each made the garbage collector a sixth of a
   * 1 GiB output's time; carved from a shared slab they cost one allocation per MiB.
   */
  private allocate(length: number): Buffer {
    if (length > SLAB_MESSAGE_MAX_BYTES) return Buffer.allocUnsafe(length);
    if (this.slab === undefined || this.slabUsed + length > SLAB_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const message = this.slab.subarray(this.slabUsed, this.slabUsed + length);
    // Aligned, so that a message's view starts on an 8-byte boundary as a buffer of its own would.
    this.slabUsed += (length + 7) & ~7;
    return message;
  }

  /** The messages `chunk` completes, in order; views into `chunk` where a message lies within it. */
  push(chunk: Buffer): Array<{ compressed: boolean; bytes: Buffer }> {
    const messages: Array<{ compressed: boolean; bytes: Buffer }> = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.message === undefined) {
        // A whole header and message within the chunk: a view, no copy.
        if (this.headerBytes === 0 && chunk.length - offset >= FRAME_HEADER_BYTES) {
          const length = chunk.readUInt32BE(offset + 1);
          this.check(length);
          if (chunk.length - offset - FRAME_HEADER_BYTES >= length) {
            const start = offset + FRAME_HEADER_BYTES;
            messages.push({ compressed: chunk[offset] === 1, bytes: chunk.subarray(start, start + length) });
            offset = start + length;
            continue;
          }
        }
        offset = this.takeHeader(chunk, offset);
        if (this.headerBytes < FRAME_HEADER_BYTES) break;
        const length = this.header.readUInt32BE(1);
        this.check(length);
        this.compressed = this.header[0] === 1;
        this.headerBytes = 0;
        if (length === 0) {
          messages.push({ compressed: this.compressed, bytes: Buffer.alloc(0) });
          continue;
        }
        this.message = this.allocate(length);
        this.messageBytes = 0;
      }
      const take = Math.min(this.message.length - this.messageBytes, chunk.length - offset);
      chunk.copy(this.message, this.messageBytes, offset, offset + take);
      this.messageBytes += take;
      offset += take;
      if (this.messageBytes === this.message.length) {
        messages.push({ compressed: this.compressed, bytes: this.message });
        this.message = undefined;
      }
    }
    return messages;
  }

  /**
   * Hands each message to `pieces` as its bytes come, views of `chunk`: nothing is copied but a
   * header split across chunks.
   */
  pushPieces(chunk: Buffer, pieces: MessagePieces): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.pieceBytesLeft > 0) {
        const take = Math.min(this.pieceBytesLeft, chunk.length - offset);
        pieces.piece(chunk.subarray(offset, offset + take));
        offset += take;
        this.pieceBytesLeft -= take;
        if (this.pieceBytesLeft === 0) pieces.end();
        continue;
      }
      offset = this.takeHeader(chunk, offset);
      if (this.headerBytes < FRAME_HEADER_BYTES) break;
      this.headerBytes = 0;
      if (this.header[0] !== 0) throw new CompressedMessageError();
      const length = this.header.readUInt32BE(1);
      this.check(length);
      pieces.start(length);
      this.pieceBytesLeft = length;
      if (length === 0) pieces.end();
    }
  }

  /** Copies what `chunk` has of a frame header from `offset`; returns the offset after it. */
  private takeHeader(chunk: Buffer, offset: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerBytes, chunk.length - offset);
    chunk.copy(this.header, this.headerBytes, offset, offset + take);
    this.headerBytes += take;
    return offset + take;
  }

  private check(length: number): void {
    if (length > this.maxBytes) {
      throw new Error(`a message of ${length} bytes is larger than the limit of ${this.maxBytes}`);
    }
  }
}
