// The FileSend call's packets in and out: fsutil packets encoded for the daemon, and the call's
// messages handed to a receiver one at a time, with backpressure.
import { create, toBinary } from "@bufbuild/protobuf";
import type { ServerCall } from "../grpc/server.js";
import { FileSendError } from "../errors.js";
import { PacketSchema, type Packet } from "../proto/fsutil/types/wire_pb.js";

/** Packets waiting to be handled before the call is paused (backpressure to the daemon). */
const HIGH_WATER_PACKETS = 64;

export function encodePacket(init: Partial<Pick<Packet, "type" | "id" | "data">>): Buffer {
  const bytes = toBinary(PacketSchema, create(PacketSchema, init));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Hands the call's messages to `handle` one at a time, in order, pausing the call while too
 * many wait. Resolves when `handle` returns true, or at the end of the stream if `endIsDone`.
 */
export function consume(
  call: ServerCall<Buffer, Buffer>,
  handle: (message: Buffer) => Promise<boolean>,
  endIsDone: boolean,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let chain = Promise.resolve();
    let waiting = 0;
    let settled = false;
    const cleanup = () => {
      settled = true;
      call.off("data", onData);
      call.off("end", onEnd);
      call.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      cleanup();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const succeed = () => {
      if (settled) return;
      cleanup();
      resolve();
    };
    const onData = (message: Buffer) => {
      waiting++;
      if (waiting >= HIGH_WATER_PACKETS) call.pause();
      chain = chain
        .then(async () => {
          if (settled) return;
          const done = await handle(message);
          waiting--;
          if (waiting < HIGH_WATER_PACKETS / 4) call.resume();
          if (done) succeed();
        })
        .catch(fail);
    };
    const onEnd = () => {
      chain = chain.then(() => {
        if (endIsDone) succeed();
        else fail(new FileSendError("The runner ended the output transfer before it was complete."));
      }, fail);
    };
    const onError = (error: Error) => fail(new FileSendError(`The output transfer failed: ${error.message}`));
    const onAbort = () => fail(new FileSendError("The output transfer was cancelled."));
    if (signal.aborted) return onAbort();
    call.on("data", onData);
    call.on("end", onEnd);
    call.on("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
