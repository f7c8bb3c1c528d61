// The server's side of one HTTP/2 connection (RFC 9113), read from bytes and written as bytes: the
// daemon's connection to our session server, which arrives inside the Control.Session call.
//
// Node's HTTP/2 server needs a socket (or a JS stream, which it copies twice over), so the tunnel
// went through a Unix socket pair, and Node handed each 16 KiB DATA frame to us as a new buffer:
// a 1 GiB output crossed the kernel twice and spent a fifth of its time in the garbage collector.
// Here the frames are read where the tunnel's bytes lie, DATA is passed on as views of them, and
// what we send is written straight into the tunnel's next message (`FrameSink`).
//
// Only what a gRPC server needs: streams the client opens, flow control both ways, SETTINGS, PING,
// RST_STREAM and GOAWAY. No server push, no priorities, and no dynamic table for what we send.
import { encodeHeaders, HpackDecoder, HpackError } from "./hpack.js";

/** Where the connection's bytes go: the tunnel's writer (tunnel-writer.ts), or a socket. */
export interface FrameSink {
  /** Takes a copy of `bytes`. */
  append(bytes: Uint8Array): void;
  /** While true, DATA waits (control frames still go); `onUnblocked` says when to go on. */
  readonly blocked: boolean;
  onUnblocked: () => void;
  /** No more bytes. */
  end(): void;
}

export interface ServerConnectionOptions {
  /** The receive window we give each stream and the connection. */
  windowBytes: number;
  /** The largest header block accepted (HEADERS and its CONTINUATIONs). */
  maxHeaderListBytes: number;
}

/** Request headers as Node gives them: one string per name, or an array when it came repeatedly. */
export type RequestHeaders = Record<string, string | string[]>;

/** What the connection calls for each stream the client opens. */
export type StreamListener = (stream: ServerStream, headers: RequestHeaders) => void;

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME_HEADER_BYTES = 9;
/** The frame size HTTP/2 starts with; we never ask for more. */
const DEFAULT_MAX_FRAME_BYTES = 16_384;
const DEFAULT_WINDOW_BYTES = 65_535;
const MAX_WINDOW_BYTES = 2 ** 31 - 1;

const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

const Setting = { INITIAL_WINDOW_SIZE: 0x4, MAX_FRAME_SIZE: 0x5, MAX_HEADER_LIST_SIZE: 0x6 } as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
} as const;

/** A connection error: the connection goes away with this code. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** Bytes queued on a stream, and the callback for when they have all gone to the sink. */
interface QueuedData {
  chunks: Buffer[];
  /** The chunk being sent, and how much of it has gone. */
  index: number;
  offset: number;
  callback: (() => void) | undefined;
}

/** A header block that ends the stream once the data queued before it has gone. */
interface QueuedTrailers {
  trailers: Buffer;
}

export class ServerConnection {
  private readonly streams = new Map<number, ServerStream>();
  /** Streams with something queued to send, in the order they queued it. */
  private readonly sending = new Set<ServerStream>();
  private readonly decoder = new HpackDecoder();
  private prefaceBytes = 0;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  /** The frame being read; DATA is passed on as it comes, any other frame collected whole. */
  private frame: FrameHeader | undefined;
  private payload: Buffer | undefined;
  private payloadBytes = 0;
  private dataLeft = 0;
  /** A HEADERS frame waiting for its CONTINUATIONs. */
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; bytes: number } | undefined;
  private lastStreamId = 0;
  /** The client's settings that bound what we send. */
  private peerInitialWindow = DEFAULT_WINDOW_BYTES;
  private peerMaxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private sendWindow = DEFAULT_WINDOW_BYTES;
  /** DATA received on the connection since our last WINDOW_UPDATE for it. */
  private unacknowledged = 0;
  private flushing = false;
  private flushScheduled = false;
  private closed = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly options: ServerConnectionOptions,
    private readonly onStream: StreamListener,
    private readonly onClose: () => void = () => {},
  ) {
    sink.onUnblocked = () => this.flush();
    // Our preface: the settings, then the connection's window as large as each stream's.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 0);
    settings.writeUInt32BE(options.windowBytes, 2);
    settings.writeUInt16BE(Setting.MAX_HEADER_LIST_SIZE, 6);
    settings.writeUInt32BE(options.maxHeaderListBytes, 8);
    this.writeFrame(FrameType.SETTINGS, 0, 0, settings);
    if (options.windowBytes > DEFAULT_WINDOW_BYTES) {
      this.writeWindowUpdate(0, options.windowBytes - DEFAULT_WINDOW_BYTES);
    }
  }

  /** Reads the client's bytes; views of them are passed on as request data. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.read(chunk);
    } catch (error) {
      // The client's mistake, or (INTERNAL_ERROR) a failure of ours while handling its frames.
      const code =
        error instanceof ConnectionError
          ? error.code
          : error instanceof HpackError
            ? ErrorCode.COMPRESSION_ERROR
            : ErrorCode.INTERNAL_ERROR;
      this.goAway(code, (error as Error).message);
    }
  }

  /** The client's bytes ended, or the tunnel went: every open stream closes. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.sending.clear();
    for (const stream of streams) stream.closeFromConnection();
    this.onClose();
  }

  /** Ends the connection with a GOAWAY, as for an error of the client's. */
  goAway(code: number, message: string): void {
    if (this.closed) return;
    const payload = Buffer.alloc(8 + Buffer.byteLength(message));
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    payload.write(message, 8);
    this.writeFrame(FrameType.GOAWAY, 0, 0, payload);
    this.sink.end();
    this.destroy();
  }

  private read(chunk: Buffer): void {
    let offset = 0;
    while (this.prefaceBytes < PREFACE.length && offset < chunk.length) {
      if (chunk[offset++] !== PREFACE[this.prefaceBytes++]) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "the client did not start with HTTP/2's preface");
      }
    }
    while (offset < chunk.length && !this.closed) {
      const frame = this.frame;
      if (frame === undefined) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerBytes, chunk.length - offset);
        chunk.copy(this.header, this.headerBytes, offset, offset + take);
        this.headerBytes += take;
        offset += take;
        if (this.headerBytes === FRAME_HEADER_BYTES) {
          this.headerBytes = 0;
          this.startFrame();
        }
      } else if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, chunk.length - offset);
        const data = chunk.subarray(offset, offset + take);
        offset += take;
        this.dataLeft -= take;
        this.streams.get(frame.streamId)?.receiveData(data);
        if (this.dataLeft === 0) this.endData(frame);
      } else {
        const payload = this.payload!;
        const take = Math.min(payload.length - this.payloadBytes, chunk.length - offset);
        // A frame whole within the chunk is read where it lies.
        if (this.payloadBytes === 0 && take === payload.length) {
          this.payload = chunk.subarray(offset, offset + take);
        } else {
          chunk.copy(payload, this.payloadBytes, offset, offset + take);
        }
        this.payloadBytes += take;
        offset += take;
        if (this.payloadBytes === payload.length) this.endFrame(frame, this.payload!);
      }
    }
  }

  private startFrame(): void {
    const frame: FrameHeader = {
      length: this.header.readUIntBE(0, 3),
      type: this.header[3]!,
      flags: this.header[4]!,
      streamId: this.header.readUInt32BE(5) & 0x7fffffff,
    };
    if (frame.length > DEFAULT_MAX_FRAME_BYTES) {
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `a frame of ${frame.length} bytes is too large`);
    }
    if (this.headerBlock !== undefined && frame.type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "a header block was interrupted");
    }
    this.frame = frame;
    if (frame.type === FrameType.DATA) {
      if (frame.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
      this.countReceived(frame.length);
      // Unpadded DATA is passed on piece by piece, as it comes.
      if (!(frame.flags & Flag.PADDED)) {
        this.dataLeft = frame.length;
        if (frame.length === 0) this.endData(frame);
        return;
      }
    }
    this.payload = Buffer.allocUnsafe(frame.length);
    this.payloadBytes = 0;
    if (frame.length === 0) this.endFrame(frame, this.payload);
  }

  private endData(frame: FrameHeader): void {
    this.frame = undefined;
    const stream = this.streams.get(frame.streamId);
    if (stream === undefined) return;
    stream.consumed(frame.length);
    if (frame.flags & Flag.END_STREAM) stream.receiveEnd();
  }

  private endFrame(frame: FrameHeader, payload: Buffer): void {
    this.frame = undefined;
    this.payload = undefined;
    switch (frame.type) {
      case FrameType.DATA: {
        // Padded DATA, collected whole; the padding counts against the window all the same.
        const data = unpadded(payload, frame.flags);
        if (data.length > 0) this.streams.get(frame.streamId)?.receiveData(data);
        return this.endData(frame);
      }
      case FrameType.HEADERS:
        return this.receiveHeaders(frame, payload);
      case FrameType.CONTINUATION:
        return this.receiveContinuation(frame, payload);
      case FrameType.RST_STREAM:
        return this.streams.get(frame.streamId)?.closeFromPeer();
      case FrameType.SETTINGS:
        return this.receiveSettings(frame, payload);
      case FrameType.PING:
        if (!(frame.flags & Flag.ACK)) this.writeFrame(FrameType.PING, Flag.ACK, 0, payload);
        return;
      case FrameType.GOAWAY:
        // The client opens no more streams; those open run to their end.
        return;
      case FrameType.WINDOW_UPDATE:
        return this.receiveWindowUpdate(frame, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "a client sent PUSH_PROMISE");
      default:
      // PRIORITY, and frame types we do not know, are ignored (RFC 9113 4.1, 5.3.2).
    }
  }

  private receiveHeaders(frame: FrameHeader, payload: Buffer): void {
    if (frame.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
    let block = unpadded(payload, frame.flags);
    if (frame.flags & Flag.PRIORITY) block = block.subarray(5);
    this.headerBlock = {
      streamId: frame.streamId,
      endStream: (frame.flags & Flag.END_STREAM) !== 0,
      parts: [Buffer.from(block)],
      bytes: block.length,
    };
    if (frame.flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private receiveContinuation(frame: FrameHeader, payload: Buffer): void {
    const block = this.headerBlock;
    if (block === undefined || block.streamId !== frame.streamId) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "a CONTINUATION without its HEADERS");
    }
    block.parts.push(Buffer.from(payload));
    block.bytes += payload.length;
    if (block.bytes > this.options.maxHeaderListBytes) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "a request's headers are larger than allowed");
    }
    if (frame.flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private endHeaderBlock(): void {
    const { streamId, endStream, parts } = this.headerBlock!;
    this.headerBlock = undefined;
    // Decoded even for a stream we do not keep: the dynamic table must see every block.
    const fields = this.decoder.decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers from the client: gRPC sends none, but they would end the request.
      if (endStream) existing.receiveEnd();
      return;
    }
    if (streamId % 2 === 0 || streamId <= this.lastStreamId) {
      // A stream that ended already (its RST_STREAM may have crossed this), or not a client's.
      if (streamId % 2 === 0 || streamId > this.lastStreamId) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `the client opened stream ${streamId}`);
      }
      return;
    }
    this.lastStreamId = streamId;
    const headers: RequestHeaders = {};
    for (const [name, value] of fields) {
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (Array.isArray(previous)) previous.push(value);
      else headers[name] = [previous, value];
    }
    const stream = new ServerStream(this, streamId, this.options.windowBytes, this.peerInitialWindow);
    this.streams.set(streamId, stream);
    this.onStream(stream, headers);
    if (endStream) stream.receiveEnd();
  }

  private receiveSettings(frame: FrameHeader, payload: Buffer): void {
    if (frame.flags & Flag.ACK) return;
    if (frame.streamId !== 0 || payload.length % 6 !== 0) {
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "a malformed SETTINGS frame");
    }
    for (let offset = 0; offset < payload.length; offset += 6) {
      const id = payload.readUInt16BE(offset);
      const value = payload.readUInt32BE(offset + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW_BYTES) {
          throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "an initial window beyond 2^31-1");
        }
        // Every stream's window moves by the change (RFC 9113 6.9.2).
        const change = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += change;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_BYTES || value > 2 ** 24 - 1) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `a maximum frame size of ${value}`);
        }
        this.peerMaxFrameBytes = value;
      }
      // The header table size only bounds a table our encoder never uses.
    }
    this.writeFrame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(0));
    this.flush();
  }

  private receiveWindowUpdate(frame: FrameHeader, payload: Buffer): void {
    if (payload.length !== 4)
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "a malformed WINDOW_UPDATE");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (frame.streamId === 0) {
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW_BYTES) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "the connection's window overflowed");
      }
    } else {
      const stream = this.streams.get(frame.streamId);
      if (stream === undefined) return;
      stream.sendWindow += increment;
    }
    this.flush();
  }

  /** Counts DATA against the connection's window, given back once a quarter of it is used. */
  private countReceived(bytes: number): void {
    this.unacknowledged += bytes;
    if (this.unacknowledged >= this.options.windowBytes / 4) {
      this.writeWindowUpdate(0, this.unacknowledged);
      this.unacknowledged = 0;
    }
  }

  /** @internal The stream's parts of the connection. */
  writeWindowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(increment, 0);
    this.writeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
  }

  /** @internal */
  writeHeaders(streamId: number, fields: ReadonlyArray<readonly [string, string]>, endStream: boolean): void {
    this.writeHeaderBlock(streamId, encodeHeaders(fields), endStream);
  }

  /** @internal A header block in one HEADERS frame, with CONTINUATIONs if it does not fit. */
  writeHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    const max = this.peerMaxFrameBytes;
    const first = block.subarray(0, max);
    const flags = (endStream ? Flag.END_STREAM : 0) | (block.length <= max ? Flag.END_HEADERS : 0);
    this.writeFrame(FrameType.HEADERS, flags, streamId, first);
    for (let offset = max; offset < block.length; offset += max) {
      const part = block.subarray(offset, offset + max);
      const last = offset + max >= block.length;
      this.writeFrame(FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, streamId, part);
    }
  }

  /** @internal */
  writeReset(streamId: number, code: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code, 0);
    this.writeFrame(FrameType.RST_STREAM, 0, streamId, payload);
  }

  /**
   * @internal The stream has something queued. It goes once the code that queued it has run: a
   * FileSync walk queues a STAT packet per entry, and these then go many to a DATA frame, their
   * writes' callbacks come together, and the call hands over what queued meanwhile in one batch.
   */
  queued(stream: ServerStream): void {
    this.sending.add(stream);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** @internal The stream is done with: both sides ended, or it was reset. */
  forget(stream: ServerStream): void {
    this.streams.delete(stream.id);
    this.sending.delete(stream);
  }

  /**
   * Sends what the streams have queued, as far as the client's windows and the sink allow; the
   * callbacks of writes that went whole run after, and what they queue goes in the same turn.
   */
  private flush(): void {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      for (;;) {
        const done: Array<() => void> = [];
        for (const stream of this.sending) {
          this.sendQueued(stream, done);
          if (stream.queue.length === 0) this.sending.delete(stream);
          if (this.sink.blocked) break;
        }
        if (done.length === 0) return;
        for (const callback of done) callback();
      }
    } finally {
      this.flushing = false;
    }
  }

  private sendQueued(stream: ServerStream, done: Array<() => void>): void {
    const queue = stream.queue;
    while (queue.length > 0 && !this.sink.blocked && !this.closed) {
      const next = queue[0]!;
      if ("trailers" in next) {
        queue.shift();
        this.writeHeaderBlock(stream.id, next.trailers, true);
        stream.sentEnd();
        continue;
      }
      const room = Math.min(this.peerMaxFrameBytes, stream.sendWindow, this.sendWindow);
      if (room <= 0) return;
      // One DATA frame of as many queued writes as fit: a FileSync upload is mostly small packets.
      const pieces: Buffer[] = [];
      let bytes = 0;
      while (bytes < room && queue.length > 0 && !("trailers" in queue[0]!)) {
        const data = queue[0] as QueuedData;
        const chunk = data.chunks[data.index]!;
        const take = Math.min(chunk.length - data.offset, room - bytes);
        pieces.push(chunk.subarray(data.offset, data.offset + take));
        bytes += take;
        data.offset += take;
        if (data.offset === chunk.length) {
          data.index++;
          data.offset = 0;
        }
        if (data.index === data.chunks.length) {
          queue.shift();
          if (data.callback) done.push(data.callback);
        }
      }
      if (bytes === 0) continue;
      this.writeFrameHeader(bytes, FrameType.DATA, 0, stream.id);
      for (const piece of pieces) this.sink.append(piece);
      stream.sendWindow -= bytes;
      this.sendWindow -= bytes;
    }
  }

  private writeFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.closed) return;
    this.writeFrameHeader(payload.length, type, flags, streamId);
    if (payload.length > 0) this.sink.append(payload);
  }

  private writeFrameHeader(length: number, type: number, flags: number, streamId: number): void {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUIntBE(length, 0, 3);
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(streamId, 5);
    this.sink.append(header);
  }
}

/** DATA or HEADERS without their padding (RFC 9113 6.1, 6.2). */
function unpadded(payload: Buffer, flags: number): Buffer {
  if (!(flags & Flag.PADDED)) return payload;
  const padding = payload[0] ?? 0;
  if (payload.length === 0 || padding >= payload.length) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "a frame's padding is longer than the frame");
  }
  return payload.subarray(1, payload.length - padding);
}

/**
 * One request: its data as it comes (`onData`, `onEnd`), and our response: headers, data with a
 * callback once it has gone, and trailers that end it. `onClose` comes once, when the stream is
 * gone: both sides ended, the client reset it, or the connection went.
 */
export class ServerStream {
  onData: (chunk: Buffer) => void = () => {};
  onEnd: () => void = () => {};
  onClose: () => void = () => {};
  /** @internal What we send, in order. */
  readonly queue: Array<QueuedData | QueuedTrailers> = [];
  /** @internal */
  sendWindow: number;
  private headersSent = false;
  private localEnded = false;
  private remoteEnded = false;
  private isClosed = false;
  private paused = false;
  /** DATA taken in since our last WINDOW_UPDATE for this stream. */
  private unacknowledged = 0;

  constructor(
    private readonly connection: ServerConnection,
    readonly id: number,
    private readonly windowBytes: number,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** True once the stream is gone, or our side of it has ended. */
  get closed(): boolean {
    return this.isClosed || this.localEnded;
  }

  get respondedAlready(): boolean {
    return this.headersSent;
  }

  /** The response's headers; with `endStream`, a trailers-only response that ends the stream. */
  respond(fields: ReadonlyArray<readonly [string, string]>, endStream: boolean): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.connection.writeHeaders(this.id, fields, endStream);
    if (endStream) this.sentEnd();
  }

  /** Queues `chunks` as DATA; `callback` once they have all gone to the connection's sink. */
  write(chunks: Buffer[], callback?: () => void): void {
    if (this.closed) {
      callback?.();
      return;
    }
    this.queue.push({ chunks, index: 0, offset: 0, callback });
    this.connection.queued(this);
  }

  /** Ends the response with `fields` as its trailers, after the data queued before them. */
  end(fields: ReadonlyArray<readonly [string, string]>): void {
    if (this.closed) return;
    this.queue.push({ trailers: encodeHeaders(fields) });
    this.connection.queued(this);
  }

  /** Gives up on the stream: RST_STREAM with `code`. */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.isClosed) return;
    this.connection.writeReset(this.id, code);
    this.close();
  }

  /** Stops giving the client room for more: what it has room for still comes. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.acknowledge();
  }

  /** @internal */
  receiveData(chunk: Buffer): void {
    if (!this.isClosed && !this.remoteEnded) this.onData(chunk);
  }

  /** @internal A DATA frame of `bytes` has been passed on: room for as much again, unless paused. */
  consumed(bytes: number): void {
    this.unacknowledged += bytes;
    if (!this.paused) this.acknowledge();
  }

  private acknowledge(): void {
    if (this.isClosed || this.remoteEnded || this.unacknowledged < this.windowBytes / 4) return;
    this.connection.writeWindowUpdate(this.id, this.unacknowledged);
    this.unacknowledged = 0;
  }

  /** @internal */
  receiveEnd(): void {
    if (this.remoteEnded || this.isClosed) return;
    this.remoteEnded = true;
    this.onEnd();
    if (this.localEnded) this.close();
  }

  /** @internal Our END_STREAM has gone. */
  sentEnd(): void {
    this.localEnded = true;
    if (this.remoteEnded) this.close();
  }

  /** @internal The client reset the stream. */
  closeFromPeer(): void {
    this.close(true);
  }

  /** @internal The connection went. */
  closeFromConnection(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.dropQueue();
    this.tellClosed(true);
  }

  private close(afterWorkInHand = false): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.connection.forget(this);
    this.dropQueue();
    this.tellClosed(afterWorkInHand);
  }

  /**
   * `onClose`, at once or once the work the data before it started has had its turn: the daemon
   * resets a local output's stream right after its last packet, often in the same read, and that
   * packet must be handled as the end it is, not lost to a cancellation. (Node's HTTP/2 reported
   * a reset in a callback of its own, after the promise jobs of the data before it.)
   */
  private tellClosed(afterWorkInHand: boolean): void {
    if (afterWorkInHand) setImmediate(() => this.onClose());
    else this.onClose();
  }

  /** What was queued will never go: its writers are told it is done with, as for a closed stream. */
  private dropQueue(): void {
    const dropped = this.queue.splice(0);
    for (const item of dropped) if ("callback" in item) item.callback?.();
  }
}
