// HPACK (RFC 7541), the header compression of HTTP/2, for the session's server (server-connection.ts):
// a decoder for the daemon's request headers (grpc-go uses the dynamic table and Huffman coding),
// and an encoder for our few response headers, which sends them as literals and never indexes.

/** RFC 7541 Appendix A: the static table, from index 1. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/**
 * RFC 7541 Appendix B: the bit length of each symbol's Huffman code, 0-255 and EOS (256). The code
 * is canonical (codes of one length are consecutive, in symbol order), so the lengths define it.
 */
const HUFFMAN_CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/** Each entry of the dynamic table counts its name and value plus this much (RFC 7541 4.1). */
const ENTRY_OVERHEAD = 32;

/** The header table size HTTP/2 starts with, which we never change. */
const DEFAULT_HEADER_TABLE_BYTES = 4096;

export class HpackError extends Error {}

/** Decodes header blocks in order, keeping the dynamic table between them. */
export class HpackDecoder {
  /** Newest first. */
  private readonly dynamic: Array<readonly [string, string]> = [];
  private dynamicBytes = 0;
  private maxBytes = DEFAULT_HEADER_TABLE_BYTES;

  /** The fields of one whole block (a HEADERS frame and its CONTINUATIONs), in order. */
  decode(block: Buffer): Array<[string, string]> {
    const reader = new BlockReader(block);
    const fields: Array<[string, string]> = [];
    while (!reader.done()) {
      const first = block[reader.offset]!;
      if (first & 0x80) {
        // An indexed field.
        const [name, value] = this.entry(reader.integer(7));
        fields.push([name, value]);
      } else if (first & 0x40) {
        // A literal that joins the dynamic table.
        const name = this.literalName(reader, 6);
        const value = reader.string();
        this.add(name, value);
        fields.push([name, value]);
      } else if (first & 0x20) {
        // A new size for the dynamic table, at most what HTTP/2's settings allow.
        const size = reader.integer(5);
        if (size > DEFAULT_HEADER_TABLE_BYTES) {
          throw new HpackError(`a header table size of ${size} bytes was never allowed`);
        }
        this.maxBytes = size;
        this.evict(0);
      } else {
        // A literal kept out of the table (without indexing, or never indexed).
        const name = this.literalName(reader, 4);
        fields.push([name, reader.string()]);
      }
    }
    return fields;
  }

  private literalName(reader: BlockReader, prefixBits: number): string {
    const index = reader.integer(prefixBits);
    return index === 0 ? reader.string() : this.entry(index)[0];
  }

  private entry(index: number): readonly [string, string] {
    const entry =
      index === 0
        ? undefined
        : index <= STATIC_TABLE.length
          ? STATIC_TABLE[index - 1]
          : this.dynamic[index - STATIC_TABLE.length - 1];
    if (entry === undefined) throw new HpackError(`no header table entry ${index}`);
    return entry;
  }

  private add(name: string, value: string): void {
    const size = Buffer.byteLength(name, "latin1") + Buffer.byteLength(value, "latin1") + ENTRY_OVERHEAD;
    this.evict(size);
    // An entry larger than the table empties it and is not kept (RFC 7541 4.4).
    if (size > this.maxBytes) return;
    this.dynamic.unshift([name, value]);
    this.dynamicBytes += size;
  }

  /** Drops the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.dynamicBytes + room > this.maxBytes) {
      const [name, value] = this.dynamic.pop()!;
      this.dynamicBytes -=
        Buffer.byteLength(name, "latin1") + Buffer.byteLength(value, "latin1") + ENTRY_OVERHEAD;
    }
  }
}

class BlockReader {
  offset = 0;

  constructor(private readonly block: Buffer) {}

  done(): boolean {
    return this.offset >= this.block.length;
  }

  private byte(): number {
    if (this.offset >= this.block.length) throw new HpackError("a header block ends inside a field");
    return this.block[this.offset++]!;
  }

  /** RFC 7541 5.1: an integer in the low `prefixBits` of the current byte and what follows. */
  integer(prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = this.byte() & mask;
    if (value < mask) return value;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw new HpackError("a header block has an integer too large");
      const next = this.byte();
      value += (next & 0x7f) * 2 ** shift;
      if (!(next & 0x80)) return value;
    }
  }

  /** RFC 7541 5.2: a string literal, raw or Huffman-coded. */
  string(): string {
    const huffman = (this.block[this.offset]! & 0x80) !== 0;
    const length = this.integer(7);
    if (this.offset + length > this.block.length) throw new HpackError("a header string runs past its block");
    const bytes = this.block.subarray(this.offset, this.offset + length);
    this.offset += length;
    return huffman ? huffmanDecode(bytes) : bytes.toString("latin1");
  }
}

/** The canonical code by length: each length's first code, where its symbols start, how many. */
interface HuffmanTable {
  firstCode: number[];
  firstIndex: number[];
  count: number[];
  /** The symbols in code order. */
  symbols: number[];
}

let huffmanTable: HuffmanTable | undefined;

function buildHuffmanTable(): HuffmanTable {
  const maxLength = Math.max(...HUFFMAN_CODE_LENGTHS);
  const count = new Array<number>(maxLength + 1).fill(0);
  for (const length of HUFFMAN_CODE_LENGTHS) count[length]!++;
  const symbols = HUFFMAN_CODE_LENGTHS.map((length, symbol) => ({ length, symbol }))
    .sort((a, b) => a.length - b.length || a.symbol - b.symbol)
    .map(({ symbol }) => symbol);
  const firstCode = new Array<number>(maxLength + 1).fill(0);
  const firstIndex = new Array<number>(maxLength + 1).fill(0);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= maxLength; length++) {
    firstCode[length] = code;
    firstIndex[length] = index;
    code = (code + count[length]!) * 2;
    index += count[length]!;
  }
  return { firstCode, firstIndex, count, symbols };
}

const EOS = 256;

/** RFC 7541 5.2 and Appendix B: a Huffman-coded string, read bit by bit along the canonical code. */
export function huffmanDecode(bytes: Uint8Array): string {
  const { firstCode, firstIndex, count, symbols } = (huffmanTable ??= buildHuffmanTable());
  // The shortest code is 5 bits.
  const out = Buffer.allocUnsafe(Math.ceil((bytes.length * 8) / 5));
  let written = 0;
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const offset = code - firstCode[length]!;
      if (offset >= 0 && offset < count[length]!) {
        const symbol = symbols[firstIndex[length]! + offset]!;
        if (symbol === EOS) throw new HpackError("a header string contains the end-of-string code");
        out[written++] = symbol;
        code = 0;
        length = 0;
      } else if (length >= 30) {
        throw new HpackError("a header string has an invalid Huffman code");
      }
    }
  }
  // What is left is padding: fewer than 8 bits, all ones (the start of EOS).
  if (length > 7 || code !== 2 ** length - 1)
    throw new HpackError("a header string has invalid Huffman padding");
  return out.toString("latin1", 0, written);
}

/**
 * A header block of `fields`: ":status: 200" by its static index, every other field as a literal
 * without indexing (raw, so the daemon keeps nothing of ours in its table).
 */
export function encodeHeaders(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    if (name === ":status" && value === "200") {
      parts.push(Buffer.of(0x88));
      continue;
    }
    parts.push(Buffer.of(0x00), encodeString(name), encodeString(value));
  }
  return Buffer.concat(parts);
}

function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  return Buffer.concat([encodeInteger(bytes.length, 7, 0x00), bytes]);
}

/** RFC 7541 5.1, with `flags` in the bits above the prefix. */
export function encodeInteger(value: number, prefixBits: number, flags: number): Buffer {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) return Buffer.of(flags | value);
  const bytes = [flags | mask];
  let rest = value - mask;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
