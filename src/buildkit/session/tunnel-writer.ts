// The outgoing half of the session tunnel: the bytes our HTTP/2 server writes, sent up the
// Control.Session call as BytesMessages.
import { BytesMessageSchema } from "../proto/moby/buildkit/v1/control_pb.js";
import { createInPlace, HEADER_ROOM } from "../encoder.js";
import type { Call } from "../rpc.js";

/** The Control.Session call that carries the tunnel. */
export type TunnelCall = Call<typeof BytesMessageSchema, typeof BytesMessageSchema>;

/** Tunnel messages carry at most this much; HTTP/2 frames written together are joined up to it. */
export const TUNNEL_MESSAGE_BYTES = 1024 * 1024;

/**
 * Messages of at least this much go in the buffer they were collected in, which is reused once
 * sent; smaller ones are copied into their own, so that many small messages on their way never
 * hold a large buffer each.
 */
const REUSED_BUFFER_MIN_BYTES = 64 * 1024;

/**
 * Bytes handed to the tunnel call that have not reached the connection yet, beyond which the
 * writer says it is blocked. The call's own limit counts messages (16), which for a large upload
 * held 16 MiB here. Several round trips' worth of a fast link, and still a bounded peak memory.
 * (It bounds because a write's callback comes once the connection has taken the message:
 * grpc/call.ts.)
 */
const TUNNEL_IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/**
 * The same bound for a gzip-compressed tunnel, counted before compression: source trees shrink
 * about 4 times, so about as many bytes on the wire. (With 4 MiB, a cold upload of a source tree
 * over 50 ms and 100 Mbit/s took 0.57 of buildctl's time instead of 0.48, 3 runs each.)
 */
const COMPRESSED_TUNNEL_IN_FLIGHT_BYTES = 4 * TUNNEL_IN_FLIGHT_BYTES;

/**
 * Collects what the HTTP/2 session writes (a few frames at a time, often one small FileSync
 * packet) and sends it as one message once the current round of I/O is handled, or at
 * TUNNEL_MESSAGE_BYTES, as grpc-go's buffered writer does: one tunnel message per write would
 * cost the runner and us a gRPC message each. `append` always takes the bytes (a copy); the
 * source stops while `blocked` and goes on at `onUnblocked`.
 */
export class TunnelWriter {
  /** Called when the writer stops being blocked. */
  onUnblocked: () => void = () => {};
  private readonly inFlightLimit: number;
  /** The buffer being filled: the message's header room, then `used` bytes. */
  private collecting: Buffer | undefined;
  private used = 0;
  private scheduled = false;
  /** Waiting for the call's 'drain'. */
  private full = false;
  /** Bytes of messages written to the call whose write has not completed. */
  private inFlightBytes = 0;
  private closed = false;
  // Buffers of large messages the connection has taken, for the next ones: a 1 GiB upload
  // otherwise allocated 1 GiB here. At most as many as can be on their way at once.
  private readonly spare: Buffer[] = [];
  private readonly maxSpare: number;

  constructor(
    private readonly call: TunnelCall,
    compressed: boolean,
  ) {
    this.inFlightLimit = compressed ? COMPRESSED_TUNNEL_IN_FLIGHT_BYTES : TUNNEL_IN_FLIGHT_BYTES;
    this.maxSpare = Math.ceil(this.inFlightLimit / TUNNEL_MESSAGE_BYTES) + 1;
    // A write waiting for 'drain' on a call that ended would wait for ever: let it go.
    call.on("close", () => {
      this.closed = true;
      this.collecting = undefined;
      this.used = 0;
      this.full = false;
      this.inFlightBytes = 0;
      this.onUnblocked();
    });
  }

  get blocked(): boolean {
    return this.full || this.inFlightBytes >= this.inFlightLimit;
  }

  /** Takes a copy of `bytes`, to send with what follows in this round of I/O. */
  append(bytes: Uint8Array): void {
    if (this.closed) return;
    let offset = 0;
    while (offset < bytes.byteLength) {
      this.collecting ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(HEADER_ROOM + TUNNEL_MESSAGE_BYTES);
      const take = Math.min(bytes.byteLength - offset, TUNNEL_MESSAGE_BYTES - this.used);
      this.collecting.set(bytes.subarray(offset, offset + take), HEADER_ROOM + this.used);
      this.used += take;
      offset += take;
      if (this.used === TUNNEL_MESSAGE_BYTES) this.flush();
    }
    if (this.used > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what was collected, then half-closes the call. */
  end(): void {
    this.flush();
    this.call.end();
  }

  private flush(): void {
    this.scheduled = false;
    const bytes = this.used;
    if (this.collecting === undefined || bytes === 0 || this.closed) return;
    const reused = bytes >= REUSED_BUFFER_MIN_BYTES;
    let memory = this.collecting;
    if (reused) {
      this.collecting = undefined;
    } else {
      memory = Buffer.allocUnsafe(HEADER_ROOM + bytes);
      this.collecting.copy(memory, HEADER_ROOM, HEADER_ROOM, HEADER_ROOM + bytes);
    }
    this.used = 0;
    // The message's encoding is built around the bytes where they lie: no copy of the payload.
    const encoding = memory.subarray(0, HEADER_ROOM + bytes);
    const message = createInPlace(BytesMessageSchema, {}, encoding, HEADER_ROOM, bytes);
    this.inFlightBytes += bytes;
    const written = () => {
      if (this.closed) return;
      if (reused && this.spare.length < this.maxSpare) this.spare.push(memory);
      const wasBlocked = this.blocked;
      this.inFlightBytes -= bytes;
      if (wasBlocked && !this.blocked) this.onUnblocked();
    };
    if (!this.call.write(message, written)) {
      this.full = true;
      this.call.once("drain", () => {
        this.full = false;
        if (!this.blocked) this.onUnblocked();
      });
    }
  }
}
