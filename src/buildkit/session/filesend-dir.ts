// FileSend for the local exporter: the daemon runs fsutil's sender and we are the receiver. STATs
// come in walk order, then an empty STAT; we REQ files by id, the daemon sends their DATA; then
// our FIN and its FIN. Every path is checked before anything is created (see filesend.ts).
import { constants, type Stats } from "node:fs";
import { link, lutimes, mkdir, open, realpath, rm, symlink, unlink, type FileHandle } from "node:fs/promises";
import { MODE_DIR, MODE_SYMLINK, MODE_TYPE, hasMode } from "../context/stat.js";
import { FileSendError, UnsafeOutputPathError } from "../errors.js";
import { Packet_PacketType } from "../proto/fsutil/types/wire_pb.js";
import type { Stat } from "../proto/fsutil/types/stat_pb.js";
import { BufferedWriter } from "./filesend-file.js";
import {
  consume,
  decodePacket,
  encodePacket,
  type FileSendCall,
  type ReceivedPacket,
} from "./filesend-stream.js";
import { createFile, finishFileMetadata, lstatOrUndefined, makeDir, seconds } from "./safe-fs.js";

export interface DirContext {
  /**
   * Directories created or checked by any transfer of the service: concurrent transfers into one
   * destination (platform-split=false) must never replace one of them with a symlink.
   */
  knownDirs: Set<string>;
  /** File contents requested at once. */
  concurrency: number;
  /** Entries we cannot create (devices, fifos, sockets) are skipped and reported here. */
  onWarning?: (message: string) => void;
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

export async function receiveDir(
  call: FileSendCall,
  destination: string,
  context: DirContext,
): Promise<void> {
  await mkdir(destination, { recursive: true });
  const receiver = new DirReceiver(call, await realpath(destination), destination, context);
  try {
    await consume(call, (message) => receiver.handle(decodePacket(message)), false, context.signal);
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
    private readonly call: FileSendCall,
    private readonly root: string,
    private readonly display: string,
    private readonly context: DirContext,
  ) {
    this.concurrency = context.concurrency;
  }

  /** Handles one packet; true once the transfer is complete (the daemon's FIN after ours). */
  async handle(packet: ReceivedPacket): Promise<boolean> {
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
        // Empty data (no views) ends the file.
        if (packet.data.length > 0) {
          for (const data of packet.data) await file.writer.write(data);
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
          `The runner failed to send the output: ${Buffer.concat(packet.data).toString()}`,
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
      this.context.onWarning?.(
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
