// The serializer's fast paths for bulk bytes (flat messages, encodings built in place) must write
// exactly what protobuf-es's toBinary writes, and gRPC frames built in place what grpc-js builds.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { createInPlace, HEADER_ROOM, serializer } from "../../src/buildkit/encoder.js";
import { Packet_PacketType, PacketSchema } from "../../src/buildkit/proto/fsutil/types/wire_pb.js";
import { StatSchema } from "../../src/buildkit/proto/fsutil/types/stat_pb.js";
import { BytesMessageSchema } from "../../src/buildkit/proto/moby/buildkit/v1/control_pb.js";
import { frame, FRAME_HEADER_BYTES } from "../../src/buildkit/framing.js";

const LENGTHS = [0, 1, 127, 128, 16_384, 70_000, 1024 * 1024];
const IDS = [0, 1, 127, 128, 99_999, 0xffffffff];
const TYPES = [
  Packet_PacketType.PACKET_STAT,
  Packet_PacketType.PACKET_REQ,
  Packet_PacketType.PACKET_DATA,
  Packet_PacketType.PACKET_FIN,
  Packet_PacketType.PACKET_ERR,
];

function payload(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31) & 0xff));
}

/** `data` at HEADER_ROOM in a buffer whose other bytes are garbage. */
function inPlace(data: Buffer): Buffer {
  const target = Buffer.alloc(HEADER_ROOM + data.length, 0xee);
  data.copy(target, HEADER_ROOM);
  return target;
}

describe("serializer", () => {
  const packet = serializer(PacketSchema);
  const bytes = serializer(BytesMessageSchema);

  it("encodes FileSync packets as toBinary does", () => {
    for (const length of LENGTHS) {
      for (const id of IDS) {
        for (const type of TYPES) {
          const message = create(PacketSchema, { type, id, data: payload(length) });
          assert.deepEqual(
            packet(message),
            Buffer.from(toBinary(PacketSchema, message)),
            `${type} ${id} ${length}`,
          );
        }
      }
    }
  });

  it("encodes packets with a stat through toBinary", () => {
    const stat = create(StatSchema, {
      path: "dir/file",
      mode: 0o644,
      size: 5n,
      modTime: 1_700_000_000_123_456_789n,
    });
    const message = create(PacketSchema, { type: Packet_PacketType.PACKET_STAT, stat });
    assert.deepEqual(packet(message), Buffer.from(toBinary(PacketSchema, message)));
    const end = create(PacketSchema, { type: Packet_PacketType.PACKET_STAT });
    assert.deepEqual(packet(end), Buffer.from(toBinary(PacketSchema, end)));
  });

  it("encodes tunnel messages as toBinary does", () => {
    for (const length of LENGTHS) {
      const message = create(BytesMessageSchema, { data: payload(length) });
      assert.deepEqual(bytes(message), Buffer.from(toBinary(BytesMessageSchema, message)), `${length}`);
    }
  });

  it("sends encodings built in place as toBinary would encode the message", () => {
    for (const length of LENGTHS) {
      for (const id of IDS) {
        const data = payload(length);
        const message = createInPlace(
          PacketSchema,
          { type: Packet_PacketType.PACKET_DATA, id },
          inPlace(data),
          HEADER_ROOM,
          length,
        );
        assert.deepEqual(Buffer.from(message.data), data);
        assert.deepEqual(packet(message), Buffer.from(toBinary(PacketSchema, message)), `${id} ${length}`);
      }
      const message = createInPlace(BytesMessageSchema, {}, inPlace(payload(length)), HEADER_ROOM, length);
      assert.deepEqual(bytes(message), Buffer.from(toBinary(BytesMessageSchema, message)), `${length}`);
    }
  });
});

/** The frame grpc-js builds: a zero flag byte, the big-endian length, the message. */
function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

describe("gRPC frames", () => {
  const packet = serializer(PacketSchema);

  it("are built in place, in the room in front of an encoding built in place", () => {
    for (const length of LENGTHS) {
      const target = inPlace(payload(length));
      const message = createInPlace(
        PacketSchema,
        { type: Packet_PacketType.PACKET_DATA, id: 99_999 },
        target,
        HEADER_ROOM,
        length,
      );
      const encoded = packet(message);
      const framed = frame(encoded);
      assert.deepEqual(framed, grpcFrame(Buffer.from(toBinary(PacketSchema, message))), `${length}`);
      // The same memory: no copy of the payload.
      assert.equal(framed.buffer, target.buffer);
      assert.equal(framed.byteOffset + FRAME_HEADER_BYTES, encoded.byteOffset);
    }
  });

  it("are copies for any other message, which stays as it was", () => {
    // Small buffers share Node's pool: the frame must not be taken for one built in place.
    for (const length of [0, 1, 100, 5000]) {
      const data = payload(length);
      const message = Buffer.from(data);
      const framed = frame(message);
      assert.deepEqual(framed, grpcFrame(data));
      assert.deepEqual(message, data);
      framed.fill(0xaa);
      assert.deepEqual(message, data, "the frame shares the message's bytes");
    }
  });
});
