// FileSend for the tar, oci and docker exporters: BytesMessages holding one file's bytes, ended by
// the daemon's half-close.
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { bytesMessageData, consume, type FileSendCall } from "./filesend-stream.js";

/** Received bytes are collected up to this much per file before one write. */
const WRITE_BYTES = 1024 * 1024;

export async function receiveFile(call: FileSendCall, path: string, signal: AbortSignal): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, "w");
  try {
    const writer = new BufferedWriter(file);
    await consume(
      call,
      async (message) => {
        for (const data of bytesMessageData(message)) await writer.write(data);
        return false;
      },
      true,
      signal,
    );
    await writer.flush();
  } finally {
    await file.close();
  }
}

/** Receives one file output's bytes in order; `end` resolves once the receiver has taken them all. */
export interface FileSendSink {
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<unknown>;
}

/** The bytes of a file output into a sink, in order, as they come (with the call's backpressure). */
export async function receiveStream(
  call: FileSendCall,
  sink: FileSendSink,
  signal: AbortSignal,
): Promise<void> {
  await consume(
    call,
    async (message) => {
      for (const data of bytesMessageData(message)) {
        if (data.byteLength > 0) await sink.write(data);
      }
      return false;
    },
    true,
    signal,
  );
  await sink.end();
}

/**
 * Collects chunks up to WRITE_BYTES and writes them with one call. One write is on its way while
 * the next chunks collect: awaiting each write before taking more data held the transfer up for
 * every write's trip through the thread pool.
 */
export class BufferedWriter {
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  /** The write on its way; its failure reaches the next write, flush or the caller of either. */
  private writing: Promise<void> = Promise.resolve();
  written = 0;

  constructor(private readonly file: FileHandle) {}

  async write(data: Uint8Array): Promise<void> {
    if (data.byteLength === 0) return;
    this.chunks.push(data);
    this.bytes += data.byteLength;
    if (this.bytes >= WRITE_BYTES) await this.startWrite();
  }

  /** Resolves once every byte given so far is written. */
  async flush(): Promise<void> {
    await this.startWrite();
    await this.writing;
  }

  /** Waits for the write on its way, then starts one of what has collected. */
  private async startWrite(): Promise<void> {
    await this.writing;
    const chunks = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    this.writing = this.writeAll(chunks);
    // Seen by whoever awaits it next; never an unhandled rejection meanwhile.
    this.writing.catch(() => undefined);
  }

  private async writeAll(chunks: Uint8Array[]): Promise<void> {
    while (chunks.length > 0) {
      const { bytesWritten } = await this.file.writev(chunks);
      this.written += bytesWritten;
      chunks = dropBytes(chunks, bytesWritten);
    }
  }
}

/** What is left of `chunks` after the first `count` bytes (a short write). */
function dropBytes(chunks: Uint8Array[], count: number): Uint8Array[] {
  let rest = count;
  let index = 0;
  while (index < chunks.length && rest >= chunks[index]!.byteLength) {
    rest -= chunks[index]!.byteLength;
    index++;
  }
  const left = chunks.slice(index);
  if (rest > 0 && left.length > 0) left[0] = left[0]!.subarray(rest);
  return left;
}
