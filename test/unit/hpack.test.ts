// HPACK (src/buildkit/grpc/hpack.ts) on RFC 7541's own examples of requests with Huffman coding
// (Appendix C.4, one decoder across the three, so its dynamic table carries over), the errors a
// broken block must raise, and our encoder's blocks read back.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { encodeHeaders, HpackDecoder, HpackError, huffmanDecode } from "../../src/buildkit/grpc/hpack.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("HPACK", () => {
  it("decodes RFC 7541 C.4's three requests in order, through the dynamic table", () => {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    assert.deepEqual(decoder.decode(hex("8286 84be 5886 a8eb 1064 9cbf")), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    assert.deepEqual(decoder.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")), [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  it("forgets the dynamic table when the encoder sizes it to 0", () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
    assert.deepEqual(decoder.decode(hex("be")), [[":authority", "www.example.com"]]);
    assert.deepEqual(decoder.decode(hex("20")), []);
    assert.throws(() => decoder.decode(hex("be")), HpackError);
  });

  it("refuses what no encoder may send", () => {
    const decoder = new HpackDecoder();
    // An index past both tables; a string longer than its block; a table larger than allowed.
    assert.throws(() => decoder.decode(hex("ff00")), /no header table entry 127/);
    assert.throws(() => decoder.decode(hex("0085 6162")), /runs past its block/);
    assert.throws(() => decoder.decode(hex("3fe3 1f")), /header table size of 4098/);
    // '0' is 00000: three bits of padding that are not ones; and the end-of-string code itself.
    assert.throws(() => huffmanDecode(hex("00")), /padding/);
    assert.throws(() => huffmanDecode(hex("ffff ffff")), /end-of-string/);
    assert.equal(huffmanDecode(hex("07")), "0");
  });

  it("encodes our headers so that a decoder reads them back, long values included", () => {
    const fields: Array<[string, string]> = [
      [":status", "200"],
      ["content-type", "application/grpc"],
      ["grpc-message", "x".repeat(70_000)],
      ["grpc-status", "0"],
    ];
    assert.deepEqual(new HpackDecoder().decode(encodeHeaders(fields)), fields);
  });
});
