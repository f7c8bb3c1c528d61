// The session tunnel's incoming half read as its bytes arrive (FrameReader.pushPieces in
// src/buildkit/grpc/call.ts, TunnelReader in src/buildkit/session/tunnel-reader.ts): the data of
// BytesMessages encoded by protobuf-es, framed as gRPC, comes out whole and in order at every
// split of the bytes, empty messages included; a field BytesMessage may gain is skipped, and a
// compressed or cut-off message is refused.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { FrameReader } from "../../src/buildkit/grpc/call.js";
import { frame } from "../../src/buildkit/framing.js";
import { BytesMessageSchema } from "../../src/buildkit/proto/moby/buildkit/v1/control_pb.js";
import { TunnelReader } from "../../src/buildkit/session/tunnel-reader.js";

const message = (data: Buffer) =>
  frame(Buffer.from(toBinary(BytesMessageSchema, create(BytesMessageSchema, { data }))));

/** What the reader passes on for `bytes` split every `size` bytes. */
function read(bytes: Buffer, size: number): { data: Buffer; views: number } {
  const frames = new FrameReader(1024 * 1024);
  const reader = new TunnelReader();
  const received: Buffer[] = [];
  reader.receive = (piece) => received.push(Buffer.from(piece));
  for (let offset = 0; offset < bytes.length; offset += size) {
    frames.pushPieces(bytes.subarray(offset, offset + size), reader);
  }
  return { data: Buffer.concat(received), views: received.length };
}

describe("the tunnel's reader", () => {
  it("passes on the data of every message, whole and in order, at every split", () => {
    const datas = [300, 0, 1, 127, 128, 20_000, 70_000].map((length, i) =>
      Buffer.from(Array.from({ length }, (_, j) => (i * 31 + j) % 256)),
    );
    const bytes = Buffer.concat(datas.map(message));
    for (const size of [1, 2, 5, 6, 7, 100, 16_384, bytes.length]) {
      assert.ok(read(bytes, size).data.equals(Buffer.concat(datas)), `split every ${size} bytes`);
    }
    // Whole, the data of each message is one view: nothing split, nothing copied together.
    assert.equal(read(bytes, bytes.length).views, datas.filter((data) => data.length > 0).length);
  });

  it("skips a field other than data, and refuses a compressed or cut-off message", () => {
    // Field 2 as a varint (0x10 0x96 0x01), then data "ab".
    const extra = frame(Buffer.from([0x10, 0x96, 0x01, 0x0a, 0x02, 0x61, 0x62]));
    assert.equal(read(extra, 1).data.toString(), "ab");

    const compressed = Buffer.from(message(Buffer.from("x")));
    compressed[0] = 1;
    assert.throws(() => read(compressed, compressed.length), /compressed message/);

    // The message says 3 bytes of data, and has 2.
    const cut = frame(Buffer.from([0x0a, 0x03, 0x61, 0x62]));
    assert.throws(() => read(cut, cut.length), /ended inside a field/);
  });
});
