// The incoming half of the session tunnel: the BytesMessages the daemon sends on Control.Session,
// read as their bytes arrive, so that the data in them reaches our HTTP/2 connection as views of
// the bytes they came in. A 1 GiB output comes as 1 GiB of these: assembled into whole messages,
// each of its bytes was copied once more, into memory the garbage collector then had to free.
import type { MessagePieces } from "../grpc/call.js";

/** BytesMessage's one field: `bytes data = 1`, length-delimited (wire type 2). */
const DATA_TAG = (1 << 3) | 2;

/** Where in a message the reader is. */
const Part = {
  Tag: 0,
  Length: 1,
  Data: 2,
  /** The bytes of a field other than `data` (BytesMessage has none today), skipped. */
  Skip: 3,
  SkipVarint: 4,
} as const;
type Part = (typeof Part)[keyof typeof Part];

export class TunnelReader implements MessagePieces {
  /** Where the data goes. */
  receive: (bytes: Buffer) => void = () => {};
  private part: Part = Part.Tag;
  private varint = 0;
  private varintShift = 0;
  private left = 0;
  private field = 0;

  start(): void {
    this.part = Part.Tag;
    this.varint = 0;
    this.varintShift = 0;
  }

  piece(bytes: Buffer): void {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.part === Part.Data || this.part === Part.Skip) {
        const take = Math.min(this.left, bytes.length - offset);
        if (this.part === Part.Data) this.receive(bytes.subarray(offset, offset + take));
        offset += take;
        this.left -= take;
        if (this.left === 0) this.part = Part.Tag;
        continue;
      }
      const byte = bytes[offset++]!;
      this.varint += (byte & 0x7f) * 2 ** this.varintShift;
      this.varintShift += 7;
      if (byte & 0x80) {
        if (this.varintShift > 63) throw new Error("a tunnel message has a malformed varint");
        continue;
      }
      const value = this.varint;
      this.varint = 0;
      this.varintShift = 0;
      this.onVarint(value);
    }
  }

  end(): void {
    if (this.part !== Part.Tag || this.varintShift !== 0) {
      throw new Error("a tunnel message ended inside a field");
    }
  }

  private onVarint(value: number): void {
    switch (this.part) {
      case Part.Tag: {
        this.field = value;
        const wireType = value & 7;
        if (wireType === 2) this.part = Part.Length;
        else if (wireType === 0) this.part = Part.SkipVarint;
        else if (wireType === 1 || wireType === 5) this.skip(wireType === 1 ? 8 : 4);
        else throw new Error(`a tunnel message has a field of wire type ${wireType}`);
        return;
      }
      case Part.Length:
        if (this.field === DATA_TAG) {
          this.part = value > 0 ? Part.Data : Part.Tag;
          this.left = value;
        } else {
          this.skip(value);
        }
        return;
      case Part.SkipVarint:
        this.part = Part.Tag;
        return;
      default:
    }
  }

  private skip(bytes: number): void {
    this.part = bytes > 0 ? Part.Skip : Part.Tag;
    this.left = bytes;
  }
}
