// FileSend: the daemon pushes build outputs to us. One method carries two formats. For the
// `local` exporter the daemon runs fsutil's sender, so the messages are fsutil Packets and we are
// the receiver: STATs in walk order, an empty STAT, our REQs by file id, its DATA, our FIN, its
// FIN. For `tar`, `oci` and `docker` the messages are BytesMessages holding the file's bytes,
// ended by the daemon's half-close. The request header buildkit-attachable-exporter-id names the
// exporter's index in the Solve request; daemons before v0.13 send no header and only one
// exporter, index 0. Multi-platform local outputs arrive as one concurrent call per platform.
//
// Safety: every received path is checked before anything is created. Paths must be clean and
// relative, every parent must be a real directory (checked with lstat, never through a symlink),
// hardlinks may only point at files received earlier in the same transfer, and files are
// created with O_EXCL | O_NOFOLLOW, so nothing outside the destination is ever written.
import { constants, type Stats } from "node:fs";
import {
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  realpath,
  rm,
  symlink,
  unlink,
  type FileHandle,
} from "node:fs/promises";
import { dirname } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  MODE_DIR,
  MODE_SETGID,
  MODE_SETUID,
  MODE_STICKY,
  MODE_SYMLINK,
  MODE_TYPE,
  hasMode,
} from "../context/stat.js";
import { BuildkitError } from "../errors.js";
import { Packet_PacketType, PacketSchema, type Packet } from "../proto/fsutil/types/wire_pb.js";
import type { Stat } from "../proto/fsutil/types/stat_pb.js";
import { BytesMessageSchema, FileSend } from "../proto/moby/filesync/v1/filesync_pb.js";
import { headerValues } from "./filesync.js";
import type { SessionService } from "./tunnel.js";

/** Where one exporter's output goes: a directory (local) or a file (tar, oci, docker). */
export type FileSendTarget = { kind: "dir"; dir: string } | { kind: "file"; path: string };

export interface FileSendOptions {
  /** Cancels every transfer in progress. */
  signal?: AbortSignal;
  /** File contents requested at once per transfer; the daemon sends 4 files at a time. */
  concurrency?: number;
  /** Entries we cannot create (devices, fifos, sockets) are skipped and reported here. */
  onWarning?: (message: string) => void;
}

export interface FileSendService extends SessionService {
  /** The first transfer failure, as our typed error: the build's own error only wraps it. */
  failure(): FileSendError | undefined;
  /** Resolves once no transfer is running. */
  idle(): Promise<void>;
}

/** A build output could not be received. */
export class FileSendError extends BuildkitError {
  override name = "FileSendError";
}

/** The runner sent a path that would land outside the destination; nothing was written there. */
export class UnsafeOutputPathError extends FileSendError {
  override name = "UnsafeOutputPathError";
  constructor(
    readonly path: string,
    readonly destination: string,
    reason: string,
  ) {
    super(`Refused the output path ${JSON.stringify(path)} from the runner: ${reason} ${destination}.`);
  }
}

const EXPORTER_ID_HEADER = "buildkit-attachable-exporter-id";
const DEFAULT_CONCURRENCY = 16;
/** Received bytes are collected up to this much per file before one write. */
const WRITE_BYTES = 1024 * 1024;
/** Packets waiting to be handled before the call is paused (backpressure to the daemon). */
const HIGH_WATER_PACKETS = 64;

const identity = (bytes: Buffer) => bytes;

/** The FileSend service for a session; `targets[i]` receives the output of Solve exporter i. */
export function fileSendService(
  targets: ReadonlyArray<FileSendTarget | undefined>,
  options: FileSendOptions = {},
): FileSendService {
  let firstFailure: FileSendError | undefined;
  const running = new Set<Promise<void>>();
  // Directories created or checked by any transfer of this service: concurrent transfers into
  // one destination (platform-split=false) must never replace one of them with a symlink.
  const knownDirs = new Set<string>();

  const diffCopy = (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    const index = exporterIndex(call.metadata);
    const target = targets[index];
    const controller = new AbortController();
    const abort = () => controller.abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    call.on("cancelled", abort);
    const work = (async () => {
      if (target === undefined)
        throw new FileSendError(`The runner sent output ${index}, which this build did not ask for.`);
      if (target.kind === "dir") {
        await receiveDir(call, target.dir, { knownDirs, options, signal: controller.signal });
      } else {
        await receiveFile(call, target.path, controller.signal);
      }
    })().then(
      () => {
        call.end();
      },
      (error: unknown) => {
        const failure = asFileSendError(error, target);
        firstFailure ??= failure;
        if (target?.kind === "dir" && !call.cancelled) {
          // fsutil's sender reads an ERR packet as the receiver's error, as fsutil's receiver sends.
          call.write(
            encodePacket({ type: Packet_PacketType.PACKET_ERR, data: Buffer.from(failure.message) }),
          );
        }
        const code =
          failure instanceof UnsafeOutputPathError ? grpc.status.PERMISSION_DENIED : grpc.status.UNKNOWN;
        // grpc-js sends an 'error' emitted on a server stream as the call's status.
        call.emit("error", Object.assign(new Error(failure.message), { code, details: failure.message }));
      },
    );
    const tracked = work.finally(() => {
      options.signal?.removeEventListener("abort", abort);
      running.delete(tracked);
    });
    running.add(tracked);
  };

  return {
    service: FileSend,
    advertise: true,
    definition: {
      diffCopy: {
        path: `/${FileSend.typeName}/${FileSend.method.diffCopy.name}`,
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
        originalName: FileSend.method.diffCopy.name,
      },
    },
    implementation: { diffCopy },
    failure: () => firstFailure,
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

/** The Solve exporter index the call is for; 0 when absent, as daemons before v0.13 send it. */
export function exporterIndex(metadata: grpc.Metadata): number {
  const value = headerValues(metadata, EXPORTER_ID_HEADER)[0];
  if (value === undefined || !/^\d+$/.test(value.trim())) return 0;
  return Number(value.trim());
}

function asFileSendError(error: unknown, target: FileSendTarget | undefined): FileSendError {
  if (error instanceof FileSendError) return error;
  const where = target === undefined ? "" : ` into ${target.kind === "dir" ? target.dir : target.path}`;
  const message = error instanceof Error ? error.message : String(error);
  return new FileSendError(`Receiving a build output${where} failed: ${message}`);
}

function encodePacket(init: Partial<Pick<Packet, "type" | "id" | "data">>): Buffer {
  const bytes = toBinary(PacketSchema, create(PacketSchema, init));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Hands the call's messages to `handle` one at a time, in order, pausing the call while too
 * many wait. Resolves when `handle` returns true, or at the end of the stream if `endIsDone`.
 */
function consume(
  call: grpc.ServerDuplexStream<Buffer, Buffer>,
  handle: (message: Buffer) => Promise<boolean>,
  endIsDone: boolean,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let chain = Promise.resolve();
    let waiting = 0;
    let settled = false;
    const cleanup = () => {
      settled = true;
      call.off("data", onData);
      call.off("end", onEnd);
      call.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      cleanup();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const succeed = () => {
      if (settled) return;
      cleanup();
      resolve();
    };
    const onData = (message: Buffer) => {
      waiting++;
      if (waiting >= HIGH_WATER_PACKETS) call.pause();
      chain = chain
        .then(async () => {
          if (settled) return;
          const done = await handle(message);
          waiting--;
          if (waiting < HIGH_WATER_PACKETS / 4) call.resume();
          if (done) succeed();
        })
        .catch(fail);
    };
    const onEnd = () => {
      chain = chain.then(() => {
        if (endIsDone) succeed();
        else fail(new FileSendError("The runner ended the output transfer before it was complete."));
      }, fail);
    };
    const onError = (error: Error) => fail(new FileSendError(`The output transfer failed: ${error.message}`));
    const onAbort = () => fail(new FileSendError("The output transfer was cancelled."));
    if (signal.aborted) return onAbort();
    call.on("data", onData);
    call.on("end", onEnd);
    call.on("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

// ---- tar, oci and docker: one file -----------------------------------------------------------

async function receiveFile(
  call: grpc.ServerDuplexStream<Buffer, Buffer>,
  path: string,
  signal: AbortSignal,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, "w");
  try {
    const writer = new BufferedWriter(file);
    await consume(
      call,
      async (message) => {
        await writer.write(fromBinary(BytesMessageSchema, message).data);
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

/** Collects chunks up to WRITE_BYTES and writes them with one call. */
class BufferedWriter {
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  written = 0;

  constructor(private readonly file: FileHandle) {}

  async write(data: Uint8Array): Promise<void> {
    if (data.byteLength === 0) return;
    this.chunks.push(data);
    this.bytes += data.byteLength;
    if (this.bytes >= WRITE_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    let chunks = this.chunks;
    this.chunks = [];
    this.bytes = 0;
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

// ---- local: fsutil receiver into a directory ---------------------------------------------------

interface DirContext {
  knownDirs: Set<string>;
  options: FileSendOptions;
  signal: AbortSignal;
}

interface WantedFile {
  id: number;
  absolute: string;
  stat: Stat;
}

interface OpenFile extends WantedFile {
  handle: FileHandle;
  writer: BufferedWriter;
}

async function receiveDir(
  call: grpc.ServerDuplexStream<Buffer, Buffer>,
  destination: string,
  context: DirContext,
): Promise<void> {
  await mkdir(destination, { recursive: true });
  const receiver = new DirReceiver(call, await realpath(destination), destination, context);
  try {
    await consume(
      call,
      (message) => receiver.handle(fromBinary(PacketSchema, message)),
      false,
      context.signal,
    );
  } finally {
    await receiver.closeAll();
  }
}

class DirReceiver {
  private nextId = 0;
  private statsDone = false;
  private finSent = false;
  private readonly seen = new Set<string>();
  /** Regular files received in this transfer: the only valid hardlink targets. */
  private readonly regularFiles = new Set<string>();
  private readonly wanted: (WantedFile | undefined)[] = [];
  private wantedNext = 0;
  private readonly open = new Map<number, OpenFile>();
  private readonly hardlinks: { absolute: string; target: string }[] = [];
  private readonly dirs: { absolute: string; stat: Stat }[] = [];
  private readonly concurrency: number;

  constructor(
    private readonly call: grpc.ServerDuplexStream<Buffer, Buffer>,
    private readonly root: string,
    private readonly display: string,
    private readonly context: DirContext,
  ) {
    this.concurrency = Math.max(1, context.options.concurrency ?? DEFAULT_CONCURRENCY);
  }

  /** Handles one packet; true once the transfer is complete (the daemon's FIN after ours). */
  async handle(packet: Packet): Promise<boolean> {
    switch (packet.type) {
      case Packet_PacketType.PACKET_STAT:
        if (this.statsDone) throw new FileSendError("The runner sent a file after the end of the output.");
        if (packet.stat === undefined) {
          this.statsDone = true;
        } else {
          await this.onStat(packet.stat, this.nextId);
          this.nextId++;
        }
        await this.requestMore();
        await this.finishIfDone();
        return false;
      case Packet_PacketType.PACKET_DATA: {
        const file = this.open.get(packet.id);
        if (file === undefined) {
          throw new FileSendError(`The runner sent data for file id ${packet.id}, which was not requested.`);
        }
        if (packet.data.byteLength > 0) {
          await file.writer.write(packet.data);
          return false;
        }
        this.open.delete(packet.id);
        await this.completeFile(file);
        await this.requestMore();
        await this.finishIfDone();
        return false;
      }
      case Packet_PacketType.PACKET_FIN:
        if (!this.finSent) throw new FileSendError("The runner ended the output before sending all of it.");
        return true;
      case Packet_PacketType.PACKET_ERR:
        throw new FileSendError(
          `The runner failed to send the output: ${Buffer.from(packet.data).toString()}`,
        );
      default:
        throw new FileSendError(`The runner sent an unexpected packet of type ${packet.type}.`);
    }
  }

  /** Closes the files still open after a failure. */
  async closeAll(): Promise<void> {
    const files = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(files.map((file) => file.handle.close()));
  }

  private async onStat(stat: Stat, id: number): Promise<void> {
    const relative = this.checkPath(stat.path, stat.path);
    if (this.seen.has(relative))
      throw new FileSendError(`The runner sent the output path "${relative}" twice.`);
    this.seen.add(relative);
    const absolute = `${this.root}/${relative}`;
    await this.checkParents(relative);
    const existing = await lstatOrUndefined(absolute);
    const mode = stat.mode;

    if (hasMode(mode, MODE_DIR)) {
      if (existing === undefined || !existing.isDirectory()) {
        if (existing !== undefined) await this.removeExisting(absolute, existing);
        await makeDir(absolute);
      }
      this.context.knownDirs.add(absolute);
      this.dirs.push({ absolute, stat });
      return;
    }
    if (existing !== undefined) await this.removeExisting(absolute, existing);

    if (hasMode(mode, MODE_SYMLINK)) {
      // Symlink targets may point anywhere: they are data. Only paths *through* them are refused.
      await symlink(stat.linkname, absolute);
      const time = seconds(stat.modTime);
      await lutimes(absolute, time, time);
    } else if (hasMode(mode, MODE_TYPE)) {
      this.context.options.onWarning?.(
        `Skipped "${relative}" of the output: devices, fifos and sockets cannot be created here.`,
      );
    } else if (stat.linkname !== "") {
      const target = this.checkPath(
        stat.linkname,
        relative,
        `a hardlink to ${JSON.stringify(stat.linkname)}`,
      );
      if (!this.regularFiles.has(target)) {
        throw new UnsafeOutputPathError(
          relative,
          this.display,
          `it is a hardlink to ${JSON.stringify(stat.linkname)}, which is not a file received earlier in`,
        );
      }
      // Made at the end, once every file exists: the target may still be waiting for its data.
      this.hardlinks.push({ absolute, target: `${this.root}/${target}` });
    } else {
      this.regularFiles.add(relative);
      if (stat.size === 0n) {
        const handle = await createFile(absolute);
        await finishFileMetadata(handle, stat);
      } else {
        this.wanted.push({ id, absolute, stat });
      }
    }
  }

  /** A clean relative path, or UnsafeOutputPathError naming `shown`. */
  private checkPath(path: string, shown: string, what = "it"): string {
    const outside = `${what} would land outside`;
    if (path === "" || path.includes("\0")) {
      throw new UnsafeOutputPathError(shown, this.display, `${what} is not a valid path in`);
    }
    if (path.startsWith("/")) throw new UnsafeOutputPathError(shown, this.display, `${outside}`);
    const parts = path.split("/");
    if (parts.includes("..")) throw new UnsafeOutputPathError(shown, this.display, outside);
    if (parts.some((part) => part === "" || part === ".")) {
      throw new UnsafeOutputPathError(shown, this.display, `${what} is not a clean relative path in`);
    }
    return path;
  }

  /** Every parent of `relative` must be a real directory inside the root, never a symlink. */
  private async checkParents(relative: string): Promise<void> {
    const parts = relative.split("/");
    let current = this.root;
    for (let index = 0; index < parts.length - 1; index++) {
      current = `${current}/${parts[index]}`;
      if (this.context.knownDirs.has(current)) continue;
      const stats = await lstatOrUndefined(current);
      const parent = parts.slice(0, index + 1).join("/");
      if (stats?.isSymbolicLink()) {
        throw new UnsafeOutputPathError(relative, this.display, `it goes through the symlink "${parent}" in`);
      }
      if (stats === undefined || !stats.isDirectory()) {
        throw new FileSendError(
          `The runner sent the output path "${relative}" without its directory "${parent}".`,
        );
      }
      this.context.knownDirs.add(current);
    }
  }

  /** Replaces what a previous export left at a path (buildctl merges into the destination too). */
  private async removeExisting(absolute: string, existing: Stats): Promise<void> {
    if (!existing.isDirectory()) {
      await unlink(absolute);
      return;
    }
    if (this.context.knownDirs.has(absolute)) {
      throw new FileSendError(
        `The runner sent "${absolute.slice(this.root.length + 1)}" both as a directory and as a file.`,
      );
    }
    // rm does not follow symlinks inside the tree it removes.
    await rm(absolute, { recursive: true, force: true });
  }

  /** Sends REQs until `concurrency` files are open; each file is created as it is requested. */
  private async requestMore(): Promise<void> {
    while (this.open.size < this.concurrency && this.wantedNext < this.wanted.length) {
      const wanted = this.wanted[this.wantedNext]!;
      // Drop the entry so a large output does not keep every Stat until the end.
      this.wanted[this.wantedNext] = undefined;
      this.wantedNext++;
      const handle = await createFile(wanted.absolute);
      this.open.set(wanted.id, { ...wanted, handle, writer: new BufferedWriter(handle) });
      this.call.write(encodePacket({ type: Packet_PacketType.PACKET_REQ, id: wanted.id }));
    }
  }

  private async completeFile(file: OpenFile): Promise<void> {
    try {
      await file.writer.flush();
      await finishFileMetadata(file.handle, file.stat, false);
    } finally {
      await file.handle.close();
    }
  }

  /** After the last STAT and the last file: hardlinks, directory metadata, then our FIN. */
  private async finishIfDone(): Promise<void> {
    if (this.finSent || !this.statsDone || this.open.size > 0 || this.wantedNext < this.wanted.length) return;
    for (const { absolute, target } of this.hardlinks) await link(target, absolute);
    // Directories last, since creating their entries changed their mtimes; a directory's
    // permissions may also forbid creating entries in it.
    for (const { absolute, stat } of this.dirs) {
      const handle = await open(absolute, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      await finishFileMetadata(handle, stat);
    }
    this.finSent = true;
    this.call.write(encodePacket({ type: Packet_PacketType.PACKET_FIN }));
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A directory we can fill whatever its final mode; another transfer may have just made it. */
async function makeDir(absolute: string): Promise<void> {
  try {
    await mkdir(absolute, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const stats = await lstat(absolute);
    if (!stats.isDirectory()) throw error;
  }
}

/** A new file, never an existing one nor through a symlink; writable by us until it is done. */
function createFile(absolute: string): Promise<FileHandle> {
  return open(
    absolute,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
}

/** Sets the final mode (with setuid, setgid, sticky) and mtime through the handle; closes it. */
async function finishFileMetadata(handle: FileHandle, stat: Stat, close = true): Promise<void> {
  try {
    // After the data: a write by an unprivileged process clears setuid and setgid.
    await handle.chmod(unixPermissions(stat.mode));
    const time = seconds(stat.modTime);
    await handle.utimes(time, time);
  } finally {
    if (close) await handle.close();
  }
}

/** Go FileMode permission and special bits as unix st_mode bits. */
export function unixPermissions(goMode: number): number {
  let mode = goMode & 0o777;
  if (hasMode(goMode, MODE_SETUID)) mode |= 0o4000;
  if (hasMode(goMode, MODE_SETGID)) mode |= 0o2000;
  if (hasMode(goMode, MODE_STICKY)) mode |= 0o1000;
  return mode;
}

/**
 * Unix nanoseconds as the fractional seconds Node's utimes takes. A double near today's time
 * resolves about 240 ns and libuv truncates it to nanoseconds, so half a microsecond is added:
 * the microseconds come out exact, the nanoseconds below them do not.
 */
function seconds(nanoseconds: bigint): number {
  return (Number(nanoseconds / 1000n) + 0.5) / 1e6;
}
