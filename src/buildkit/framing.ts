// gRPC sends each message behind a 5-byte frame header (a compressed flag and the length), and
// grpc-js builds that frame by copying the message into a new buffer. On an upload that is two
// copies and two fresh buffers per MiB (the FileSync packet inside the session, the tunnel message
// outside): CPU, and garbage that made up about half of a 1 GiB upload's peak memory. Messages
// our encoder builds in place (createInPlace) keep room in front of them, so their frame header is
// written there and their bytes go as they are. Every other message is framed as grpc-js frames it.
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { sendCompressionHandler } from "./compression-handlers.js";

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

/** The parts of grpc-js we replace: private methods of the version we bundle. */
interface IdentityHandler {
  writeMessage: (message: Buffer) => Promise<Buffer>;
}
interface ServerCall {
  handler: { serialize: (value: unknown) => Buffer };
  serializeMessage: (value: unknown) => Buffer;
}

let installed: boolean | undefined;

/**
 * Makes grpc-js frame messages with `frame`: its client calls without compression (the identity
 * handler) and its server calls (which never compress). Once per process; false, and nothing
 * changed, where grpc-js has no such methods (another version): messages are then copied.
 */
export function frameInPlace(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const identity = sendCompressionHandler({})?.prototype as IdentityHandler | undefined;
  const server = BaseServerInterceptingCall.prototype as unknown as Partial<ServerCall>;
  if (
    identity === undefined ||
    !Object.hasOwn(identity, "writeMessage") ||
    typeof server.serializeMessage !== "function"
  ) {
    return false;
  }
  // The identity handler's frames are never marked compressed, whatever the call asks.
  identity.writeMessage = (message: Buffer) => Promise.resolve(frame(message));
  server.serializeMessage = function (this: ServerCall, value: unknown) {
    return frame(this.handler.serialize(value));
  };
  installed = true;
  return true;
}
