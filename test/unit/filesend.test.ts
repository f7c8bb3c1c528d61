// The FileSend service against a hostile peer: a grpc-js client on a local socket plays the
// daemon and sends crafted fsutil packets to our session server (grpc/server.ts). Each unsafe path must fail the transfer with an error
// naming it, and nothing may be written outside the destination.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { MODE_DIR, MODE_SETUID, MODE_SYMLINK } from "../../src/buildkit/context/stat.js";
import {
  Packet_PacketType,
  PacketSchema,
  type Packet,
} from "../../src/buildkit/proto/fsutil/types/wire_pb.js";
import { BytesMessageSchema } from "../../src/buildkit/proto/moby/filesync/v1/filesync_pb.js";
import { FileSendError, UnsafeOutputPathError } from "../../src/buildkit/errors.js";
import { fileSendService, type FileSendTarget } from "../../src/buildkit/session/filesend.js";
import { BufferedWriter } from "../../src/buildkit/session/filesend-file.js";
import { GrpcServer } from "../../src/buildkit/grpc/server.js";
import { FLOW_CONTROL_WINDOW_BYTES, MAX_MESSAGE_BYTES } from "../../src/buildkit/rpc.js";
import { createServer } from "node:net";
import { tempDir } from "../helpers/temp.js";

const identity = (bytes: Buffer) => bytes;
const PATH = "/moby.filesync.v1.FileSend/DiffCopy";

let work: string;
beforeAll(() => {
  work = tempDir("rb-filesend-");
});

interface Outcome {
  code: grpc.status;
  details: string;
  service: ReturnType<typeof fileSendService>;
}

function encode(init: MessageInitShape<typeof PacketSchema>): Buffer {
  return Buffer.from(toBinary(PacketSchema, create(PacketSchema, init)));
}

function stat(path: string, mode: number, extra: { size?: number; linkname?: string } = {}) {
  return encode({
    type: Packet_PacketType.PACKET_STAT,
    stat: {
      path,
      mode,
      size: BigInt(extra.size ?? 0),
      modTime: 1_600_000_000_123_456_000n,
      linkname: extra.linkname ?? "",
    },
  });
}

/** Serves `service` on a fresh unix socket and opens one DiffCopy call to it, as the daemon does. */
async function withDiffCopyCall<T>(
  service: ReturnType<typeof fileSendService>,
  exporterId: string | undefined,
  use: (call: grpc.ClientDuplexStream<Buffer, Buffer>, status: Promise<grpc.StatusObject>) => Promise<T>,
): Promise<T> {
  const server = new GrpcServer({
    maxReceiveBytes: MAX_MESSAGE_BYTES,
    windowBytes: FLOW_CONTROL_WINDOW_BYTES,
  });
  server.addService(service.definition!, service.implementation);
  const listener = createServer((connection) => server.serve(connection));
  const socket = join(mkdtempSync(join(work, "sock-")), "s.sock");
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(socket, resolve);
  });
  const client = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const metadata = new grpc.Metadata();
    if (exporterId !== undefined) metadata.set("buildkit-attachable-exporter-id", exporterId);
    const call = client.makeBidiStreamRequest(PATH, identity, identity, metadata, {
      deadline: Date.now() + 10_000,
    });
    const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    return await use(call, status);
  } finally {
    client.close();
    server.close();
    listener.close();
  }
}

/**
 * Serves `targets` on a unix socket and plays fsutil's sender: `stats` (then the empty STAT),
 * DATA for each REQ from `contents` (by STAT index), FIN after the receiver's FIN.
 */
async function transfer(
  targets: FileSendTarget[],
  stats: Buffer[],
  contents: Record<number, Buffer> = {},
  exporterId?: string,
  packetBytes = 7,
): Promise<Outcome> {
  const service = fileSendService(targets, { concurrency: 2 });
  return withDiffCopyCall(service, exporterId, async (call, status) => {
    call.on("error", () => {});
    call.on("data", (raw: Buffer) => {
      const packet: Packet = fromBinary(PacketSchema, raw);
      if (packet.type === Packet_PacketType.PACKET_REQ) {
        const data = contents[packet.id] ?? Buffer.alloc(0);
        for (let offset = 0; offset < data.length; offset += packetBytes) {
          call.write(
            encode({
              type: Packet_PacketType.PACKET_DATA,
              id: packet.id,
              data: data.subarray(offset, offset + packetBytes),
            }),
          );
        }
        call.write(encode({ type: Packet_PacketType.PACKET_DATA, id: packet.id }));
      } else if (packet.type === Packet_PacketType.PACKET_FIN) {
        call.write(encode({ type: Packet_PacketType.PACKET_FIN }));
        call.end();
      }
    });
    for (const packet of stats) call.write(packet);
    call.write(encode({ type: Packet_PacketType.PACKET_STAT }));
    const { code, details } = await status;
    await service.idle();
    return { code, details, service };
  });
}

/** A fresh destination and, next to it, an outside directory that must stay untouched. */
function places(name: string): { dest: string; outside: string } {
  const base = mkdtempSync(join(work, `${name}-`));
  const dest = join(base, "dest");
  const outside = join(base, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "secret"), "secret");
  return { dest, outside };
}

function assertRefused(outcome: Outcome, path: string) {
  assert.notEqual(outcome.code, grpc.status.OK, "the transfer should fail");
  assert.ok(outcome.details.includes(JSON.stringify(path)), `error names ${path}: ${outcome.details}`);
  const failure = outcome.service.failure();
  assert.ok(failure instanceof UnsafeOutputPathError, String(failure));
  assert.equal(failure.path, path);
  assert.equal(outcome.code, grpc.status.PERMISSION_DENIED);
}

function assertOutsideUntouched(outside: string) {
  assert.equal(readFileSync(join(outside, "secret"), "utf8"), "secret");
  assert.deepEqual(
    existsSync(join(outside, "x")) || existsSync(join(outside, "..", "x")),
    false,
    "nothing written outside",
  );
}

describe("FileSend local receiver", () => {
  it("receives dirs, files with special modes, symlinks, hardlinks and mtimes", async () => {
    const { dest } = places("ok");
    const big = Buffer.alloc(100_000, "z");
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [
        stat("d", MODE_DIR + 0o755),
        stat("d/f", MODE_SETUID + 0o755, { size: 5 }),
        stat("d/h", 0o755, { linkname: "d/f", size: 5 }),
        stat("d/l", MODE_SYMLINK + 0o777, { linkname: "f" }),
        stat("e", 0o644),
        stat("ro", MODE_DIR + 0o555),
        stat("ro/big", 0o444, { size: big.length }),
      ],
      { 1: Buffer.from("hello"), 6: big },
    );
    assert.equal(outcome.code, grpc.status.OK, outcome.details);
    assert.equal(readFileSync(join(dest, "d/f"), "utf8"), "hello");
    assert.equal(lstatSync(join(dest, "d/f")).mode & 0o7777, 0o4755);
    assert.equal(lstatSync(join(dest, "d/h")).ino, lstatSync(join(dest, "d/f")).ino);
    assert.equal(readlinkSync(join(dest, "d/l")), "f");
    assert.equal(lstatSync(join(dest, "e")).size, 0);
    assert.equal(lstatSync(join(dest, "ro")).mode & 0o7777, 0o555);
    assert.deepEqual(readFileSync(join(dest, "ro/big")), big);
    assert.equal(lstatSync(join(dest, "ro/big")).mode & 0o7777, 0o444);
    for (const path of ["d", "d/f", "d/l", "e", "ro", "ro/big"]) {
      assert.equal(
        lstatSync(join(dest, path), { bigint: true }).mtimeNs / 1000n,
        1_600_000_000_123_456n,
        path,
      );
    }
  });

  it("receives packets split across HTTP/2 frames whole, as fsutil's 32 KiB packets are", async () => {
    const { dest } = places("split");
    const first = randomBytes(1_500_000);
    const second = randomBytes(40_000);
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [stat("a", 0o644, { size: first.length }), stat("b", 0o644, { size: second.length })],
      { 0: first, 1: second },
      undefined,
      32 * 1024 + 3,
    );
    assert.equal(outcome.code, grpc.status.OK, outcome.details);
    assert.ok(readFileSync(join(dest, "a")).equals(first));
    assert.ok(readFileSync(join(dest, "b")).equals(second));
  });

  it("routes by exporter id and writes a stream target's bytes", async () => {
    const { dest, outside } = places("stream");
    const service = fileSendService([
      { kind: "dir", dir: dest },
      { kind: "file", path: join(outside, "out.tar") },
    ]);
    // The large part is split across HTTP/2 frames.
    const parts = [Buffer.from("abc"), Buffer.alloc(0), Buffer.from("defg"), randomBytes(100_000)];
    await withDiffCopyCall(service, "1", async (call, status) => {
      call.on("data", () => {});
      for (const part of parts) {
        call.write(Buffer.from(toBinary(BytesMessageSchema, create(BytesMessageSchema, { data: part }))));
      }
      call.end();
      assert.equal((await status).code, grpc.status.OK);
      await service.idle();
      assert.ok(readFileSync(join(outside, "out.tar")).equals(Buffer.concat(parts)));
    });
  });

  it("refuses ../x", async () => {
    const { dest, outside } = places("dotdot");
    const outcome = await transfer([{ kind: "dir", dir: dest }], [stat("../x", 0o644, { size: 3 })], {
      0: Buffer.from("bad"),
    });
    assertRefused(outcome, "../x");
    assertOutsideUntouched(outside);
  });

  it("refuses a path with .. inside it", async () => {
    const { dest, outside } = places("inner");
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [stat("d", MODE_DIR + 0o755), stat("d/../../outside/x", 0o644, { size: 3 })],
      { 1: Buffer.from("bad") },
    );
    assertRefused(outcome, "d/../../outside/x");
    assertOutsideUntouched(outside);
  });

  it("refuses an absolute path", async () => {
    const { dest, outside } = places("absolute");
    const target = join(outside, "x");
    const outcome = await transfer([{ kind: "dir", dir: dest }], [stat(target, 0o644, { size: 3 })], {
      0: Buffer.from("bad"),
    });
    assertRefused(outcome, target);
    assert.equal(existsSync(target), false);
    assertOutsideUntouched(outside);
  });

  it("refuses a path through a symlink received earlier", async () => {
    const { dest, outside } = places("through");
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [stat("a", MODE_SYMLINK + 0o777, { linkname: outside }), stat("a/x", 0o644, { size: 3 })],
      { 1: Buffer.from("bad") },
    );
    assertRefused(outcome, "a/x");
    assert.match(outcome.details, /symlink "a"/);
    assertOutsideUntouched(outside);
  });

  it("refuses a path through a symlink already in the destination", async () => {
    const { dest, outside } = places("existing");
    mkdirSync(dest);
    symlinkSync(outside, join(dest, "pre"));
    const outcome = await transfer([{ kind: "dir", dir: dest }], [stat("pre/x", 0o644, { size: 3 })], {
      0: Buffer.from("bad"),
    });
    assertRefused(outcome, "pre/x");
    assertOutsideUntouched(outside);
  });

  it("refuses a symlink directory replaced under a later entry (a/x after a -> outside)", async () => {
    const { dest, outside } = places("dirlink");
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [stat("a", MODE_SYMLINK + 0o777, { linkname: "../outside" }), stat("a/secret", 0o644, { size: 3 })],
      { 1: Buffer.from("bad") },
    );
    assertRefused(outcome, "a/secret");
    assertOutsideUntouched(outside);
  });

  it("refuses a hardlink to ../../etc/passwd", async () => {
    const { dest, outside } = places("hardlink");
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [stat("h", 0o644, { linkname: "../../etc/passwd" })],
    );
    assertRefused(outcome, "h");
    assert.match(outcome.details, /\.\.\/\.\.\/etc\/passwd/);
    assert.equal(existsSync(join(dest, "h")), false);
    assertOutsideUntouched(outside);
  });

  it("refuses a hardlink through a symlink to a file outside", async () => {
    const { dest, outside } = places("hardlink-symlink");
    const outcome = await transfer(
      [{ kind: "dir", dir: dest }],
      [stat("a", MODE_SYMLINK + 0o777, { linkname: outside }), stat("h", 0o644, { linkname: "a/secret" })],
    );
    assertRefused(outcome, "h");
    assert.equal(existsSync(join(dest, "h")), false);
    assertOutsideUntouched(outside);
  });

  it("fails a call for an exporter index that has no target", async () => {
    const { dest } = places("protocol");
    const unknown = await transfer([{ kind: "dir", dir: dest }], [], {}, "3");
    assert.notEqual(unknown.code, grpc.status.OK);
    assert.match(unknown.details, /output 3/);
    assert.ok(unknown.service.failure() instanceof FileSendError);
  });
});

describe("BufferedWriter", () => {
  it("writes every byte in order while the next chunks collect behind a write on its way", async () => {
    const path = join(work, "buffered");
    const handle = await open(path, "w");
    const expected: Buffer[] = [];
    try {
      const writer = new BufferedWriter(handle);
      // Chunk sizes that cross the 1 MiB write size at every offset, some larger than it.
      for (const size of [1, 32_768, 1_048_575, 2, 3_000_000, 16_384, 700_000, 500_000, 7]) {
        const chunk = randomBytes(size);
        expected.push(chunk);
        await writer.write(chunk);
      }
      await writer.flush();
      assert.equal(writer.written, Buffer.concat(expected).length);
    } finally {
      await handle.close();
    }
    assert.ok(readFileSync(path).equals(Buffer.concat(expected)));
  });

  it("fails the next write or flush when a write on its way failed", async () => {
    const path = join(work, "read-only");
    writeFileSync(path, "");
    const handle = await open(path, "r");
    try {
      const writer = new BufferedWriter(handle);
      // Starts a write (of a file opened read-only: EBADF) and returns while it is on its way.
      await writer.write(randomBytes(2 * 1024 * 1024));
      await assert.rejects(writer.flush(), { code: "EBADF" });
    } finally {
      await handle.close();
    }
  });
});
