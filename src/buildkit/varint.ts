// Protobuf varints for the hand-written encoders (encoder.ts's flat messages, fsutil's STAT packet).

/** Writes an unsigned 32-bit value at `pos`; returns the position after it. */
export function writeVarint32(out: Buffer, pos: number, value: number): number {
  let rest = value >>> 0;
  while (rest >= 0x80) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[pos++] = rest;
  return pos;
}

/** Writes an int64 as protobuf does: a negative value as its 64-bit two's complement (ten bytes). */
export function writeVarint64(out: Buffer, pos: number, value: bigint): number {
  let rest = BigInt.asUintN(64, value);
  if (rest <= 0xffffffffn) return writeVarint32(out, pos, Number(rest));
  while (rest >= 0x80n) {
    out[pos++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  out[pos++] = Number(rest);
  return pos;
}

/** Appends an unsigned 32-bit value to `out`. */
export function pushVarint32(out: number[], value: number): void {
  let rest = value >>> 0;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
}

/** How many bytes writeVarint32 writes for `value`. */
export function varintLength32(value: number): number {
  let length = 1;
  for (let rest = value >>> 7; rest !== 0; rest >>>= 7) length++;
  return length;
}
