// The hand-written STAT packet encoder must write exactly what protobuf-es writes for the same
// packet, for every shape of entry a walk produces (and the odd values it could).
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { encodeStatPacket, type StatFields } from "../../src/buildkit/session/stat-packet.js";
import { preEncoded, serializer } from "../../src/buildkit/encoder.js";
import { Packet_PacketType, PacketSchema } from "../../src/buildkit/proto/fsutil/types/wire_pb.js";
import { StatSchema } from "../../src/buildkit/proto/fsutil/types/stat_pb.js";

const MODE_DIR = 2 ** 31;

function reference(stat: StatFields): Buffer {
  const packet = create(PacketSchema, {
    type: Packet_PacketType.PACKET_STAT,
    stat: create(StatSchema, { ...stat, modTime: stat.modTimeNs }),
  });
  return Buffer.from(toBinary(PacketSchema, packet));
}

const base: StatFields = {
  path: "src/main.go",
  mode: 0o644,
  size: 1234n,
  modTimeNs: 1_763_856_000_123_456_789n,
  linkname: "",
  devmajor: 0n,
  devminor: 0n,
};

const cases: [string, Partial<StatFields>][] = [
  ["a regular file", {}],
  ["a directory (mode bit 31, size 0)", { path: "src", mode: (MODE_DIR | 0o755) >>> 0, size: 0n }],
  ["a symlink", { path: "link", mode: ((2 ** 27) | 0o777) >>> 0, linkname: "../target with space" }],
  ["a hard link", { path: "b", linkname: "a" }],
  ["a device", { path: "dev/null", mode: ((2 ** 26) | (2 ** 21) | 0o666) >>> 0, devmajor: 1n, devminor: 3n }],
  ["all defaults", { path: "", mode: 0, size: 0n, modTimeNs: 0n }],
  ["a non-ASCII name", { path: "données/日本語 ☃.txt" }],
  ["a 127-byte name", { path: "p".repeat(127) }],
  ["a 128-byte name", { path: "p".repeat(128) }],
  ["a 20,000-byte name (a three-byte length)", { path: "p".repeat(20_000), linkname: "l".repeat(300) }],
  ["a size over 2^32", { size: 2n ** 40n + 7n }],
  ["the largest int64", { size: 2n ** 63n - 1n, modTimeNs: 2n ** 63n - 1n }],
  ["an mtime before 1970 (negative)", { modTimeNs: -1_000_000_000n }],
  ["an mtime of -1", { modTimeNs: -1n }],
  ["an mtime just under 2^32", { modTimeNs: 0xffffffffn }],
  ["an mtime of 2^32", { modTimeNs: 0x100000000n }],
  ["the largest mode", { mode: 0xffffffff }],
];

describe("encodeStatPacket", () => {
  for (const [name, change] of cases) {
    it(`writes toBinary's bytes for ${name}`, () => {
      const stat = { ...base, ...change };
      assert.deepEqual(encodeStatPacket(stat), reference(stat));
    });
  }

  it("is sent as it is by the serializer, and decodes to the same stat", () => {
    const stat = { ...base, path: "a/b", linkname: "c" };
    const bytes = serializer(PacketSchema)(preEncoded(PacketSchema, encodeStatPacket(stat)));
    assert.deepEqual(bytes, reference(stat));
    const decoded = fromBinary(PacketSchema, bytes);
    assert.equal(decoded.type, Packet_PacketType.PACKET_STAT);
    assert.equal(decoded.stat?.path, "a/b");
    assert.equal(decoded.stat?.linkname, "c");
    assert.equal(decoded.stat?.modTime, base.modTimeNs);
    assert.equal(decoded.stat?.size, base.size);
  });
});
