// A TCP proxy that makes loopback behave like a wide-area link, for the WAN benchmark: each
// direction of each connection has a one-way delay and a bandwidth cap, and a bounded queue.
//
// Model (per direction, per connection): a byte that arrives is serialized onto the "wire" at
// `mbitPerSecond` (a chunk leaves the wire when the previous one has, plus its size divided by the
// rate), then it travels `delayMs` before it is delivered. At most `queueBytes` may wait on the
// sending side of the wire; when more are waiting, the proxy stops reading from that socket, so
// TCP's own flow control pushes back on the sender, as a router's full queue would (without the
// loss). Bytes are delivered in order and never reordered or dropped.
import { createServer, connect, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import type { TestRunner } from "./runner.js";

/**
 * This machine's first IPv4 address that is not loopback: a proxy listening there is still local,
 * but a client dialling it cannot tell it is (clients treat loopback specially, e.g. never compress).
 */
export function nonLoopbackAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4" && !address.internal) return address.address;
    }
  }
  throw new Error("This machine has no IPv4 address besides loopback for the shaping proxy to listen on.");
}

/**
 * buildctl's connection flags for `runner` (our CLI takes the same), dialling `address` instead: a
 * proxy on the non-loopback address, while the runner's certificate names 127.0.0.1.
 */
export function buildctlArgsThrough(runner: TestRunner, address: string): string[] {
  const args = runner.buildctlArgs();
  args[args.indexOf("--addr") + 1] = address;
  return [...args, "--tlsservername", "127.0.0.1"];
}

export interface ShapingOptions {
  /** Where connections go: host and port of the real server. */
  target: { host: string; port: number };
  /** One-way delay in milliseconds (the round trip is twice this). */
  delayMs: number;
  /** Bandwidth of each direction in Mbit/s (10^6 bits per second). */
  mbitPerSecond: number;
  /** Bytes that may wait for the wire in each direction before reading stops; default 1 MiB. */
  queueBytes?: number;
  /** The address to listen on; default 127.0.0.1 (see nonLoopbackAddress). */
  listenHost?: string;
}

export interface ShapingProxy {
  host: string;
  port: number;
  /** tcp://HOST:PORT of the proxy. */
  address: string;
  /** Bytes carried so far, client to server and server to client. */
  bytes(): { up: number; down: number };
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Largest piece serialized at once: small enough that the cap is smooth at 1 Mbit/s. */
const SLICE_BYTES = 16 * 1024;

/** One direction: reads `from`, writes to `to` after the wire's serialization time and delay. */
class ShapedDirection {
  /** Slices on their way, in order, each with when it leaves the queue and when it arrives. */
  private readonly slices: { data: Buffer; serializedAt: number; deliverAt: number }[] = [];
  /** Index of the first slice still counted in the sender's queue. */
  private serializing = 0;
  private wireFreeAt = 0;
  private queued = 0;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  carried = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly options: Required<Omit<ShapingOptions, "target" | "listenHost">>,
  ) {
    from.on("data", (chunk: Buffer) => this.accept(chunk));
    from.on("end", () => {
      this.ended = true;
      this.maybeEnd();
    });
  }

  private accept(chunk: Buffer): void {
    const bytesPerMs = (this.options.mbitPerSecond * 1e6) / 8 / 1000;
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      const data = chunk.subarray(offset, offset + SLICE_BYTES);
      this.wireFreeAt = Math.max(performance.now(), this.wireFreeAt) + data.length / bytesPerMs;
      this.slices.push({
        data,
        serializedAt: this.wireFreeAt,
        deliverAt: this.wireFreeAt + this.options.delayMs,
      });
      this.queued += data.length;
    }
    if (this.queued > this.options.queueBytes) this.from.pause();
    this.schedule();
  }

  /** One timer per direction, for the next event, so that slices are handled strictly in order. */
  private schedule(): void {
    if (this.timer) return;
    if (this.slices.length === 0) return;
    const next = Math.min(
      this.slices[0]!.deliverAt,
      this.slices[this.serializing]?.serializedAt ?? Number.POSITIVE_INFINITY,
    );
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }

  private tick(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.serializing < this.slices.length && this.slices[this.serializing]!.serializedAt <= now) {
      this.queued -= this.slices[this.serializing]!.data.length;
      this.serializing++;
    }
    if (this.queued <= this.options.queueBytes && this.from.isPaused()) this.from.resume();
    let delivered = 0;
    while (delivered < this.serializing && this.slices[delivered]!.deliverAt <= now) {
      const { data } = this.slices[delivered]!;
      this.carried += data.length;
      if (!this.to.destroyed) this.to.write(data);
      delivered++;
    }
    this.slices.splice(0, delivered);
    this.serializing -= delivered;
    this.maybeEnd();
    this.schedule();
  }

  private maybeEnd(): void {
    if (this.ended && this.slices.length === 0 && !this.to.destroyed) this.to.end();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

export async function startShapingProxy(options: ShapingOptions): Promise<ShapingProxy> {
  const settings = {
    delayMs: options.delayMs,
    mbitPerSecond: options.mbitPerSecond,
    queueBytes: options.queueBytes ?? 1024 * 1024,
  };
  if (!(settings.delayMs >= 0) || !(settings.mbitPerSecond > 0) || !(settings.queueBytes > 0)) {
    throw new Error(`shaping proxy: bad settings ${JSON.stringify(settings)}`);
  }
  const host = options.listenHost ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const directions: ShapedDirection[] = [];
  const totals = { up: 0, down: 0 };
  let accepted = 0;
  // Half-open allowed: one direction's end travels (delayed) on its own, as TCP's FIN does.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const upstream = connect({ port: options.target.port, host: options.target.host, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
      // Either side failing ends both: what a broken link looks like to each end.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const up = new ShapedDirection(client, upstream, settings);
    const down = new ShapedDirection(upstream, client, settings);
    directions.push(up, down);
    // Both sockets closed: both directions have delivered their end (or one side failed).
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      totals.up += up.carried;
      totals.down += down.carried;
      directions.splice(directions.indexOf(up), 2);
      up.stop();
      down.stop();
    };
    client.on("close", closed);
    upstream.on("close", closed);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    host,
    port,
    address: `tcp://${host}:${port}`,
    bytes: () => {
      let { up, down } = totals;
      for (let i = 0; i < directions.length; i += 2) {
        up += directions[i]!.carried;
        down += directions[i + 1]!.carried;
      }
      return { up, down };
    },
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
