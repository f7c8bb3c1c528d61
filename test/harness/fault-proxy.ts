// A loopback TCP proxy of the tests' own between the client and a runner, that can fail the link
// at any moment as a real network does: reset every connection (RST), or black-hole it (stop
// passing bytes either way, keep the sockets open, as a dead route or a frozen peer looks).
// TLS passes through untouched: the client talks to the runner, only the TCP hop is ours.
import { createServer, connect, type Server, type Socket } from "node:net";

export type ProxyMode = "forward" | "black-hole";

export interface FaultProxy {
  /** tcp://127.0.0.1:PORT: give it to the client instead of the runner's address. */
  address: string;
  /** Bytes passed from the clients to the runner so far, over every connection. */
  upstreamBytes(): number;
  /** Resets every open connection (RST to both sides); new connections still pass. */
  reset(): void;
  /** Stops passing bytes in both directions, for open and new connections; sockets stay open. */
  blackHole(): void;
  /** Resets every connection once `bytes` more have gone upstream. */
  resetAfter(bytes: number): void;
  /** Calls `then` once `bytes` more have gone upstream. */
  afterUpstream(bytes: number, then: () => void): void;
  /** Calls `then` once `bytes` more have come back from the runner. */
  afterDownstream(bytes: number, then: () => void): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  runner: Socket;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target.replace(/^tcp:/, "http:"));
  const pairs = new Set<Pair>();
  let mode: ProxyMode = "forward";
  let upstream = 0;
  let downstream = 0;
  const triggers: { at: number; direction: "up" | "down"; then: () => void }[] = [];

  const fireTriggers = () => {
    for (const trigger of [...triggers]) {
      if ((trigger.direction === "up" ? upstream : downstream) >= trigger.at) {
        triggers.splice(triggers.indexOf(trigger), 1);
        trigger.then();
      }
    }
  };

  const server: Server = createServer((client) => {
    const runner = connect(Number(port), hostname);
    const pair = { client, runner };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      runner.destroy();
    };
    client.on("error", drop);
    runner.on("error", drop);
    client.on("close", drop);
    runner.on("close", drop);
    client.on("data", (chunk: Buffer) => {
      if (mode === "black-hole") return;
      upstream += chunk.length;
      if (!runner.write(chunk)) client.pause();
      fireTriggers();
    });
    runner.on("drain", () => client.resume());
    runner.on("data", (chunk: Buffer) => {
      if (mode === "black-hole") return;
      downstream += chunk.length;
      if (!client.write(chunk)) runner.pause();
      fireTriggers();
    });
    client.on("drain", () => runner.resume());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port: ownPort } = server.address() as { port: number };

  const reset = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.runner.resetAndDestroy();
    }
  };
  const afterUpstream = (bytes: number, then: () => void) => {
    triggers.push({ at: upstream + bytes, direction: "up", then });
    fireTriggers();
  };
  const afterDownstream = (bytes: number, then: () => void) => {
    triggers.push({ at: downstream + bytes, direction: "down", then });
    fireTriggers();
  };

  return {
    address: `tcp://127.0.0.1:${ownPort}`,
    upstreamBytes: () => upstream,
    reset,
    blackHole: () => {
      mode = "black-hole";
    },
    resetAfter: (bytes) => afterUpstream(bytes, reset),
    afterUpstream,
    afterDownstream,
    close: () => {
      triggers.length = 0;
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.runner.destroy();
      }
      pairs.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
