// fsutil's STAT packet, encoded by hand: a context of 10,000 files sends 10,000 of them on every
// build, and protobuf-es's create() and toBinary cost more than the bytes (a sixth of a warm
// rebuild's CPU). The unit tests check that these bytes equal toBinary's for the same packet.
import type { WalkEntry } from "../context/walk.js";
import { varintLength32, writeVarint32, writeVarint64 } from "../varint.js";

export type StatFields = Pick<
  WalkEntry,
  "path" | "mode" | "size" | "modTimeNs" | "linkname" | "devmajor" | "devminor"
>;

// Field tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
const PACKET_STAT_FIELD = (2 << 3) | 2;
const STAT_PATH = (1 << 3) | 2;
const STAT_MODE = 2 << 3;
const STAT_SIZE = 5 << 3;
const STAT_MOD_TIME = 6 << 3;
const STAT_LINKNAME = (7 << 3) | 2;
const STAT_DEVMAJOR = 8 << 3;
const STAT_DEVMINOR = 9 << 3;

/** Room before the Stat for the packet's tag and the Stat's length (a varint of up to 5 bytes). */
const PACKET_HEADER_ROOM = 6;
/** The most bytes the Stat's fixed fields take: tags, a 5-byte mode and four 10-byte int64s. */
const FIXED_FIELDS_ROOM = 64;

/**
 * Packet{type: STAT, stat: Stat{...}}, with the fields proto3 writes: non-default values in field
 * number order. uid, gid and xattrs are not sent (the walk leaves them at their defaults).
 */
export function encodeStatPacket(stat: StatFields): Buffer {
  const pathBytes = Buffer.byteLength(stat.path);
  const linkBytes = Buffer.byteLength(stat.linkname);
  const out = Buffer.allocUnsafe(PACKET_HEADER_ROOM + FIXED_FIELDS_ROOM + 10 + pathBytes + linkBytes);
  let pos = PACKET_HEADER_ROOM;
  if (pathBytes > 0) {
    out[pos++] = STAT_PATH;
    pos = writeVarint32(out, pos, pathBytes);
    pos += out.write(stat.path, pos, "utf8");
  }
  if (stat.mode !== 0) {
    out[pos++] = STAT_MODE;
    pos = writeVarint32(out, pos, stat.mode);
  }
  pos = writeInt64Field(out, pos, STAT_SIZE, stat.size);
  pos = writeInt64Field(out, pos, STAT_MOD_TIME, stat.modTimeNs);
  if (linkBytes > 0) {
    out[pos++] = STAT_LINKNAME;
    pos = writeVarint32(out, pos, linkBytes);
    pos += out.write(stat.linkname, pos, "utf8");
  }
  pos = writeInt64Field(out, pos, STAT_DEVMAJOR, stat.devmajor);
  pos = writeInt64Field(out, pos, STAT_DEVMINOR, stat.devminor);

  const statLength = pos - PACKET_HEADER_ROOM;
  const start = PACKET_HEADER_ROOM - 1 - varintLength32(statLength);
  out[start] = PACKET_STAT_FIELD;
  writeVarint32(out, start + 1, statLength);
  return out.subarray(start, pos);
}

function writeInt64Field(out: Buffer, pos: number, tag: number, value: bigint): number {
  if (value === 0n) return pos;
  out[pos++] = tag;
  return writeVarint64(out, pos, value);
}
