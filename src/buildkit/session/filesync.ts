// FileSync: the daemon pulls local directories (the build context, the Dockerfile's directory)
// from us. The daemon is the receiver; we run fsutil's sender over DiffCopy: every STAT in walk
// order, an empty STAT, then file contents as the daemon requests them, then FIN.
import { closeSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import type { ServerCall } from "../grpc/server.js";
import { Status, type Metadata } from "../grpc/status.js";
import { ContextReadError, walkContext, type StandInFile, type WalkFilter } from "../context/walk.js";
import { FileSync } from "../proto/moby/filesync/v1/filesync_pb.js";
import { Packet_PacketType, PacketSchema, type Packet } from "../proto/fsutil/types/wire_pb.js";
import type { SessionService } from "./tunnel.js";
import { createInPlace, HEADER_ROOM, preEncoded } from "../encoder.js";
import { encodeStatPacket } from "./stat-packet.js";

/** The walk gives the event loop a turn at least this often. */
const YIELD_AFTER_MS = 50;

/** Data packets carry at most this much; the session's gRPC limit is 16 MiB. */
const CHUNK_BYTES = 1024 * 1024;

export interface SyncedDirs {
  /** Local name (context, dockerfile, or a named context) to absolute directory. */
  [name: string]: string;
}

/** A file walked in a synced directory as if it were there, by the directory's local name. */
export type StandInFiles = Record<string, StandInFile>;

type DiffCopyCall = ServerCall<Packet, Packet>;

interface FileToSend {
  path: string;
  /** How an error names it: the path relative to the directory, or a stand-in's source. */
  relativePath: string;
  /** The size the walk saw: files up to CHUNK_BYTES are read in one go. */
  size: bigint;
  /** A stand-in with no file behind it: empty. */
  noFile: boolean;
}

export interface FileSyncService extends SessionService {
  /** The first reason we could not send a directory (an unreadable file): the build's own error only wraps it. */
  failure(): Error | undefined;
}

export function fileSyncService(dirs: SyncedDirs, standIns: StandInFiles = {}): FileSyncService {
  let firstFailure: Error | undefined;
  return {
    service: FileSync,
    advertise: true,
    failure: () => firstFailure,
    implementation: {
      diffCopy: (call: DiffCopyCall) => {
        sendDir(call, dirs, standIns).catch((error: Error) => {
          firstFailure ??= error;
          // ERR tells fsutil's receiver why; the error status ends the call (a destroy does not
          // always send one, and the runner would wait).
          call.write(
            create(PacketSchema, { type: Packet_PacketType.PACKET_ERR, data: Buffer.from(error.message) }),
          );
          call.emit(
            "error",
            Object.assign(new Error(error.message), {
              code: Status.FAILED_PRECONDITION,
              details: error.message,
            }),
          );
        });
      },
      tarStream: (call: DiffCopyCall) =>
        call.destroy(Object.assign(new Error("tar stream is not supported"), { code: Status.UNIMPLEMENTED })),
    },
  };
}

/** Values of a request header: one per header field, URL-decoded where the daemon encoded them. */
export function headerValues(metadata: Metadata, key: string): string[] {
  const encoded = metadata.get(`${key}-encoded`).map(String).includes("1");
  const values = metadata.get(key).map(String);
  // The daemon query-escapes every value when any has a non-ASCII character (fsutil's
  // encodeStringForHeader): '+' is a space there.
  if (encoded) return values.map((value) => decodeURIComponent(value.replace(/\+/g, " ")));
  return values.filter((value) => value !== "");
}

async function sendDir(call: DiffCopyCall, dirs: SyncedDirs, standIns: StandInFiles): Promise<void> {
  const name = headerValues(call.metadata, "dir-name")[0] ?? "";
  const root = dirs[name];
  if (root === undefined) {
    call.destroy(Object.assign(new Error(`no local directory named "${name}"`), { code: Status.NOT_FOUND }));
    return;
  }
  const filter: WalkFilter = {
    includePatterns: headerValues(call.metadata, "include-patterns"),
    excludePatterns: headerValues(call.metadata, "exclude-patterns"),
    followPaths: headerValues(call.metadata, "followpaths"),
  };
  const files = new Map<number, FileToSend>();
  const requests = serveRequests(call, files);
  // If the walk fails first, the call errors and `requests` rejects with nobody awaiting it yet.
  requests.catch(() => undefined);
  let id = 0;
  let turn = Date.now();
  for await (const entry of walkContext(root, filter, standIns[name])) {
    // A walk whose writes never wait would keep the event loop to itself: the session's health
    // checks (and everything else of this process) would go unanswered until it ends.
    if (Date.now() - turn > YIELD_AFTER_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      turn = Date.now();
    }
    if (entry.hasContent) {
      files.set(id, {
        path: entry.absolutePath,
        // A stand-in's content is its source's, which the file named in an error is.
        relativePath: entry.standIn === "source" ? entry.absolutePath : entry.path,
        size: entry.size,
        noFile: entry.standIn === "empty",
      });
    }
    id++;
    const stat = encodeStatPacket(entry);
    await write(call, preEncoded(PacketSchema, stat), undefined, stat.length);
  }
  await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_STAT }));
  await requests;
}

/** Answers REQ packets with file data, until the receiver's FIN. */
function serveRequests(call: DiffCopyCall, files: Map<number, FileToSend>): Promise<void> {
  return new Promise((resolve, reject) => {
    let queue = Promise.resolve();
    call.on("data", (packet: Packet) => {
      switch (packet.type) {
        case Packet_PacketType.PACKET_REQ:
          queue = queue
            .then(() => sendFile(call, packet.id, files))
            .catch((error) => {
              reject(error);
              return undefined;
            });
          break;
        case Packet_PacketType.PACKET_FIN:
          queue.then(() => {
            call.write(create(PacketSchema, { type: Packet_PacketType.PACKET_FIN }));
            call.end();
            resolve();
          }, reject);
          break;
        case Packet_PacketType.PACKET_ERR:
          reject(new Error(`the runner failed to receive files: ${Buffer.from(packet.data).toString()}`));
          break;
      }
    });
    call.on("error", reject);
    call.on("end", () => resolve());
  });
}

async function sendFile(call: DiffCopyCall, id: number, files: Map<number, FileToSend>): Promise<void> {
  const file = files.get(id);
  if (file === undefined) throw new Error(`the runner requested unknown file id ${id}`);
  files.delete(id);
  if (file.noFile) {
    await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id }));
    return;
  }
  try {
    if (file.size <= BigInt(CHUNK_BYTES)) {
      // Small files (most of a context) in one synchronous read: a stream costs several trips
      // through the thread pool per file, which dominates uploads of many small files.
      const data = readSmallFile(file.path, Number(file.size));
      if (data !== undefined) {
        if (data.length > 0) {
          await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id, data }));
        }
        await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id }));
        return;
      }
    }
    await sendLargeFile(call, id, file.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Deleted since the walk: sent empty, as buildctl (fsutil) sends it. What was sent of a
    // large file before that stays; the file ends there.
    if (code === "ENOENT") {
      await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id }));
      return;
    }
    if (code !== undefined) {
      throw new ContextReadError(`The context file "${file.relativePath}" cannot be read (${code}).`);
    }
    throw error;
  }
}

/**
 * Read buffers for large files, with HEADER_ROOM in front: reused once their packet is sent, that
 * is once the session server's call reports the write done: the packet goes framed where it lies
 * (framing.ts), and Node's HTTP/2 has written it to the tunnel's socket by then.
 */
const freeBuffers: Buffer[] = [];
const KEPT_BUFFERS = 20;

/**
 * Data packets of a large file handed to the stream and not yet sent, beyond which the reader
 * waits. The call's stream takes 16 before it says "full": 16 MiB held per large file.
 */
const LARGE_PACKETS_UNSENT = 4;

/**
 * Large files in CHUNK_BYTES packets, reading the next chunk while one is sent. Each chunk is read
 * into a reused buffer behind room for the packet's header, so the packet goes out without a copy
 * and without a new buffer: allocating two fresh buffers per MiB kept the garbage collector busy
 * for a third of the upload's time.
 */
async function sendLargeFile(call: DiffCopyCall, id: number, path: string): Promise<void> {
  const handle = await open(path, "r");
  let unsent = 0;
  let wake: (() => void) | undefined;
  const sent = (buffer: Buffer) => () => {
    release(buffer);
    unsent--;
    wake?.();
  };
  try {
    const readChunk = async () => {
      const buffer = freeBuffers.pop() ?? Buffer.allocUnsafeSlow(HEADER_ROOM + CHUNK_BYTES);
      try {
        const { bytesRead } = await handle.read(buffer, HEADER_ROOM, CHUNK_BYTES, null);
        return { buffer, bytesRead };
      } catch (error) {
        release(buffer);
        throw error;
      }
    };
    let next = readChunk();
    for (;;) {
      const { buffer, bytesRead } = await next;
      if (bytesRead === 0) {
        release(buffer);
        break;
      }
      next = readChunk();
      // Keep the read ahead from failing unobserved if the write below is abandoned.
      next.catch(() => undefined);
      const packet = createInPlace(
        PacketSchema,
        { type: Packet_PacketType.PACKET_DATA, id },
        buffer,
        HEADER_ROOM,
        bytesRead,
      );
      unsent++;
      await write(call, packet, sent(buffer));
      if (unsent >= LARGE_PACKETS_UNSENT) {
        await untilClosedOr(call, (resume) => {
          wake = () => {
            if (unsent < LARGE_PACKETS_UNSENT) resume();
          };
        });
        wake = undefined;
      }
    }
  } finally {
    await handle.close();
  }
  await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id }));
}

function release(buffer: Buffer): void {
  if (freeBuffers.length < KEPT_BUFFERS) freeBuffers.push(buffer);
}

/** The whole file if it is still no bigger than the walk saw, else undefined (it grew since). */
function readSmallFile(path: string, size: number): Buffer | undefined {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(size + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > size) return undefined;
      // The size the walk saw, in a read that could have taken one byte more: a file that grew
      // would have given it. Not asking again for the end halves the reads of a context.
      if (length === size) break;
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Packets queued beyond which a writer waits for 'drain'. grpc-js's stream says "full" at 16, but
 * a context is mostly small packets (a STAT per entry, a DATA or two per small file), and each
 * round of writes costs a turn of the event loop on both ends of the tunnel.
 */
const QUEUED_PACKETS = 256;

/** Data packets up to this size may queue up to QUEUED_PACKETS; bigger ones wait at "full". */
const SMALL_PACKET_BYTES = 64 * 1024;

/**
 * Writes with backpressure: waits for 'drain' when the stream's queue is full. `bytes` is the
 * packet's size for that decision; a pre-encoded packet has no fields to measure.
 */
function write(
  call: DiffCopyCall,
  packet: Packet,
  sent?: () => void,
  bytes = packet.data.length,
): Promise<void> {
  if (call.destroyed || call.writableEnded) return Promise.reject(new CallClosedError());
  if (call.write(packet, sent)) return Promise.resolve();
  if (bytes <= SMALL_PACKET_BYTES && call.writableLength < QUEUED_PACKETS) return Promise.resolve();
  return untilClosedOr(
    call,
    (resume) => call.once("drain", resume),
    (resume) => call.off("drain", resume),
  );
}

/**
 * Waits until `listen`'s callback is called, or rejects when the call closes: 'drain' or a
 * write's completion never comes to a call that the runner or the connection ended.
 */
function untilClosedOr(
  call: DiffCopyCall,
  listen: (resume: () => void) => void,
  unlisten?: (resume: () => void) => void,
): Promise<void> {
  if (call.destroyed) return Promise.reject(new CallClosedError());
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      unlisten?.(onResume);
      call.off("close", onClose);
      call.off("error", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onResume = () => settle();
    const onClose = () => settle(new CallClosedError());
    call.once("close", onClose);
    call.once("error", onClose);
    listen(onResume);
  });
}

/** The runner's call ended while we were still sending: the runner or the connection went away. */
class CallClosedError extends Error {
  override name = "CallClosedError";
  constructor() {
    super("the runner ended the file transfer");
  }
}
