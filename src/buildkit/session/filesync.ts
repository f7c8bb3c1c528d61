// FileSync: the daemon pulls local directories (the build context, the Dockerfile's directory)
// from us. The daemon is the receiver; we run fsutil's sender over DiffCopy: every STAT in walk
// order, an empty STAT, then file contents as the daemon requests them, then FIN.
import { createReadStream } from "node:fs";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { walkContext, type WalkFilter } from "../context/walk.js";
import { FileSync } from "../proto/moby/filesync/v1/filesync_pb.js";
import { Packet_PacketType, PacketSchema, type Packet } from "../proto/fsutil/types/wire_pb.js";
import { StatSchema } from "../proto/fsutil/types/stat_pb.js";
import type { SessionService } from "./tunnel.js";

/** Data packets carry at most this much; the session's gRPC limit is 16 MiB. */
const CHUNK_BYTES = 1024 * 1024;

export interface SyncedDirs {
  /** Local name (context, dockerfile, or a named context) to absolute directory. */
  [name: string]: string;
}

type DiffCopyCall = grpc.ServerDuplexStream<Packet, Packet>;

export function fileSyncService(dirs: SyncedDirs): SessionService {
  return {
    service: FileSync,
    advertise: true,
    implementation: {
      diffCopy: (call: DiffCopyCall) => {
        sendDir(call, dirs).catch((error: Error) => {
          call.write(
            create(PacketSchema, { type: Packet_PacketType.PACKET_ERR, data: Buffer.from(error.message) }),
          );
          call.destroy(error);
        });
      },
      tarStream: (call: DiffCopyCall) =>
        call.destroy(
          Object.assign(new Error("tar stream is not supported"), { code: grpc.status.UNIMPLEMENTED }),
        ),
    },
  };
}

/** Values of a request header; repeated headers arrive joined by ", " through Node's HTTP/2. */
export function headerValues(metadata: grpc.Metadata, key: string): string[] {
  const encoded = metadata.get(`${key}-encoded`).map(String).includes("1");
  const values = metadata.get(key).map(String);
  if (encoded) {
    return values
      .flatMap((value) => value.split(","))
      .map((value) => decodeURIComponent(value.trim().replace(/\+/g, " ")));
  }
  return values.flatMap((value) => value.split(", ")).filter((value) => value !== "");
}

async function sendDir(call: DiffCopyCall, dirs: SyncedDirs): Promise<void> {
  const name = headerValues(call.metadata, "dir-name")[0] ?? "";
  const root = dirs[name];
  if (root === undefined) {
    call.destroy(
      Object.assign(new Error(`no local directory named "${name}"`), { code: grpc.status.NOT_FOUND }),
    );
    return;
  }
  const filter: WalkFilter = {
    includePatterns: headerValues(call.metadata, "include-patterns"),
    excludePatterns: headerValues(call.metadata, "exclude-patterns"),
    followPaths: headerValues(call.metadata, "followpaths"),
  };
  const files = new Map<number, string>();
  const requests = serveRequests(call, files);
  let id = 0;
  for await (const entry of walkContext(root, filter)) {
    if (entry.hasContent) files.set(id, entry.absolutePath);
    id++;
    const stat = create(StatSchema, {
      path: entry.path,
      mode: entry.mode,
      size: entry.size,
      modTime: entry.modTimeNs,
      linkname: entry.linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
    });
    await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_STAT, stat }));
  }
  await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_STAT }));
  await requests;
}

/** Answers REQ packets with file data, until the receiver's FIN. */
function serveRequests(call: DiffCopyCall, files: Map<number, string>): Promise<void> {
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

async function sendFile(call: DiffCopyCall, id: number, files: Map<number, string>): Promise<void> {
  const path = files.get(id);
  if (path === undefined) throw new Error(`the runner requested unknown file id ${id}`);
  files.delete(id);
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  for await (const chunk of stream) {
    await write(
      call,
      create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id, data: chunk as Buffer }),
    );
  }
  await write(call, create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id }));
}

/** Writes with backpressure: waits for 'drain' when the HTTP/2 stream's buffer is full. */
function write(call: DiffCopyCall, packet: Packet): Promise<void> {
  if (call.write(packet)) return Promise.resolve();
  return new Promise((resolve) => call.once("drain", resolve));
}
