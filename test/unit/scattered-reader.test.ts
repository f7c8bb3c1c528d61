// Decoding messages that lie in several buffers (session/filesend-stream.ts, scattered-reader.ts):
// protobuf-es's encodings, split at every byte, must decode as protobuf-es decodes them whole.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StatSchema } from "../../src/buildkit/proto/fsutil/types/stat_pb.js";
import { Packet_PacketType, PacketSchema } from "../../src/buildkit/proto/fsutil/types/wire_pb.js";
import { BytesMessageSchema } from "../../src/buildkit/proto/moby/filesync/v1/filesync_pb.js";
import { bytesMessageData, decodePacket } from "../../src/buildkit/session/filesend-stream.js";
import { ScatteredReader } from "../../src/buildkit/scattered-reader.js";

/** `bytes` cut at `cuts` (offsets), with an empty piece thrown in at each cut. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(start, cut), Buffer.alloc(0));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

describe("decodePacket", () => {
  const stat = create(StatSchema, {
    path: "dir/file",
    mode: 0o100644,
    size: 300n,
    modTime: -5n,
    linkname: "x",
  });
  const packets = [
    create(PacketSchema, { type: Packet_PacketType.PACKET_STAT, stat }),
    create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id: 4_000_000_000, data: randomBytes(300) }),
    create(PacketSchema, { type: Packet_PacketType.PACKET_DATA, id: 7 }),
    create(PacketSchema, { type: Packet_PacketType.PACKET_FIN }),
  ];

  it("decodes every packet split in two and three at every offset as fromBinary does whole", () => {
    for (const packet of packets) {
      const bytes = Buffer.from(toBinary(PacketSchema, packet));
      const expected = fromBinary(PacketSchema, bytes);
      for (let first = 0; first <= bytes.length; first++) {
        for (const cuts of [[first], [first, Math.min(bytes.length, first + 3)]]) {
          const decoded = decodePacket(split(bytes, cuts));
          assert.equal(decoded.type, expected.type);
          assert.equal(decoded.id, expected.id);
          assert.ok(Buffer.concat(decoded.data).equals(Buffer.from(expected.data)), `data cut at ${cuts}`);
          // No empty views: empty data is no views at all, which ends a file (filesend-dir.ts).
          assert.ok(
            decoded.data.every((view) => view.length > 0),
            `an empty view, cut at ${cuts}`,
          );
          assert.deepEqual(decoded.stat, expected.stat);
        }
      }
    }
  });

  it("skips unknown fields of every wire type, and keeps the last data and merged stats", () => {
    const unknown = Buffer.from([
      ...[(9 << 3) | 0, 0x96, 0x01], // varint
      ...[(10 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8], // fixed64
      ...[(11 << 3) | 2, 2, 0xaa, 0xbb], // length-delimited
      ...[(12 << 3) | 5, 1, 2, 3, 4], // fixed32
    ]);
    const encode = (init: Parameters<typeof create<typeof PacketSchema>>[1]) =>
      Buffer.from(toBinary(PacketSchema, create(PacketSchema, init)));
    const bytes = Buffer.concat([
      encode({ type: Packet_PacketType.PACKET_DATA, data: Buffer.from("first") }),
      unknown,
      encode({ stat: create(StatSchema, { path: "p" }) }),
      encode({ data: Buffer.from("last"), stat: create(StatSchema, { size: 9n }) }),
    ]);
    const decoded = decodePacket([bytes]);
    assert.equal(decoded.type, Packet_PacketType.PACKET_DATA);
    assert.equal(Buffer.concat(decoded.data).toString(), "last");
    assert.equal(decoded.stat?.path, "p");
    assert.equal(decoded.stat?.size, 9n);
  });

  it("refuses a packet cut short inside a field, and a malformed varint", () => {
    const bytes = Buffer.from(toBinary(PacketSchema, packets[1]!));
    assert.throws(() => decodePacket([bytes.subarray(0, bytes.length - 1)]), /past the end/);
    assert.throws(() => new ScatteredReader([Buffer.alloc(11, 0xff)]).varint(), /malformed varint/);
    assert.throws(() => decodePacket([Buffer.from([(1 << 3) | 3])]), /wire type 3/);
  });
});

describe("bytesMessageData", () => {
  it("gives the data of a BytesMessage split anywhere as views, none for an empty one", () => {
    const data = randomBytes(1000);
    const bytes = Buffer.from(toBinary(BytesMessageSchema, create(BytesMessageSchema, { data })));
    for (let cut = 0; cut <= bytes.length; cut += 7) {
      const pieces = split(bytes, [cut]);
      const views = bytesMessageData(pieces);
      assert.ok(Buffer.concat(views).equals(data), `cut at ${cut}`);
      // Views of the pieces, not copies.
      assert.ok(views.every((view) => pieces.some((piece) => piece.buffer === view.buffer)));
    }
    assert.deepEqual(bytesMessageData([Buffer.alloc(0)]), []);
  });
});
