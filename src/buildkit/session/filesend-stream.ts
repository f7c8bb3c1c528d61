// The FileSend call's packets in and out: fsutil packets encoded for the daemon, and the call's
// messages handed to a receiver one at a time, with backpressure.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ServerCall } from "../grpc/server.js";
import { FileSendError } from "../errors.js";
import { ScatteredReader, WireType } from "../scattered-reader.js";
import { StatSchema, type Stat } from "../proto/fsutil/types/stat_pb.js";
import { PacketSchema, type Packet, type Packet_PacketType } from "../proto/fsutil/types/wire_pb.js";

/** A FileSend request: the views of the HTTP/2 frames it came in (grpc/server.ts). */
export type FileSendCall = ServerCall<Buffer[], Buffer>;

/** An fsutil packet as received: its data as the views it came in, never copied together. */
export interface ReceivedPacket {
  type: Packet_PacketType;
  id: number;
  stat: Stat | undefined;
  data: Buffer[];
}

/** fsutil's Packet: `type = 1` (enum), `stat = 2`, `id = 3` (uint32), `data = 4`. */
export function decodePacket(pieces: readonly Buffer[]): ReceivedPacket {
  const packet: ReceivedPacket = { type: 0, id: 0, stat: undefined, data: [] };
  const stat: Buffer[] = [];
  const reader = new ScatteredReader(pieces);
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WireType.Varint) {
      packet.type = reader.varint() as Packet_PacketType;
    } else if (field === 3 && wireType === WireType.Varint) {
      packet.id = reader.varint() % 2 ** 32;
    } else if (field === 2 && wireType === WireType.LengthDelimited) {
      // A message field seen twice merges: its encodings concatenated.
      stat.push(...reader.views(reader.varint()));
    } else if (field === 4 && wireType === WireType.LengthDelimited) {
      // A bytes field seen twice: the last one counts.
      packet.data = reader.views(reader.varint());
    } else {
      reader.skip(wireType);
    }
  }
  if (stat.length > 0) packet.stat = fromBinary(StatSchema, Buffer.concat(stat));
  return packet;
}

/** BytesMessage's data (`bytes data = 1`) as the views it came in. */
export function bytesMessageData(pieces: readonly Buffer[]): Buffer[] {
  let data: Buffer[] = [];
  const reader = new ScatteredReader(pieces);
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) data = reader.views(reader.varint());
    else reader.skip(wireType);
  }
  return data;
}

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
  call: FileSendCall,
  handle: (message: Buffer[]) => Promise<boolean>,
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
    const onData = (message: Buffer[]) => {
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
