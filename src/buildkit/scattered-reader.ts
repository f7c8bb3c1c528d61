// Reads a protobuf message that lies in several buffers (the HTTP/2 frames it arrived in), so that
// its large bytes fields can be handed on as views of those buffers instead of being copied
// together first. For the session's data-carrying messages (session/filesend-stream.ts).

/** Protobuf wire types. */
export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;

export class ScatteredReader {
  private index = 0;
  private offset = 0;

  constructor(private readonly pieces: readonly Buffer[]) {
    this.skipEmpty();
  }

  get done(): boolean {
    return this.index >= this.pieces.length;
  }

  /** A field's tag: its number and wire type. */
  tag(): { field: number; wireType: number } {
    const tag = this.varint();
    return { field: Math.floor(tag / 8), wireType: tag % 8 };
  }

  /** A varint, exact up to 2^53 (larger ones lose their low bits, as no field here has them). */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error("a malformed varint");
  }

  /** The next `length` bytes as views of the pieces they lie in. */
  views(length: number): Buffer[] {
    const views: Buffer[] = [];
    let left = length;
    while (left > 0) {
      const piece = this.pieces[this.index];
      if (piece === undefined) throw new Error("a field runs past the end of the message");
      const take = Math.min(left, piece.length - this.offset);
      views.push(piece.subarray(this.offset, this.offset + take));
      this.offset += take;
      left -= take;
      this.skipEmpty();
    }
    return views;
  }

  /** Skips the value of a field of `wireType`. */
  skip(wireType: number): void {
    if (wireType === WireType.Varint) this.varint();
    else if (wireType === WireType.Fixed64) this.views(8);
    else if (wireType === WireType.Fixed32) this.views(4);
    else if (wireType === WireType.LengthDelimited) this.views(this.varint());
    else throw new Error(`a field of wire type ${wireType}`);
  }

  private byte(): number {
    const piece = this.pieces[this.index];
    if (piece === undefined) throw new Error("a field runs past the end of the message");
    const byte = piece[this.offset++]!;
    this.skipEmpty();
    return byte;
  }

  /** Moves past the end of the current piece and any empty ones. */
  private skipEmpty(): void {
    while (this.index < this.pieces.length && this.offset >= this.pieces[this.index]!.length) {
      this.index++;
      this.offset = 0;
    }
  }
}
