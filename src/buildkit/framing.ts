// gRPC sends each message behind a 5-byte frame header (a compressed flag and the length). Built by
// copying the message into a new buffer, that is two copies and two fresh buffers per MiB of an
// upload (the FileSync packet inside the session, the tunnel message outside): CPU, and garbage
// that made up about half of a 1 GiB upload's peak memory. Messages our encoder builds in place
// (createInPlace) keep room in front of them, so their frame header is written there and their
// bytes go as they are, by our calls and our session server (grpc/). Every other message is copied.

/** The frame header's size: a flag byte and a 32-bit big-endian length. */
export const FRAME_HEADER_BYTES = 5;

/** Encoded messages with FRAME_HEADER_BYTES of their own, free, right in front of them. */
const roomInFront = new WeakSet<Buffer>();

/** Notes that the FRAME_HEADER_BYTES before `encoded` (in its memory) are free for its frame. */
export function markRoomInFront(encoded: Buffer): void {
  if (encoded.byteOffset >= FRAME_HEADER_BYTES) roomInFront.add(encoded);
}

/** The uncompressed frame of `message`: in place when it has room in front, else a copy. */
export function frame(message: Buffer): Buffer {
  const inPlace = roomInFront.has(message);
  const framed = inPlace
    ? Buffer.from(
        message.buffer,
        message.byteOffset - FRAME_HEADER_BYTES,
        message.length + FRAME_HEADER_BYTES,
      )
    : Buffer.allocUnsafe(message.length + FRAME_HEADER_BYTES);
  framed.writeUInt8(0, 0);
  framed.writeUInt32BE(message.length, 1);
  if (!inPlace) message.copy(framed, FRAME_HEADER_BYTES);
  return framed;
}
