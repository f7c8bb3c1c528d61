// Encoding messages for the wire: protobuf-es's toBinary, except for the flat bytes messages of
// the hot paths (the session tunnel's BytesMessage, FileSync's DATA packets), which are written by
// hand with one copy of their payload, or sent already encoded.
import {
  toBinary,
  create,
  ScalarType,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { pushVarint32, varintLength32, writeVarint32 } from "./varint.js";
import { FRAME_HEADER_BYTES, markRoomInFront } from "./framing.js";

export function serializer<D extends DescMessage>(schema: D): (message: MessageShape<D>) => Buffer {
  const flat = flatBytesEncoder(schema);
  return (message) => {
    const encoded = (message as { [ENCODED]?: Buffer })[ENCODED];
    if (encoded !== undefined) return encoded;
    const fast = flat?.(message);
    if (fast) return fast;
    const bytes = toBinary(schema, message);
    // A view, not a copy: the bytes are ours alone.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

type FlatField =
  | { kind: "varint"; localName: string; tag: number }
  | { kind: "bytes"; localName: string; tag: number }
  | { kind: "unset"; localName: string };

/**
 * An encoder for messages that carry bulk bytes (the session tunnel's BytesMessage, FileSync's
 * DATA packets): their fields are bytes, uint32 and enums with proto3 implicit presence, and
 * message fields that are left unset. It writes exactly what toBinary writes (fields by number,
 * zero values left out) but copies the payload once into a buffer of the right size, where
 * toBinary grows its buffer by doubling and copies again at the end. Returns undefined, for
 * toBinary to handle, on any message outside that shape (a set message field, unknown fields).
 */
function flatBytesEncoder(schema: DescMessage): ((message: object) => Buffer | undefined) | undefined {
  const fields = flatFields(schema);
  if (fields === undefined) return undefined;
  const typeName = schema.typeName;
  return (message) => {
    const values = message as Record<string, unknown>;
    if (values.$typeName !== typeName) return undefined;
    const unknown = values.$unknown as unknown[] | undefined;
    if (unknown !== undefined && unknown.length > 0) return undefined;
    let size = 0;
    for (const field of fields) {
      const value = values[field.localName];
      if (field.kind === "unset") {
        if (value !== undefined) return undefined;
      } else if (field.kind === "varint") {
        if (!isUint32(value)) return undefined;
        if (value !== 0) size += 1 + varintLength32(value);
      } else {
        if (!(value instanceof Uint8Array)) return undefined;
        if (value.byteLength > 0) size += 1 + varintLength32(value.byteLength) + value.byteLength;
      }
    }
    const out = Buffer.allocUnsafe(size);
    let pos = 0;
    for (const field of fields) {
      if (field.kind === "unset") continue;
      const value = values[field.localName] as number | Uint8Array;
      if (field.kind === "varint") {
        if (value === 0) continue;
        out[pos++] = field.tag;
        pos = writeVarint32(out, pos, value as number);
      } else {
        const bytes = value as Uint8Array;
        if (bytes.byteLength === 0) continue;
        out[pos++] = field.tag;
        pos = writeVarint32(out, pos, bytes.byteLength);
        out.set(bytes, pos);
        pos += bytes.byteLength;
      }
    }
    return out;
  };
}

const ENCODED = Symbol("encoded");

/**
 * A message to send whose bytes are already encoded (by a hand-written encoder on a hot path):
 * the serializer sends `bytes` as they are. Its fields are not set; it is for sending only.
 */
export function preEncoded<D extends DescMessage>(schema: D, bytes: Buffer): MessageShape<D> {
  const message = { $typeName: schema.typeName } as MessageShape<D>;
  Object.defineProperty(message, ENCODED, { value: bytes });
  return message;
}

/**
 * Bytes to leave free before a payload given to createInPlace, for the fields in front of it and
 * the gRPC frame header in front of those.
 */
export const HEADER_ROOM = 64;

/**
 * Creates a flat bytes message (see flatBytesEncoder) whose bytes field, its last, is the
 * payload at target[payloadStart, payloadStart + payloadLength), and writes the fields before it
 * into the HEADER_ROOM bytes in front, so that the serializer sends target's bytes as they are
 * instead of copying the payload. The message and target must not change afterwards. Any other
 * message shape is created plainly, for the serializer to encode as usual.
 */
export function createInPlace<D extends DescMessage>(
  schema: D,
  init: Record<string, number>,
  target: Buffer,
  payloadStart: number,
  payloadLength: number,
): MessageShape<D> {
  const fields = flatFields(schema);
  const last = fields?.at(-1);
  const payload = target.subarray(payloadStart, payloadStart + payloadLength);
  if (fields === undefined || last?.kind !== "bytes" || payloadStart < HEADER_ROOM) {
    return create(schema, { ...init, [last?.localName ?? "data"]: payload } as MessageInitShape<D>);
  }
  const message = create(schema, { ...init, [last.localName]: payload } as MessageInitShape<D>);
  const values = message as Record<string, unknown>;
  const header: number[] = [];
  for (const field of fields) {
    if (field === last) break;
    const value = values[field.localName];
    if (field.kind === "unset" && value === undefined) continue;
    if (field.kind !== "varint" || !isUint32(value)) return message;
    if (value === 0) continue;
    header.push(field.tag);
    pushVarint32(header, value);
  }
  if (payloadLength > 0) {
    header.push(last.tag);
    pushVarint32(header, payloadLength);
  }
  if (header.length > HEADER_ROOM) return message;
  const start = payloadStart - header.length;
  for (let i = 0; i < header.length; i++) target[start + i] = header[i]!;
  const encoded = target.subarray(start, payloadStart + payloadLength);
  // What is left of the room takes the gRPC frame header (framing.ts).
  if (HEADER_ROOM - header.length >= FRAME_HEADER_BYTES) markRoomInFront(encoded);
  Object.defineProperty(message, ENCODED, { value: encoded });
  return message;
}

function isUint32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

const flatPlans = new WeakMap<DescMessage, FlatField[] | null>();

/** The fields of a flat bytes message in field-number order, or undefined for other shapes. */
function flatFields(schema: DescMessage): FlatField[] | undefined {
  let plan = flatPlans.get(schema);
  if (plan === undefined) {
    plan = planFlatFields(schema) ?? null;
    flatPlans.set(schema, plan);
  }
  return plan ?? undefined;
}

function planFlatFields(schema: DescMessage): FlatField[] | undefined {
  const fields: FlatField[] = [];
  for (const field of [...schema.fields].sort((a, b) => a.number - b.number)) {
    if (field.oneof) return undefined;
    if (field.fieldKind === "message") {
      fields.push({ kind: "unset", localName: field.localName });
      continue;
    }
    if (field.presence !== FeatureSet_FieldPresence.IMPLICIT) return undefined;
    if (field.fieldKind === "enum") {
      if (field.enum.values[0]?.number !== 0) return undefined;
      fields.push({ kind: "varint", localName: field.localName, tag: field.number << 3 });
    } else if (field.fieldKind === "scalar" && field.scalar === ScalarType.UINT32) {
      fields.push({ kind: "varint", localName: field.localName, tag: field.number << 3 });
    } else if (field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES) {
      fields.push({ kind: "bytes", localName: field.localName, tag: (field.number << 3) | 2 });
    } else return undefined;
  }
  if (
    !fields.some((field) => field.kind === "bytes") ||
    fields.some((field) => field.kind !== "unset" && field.tag >= 0x80)
  ) {
    return undefined;
  }
  return fields;
}
