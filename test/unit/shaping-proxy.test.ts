// The WAN benchmark's shaping proxy (test/harness/shaping-proxy.ts) really shapes: bounds that a
// link of the given delay and rate imposes (lower bounds only: a busy machine is only slower),
// and the bytes arrive whole and in order in both directions.
import { afterEach, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { startShapingProxy, type ShapingProxy } from "../harness/shaping-proxy.js";

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A loopback server that answers each connection with `handle`; closed after the test. */
async function server(handle: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const listening: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    handle(socket);
  });
  await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        listening.close(() => resolve());
      }),
  );
  return (listening.address() as { port: number }).port;
}

async function proxy(port: number, delayMs: number, mbitPerSecond: number): Promise<ShapingProxy> {
  const shaping = await startShapingProxy({ target: { host: "127.0.0.1", port }, delayMs, mbitPerSecond });
  closers.push(() => shaping.close());
  return shaping;
}

async function dial(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  closers.push(async () => void socket.destroy());
  return socket;
}

/** Reads from `socket` until `bytes` have arrived; resolves to them. */
function readBytes(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= bytes) {
        socket.off("data", onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("end", () => total < bytes && reject(new Error(`ended after ${total} of ${bytes} bytes`)));
  });
}

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("shaping proxy", () => {
  it("caps the bandwidth: 1 MB at 8 Mbit/s takes at least about a second, and arrives intact", async () => {
    const payload = randomBytes(1_000_000);
    let received: Promise<Buffer> | undefined;
    const port = await server((socket) => {
      received = readBytes(socket, payload.length);
    });
    const shaping = await proxy(port, 0, 8);
    const client = await dial(shaping.port);
    const started = performance.now();
    client.write(payload);
    while (!received) await new Promise((resolve) => setTimeout(resolve, 5));
    const data = await received;
    const seconds = (performance.now() - started) / 1000;
    assert.equal(sha(data), sha(payload));
    // 8,000,000 bits at 8,000,000 bit/s: one second; a little slack for timer rounding.
    assert.ok(seconds >= 0.95, `1 MB took ${seconds.toFixed(3)} s through an 8 Mbit/s proxy`);
    assert.equal(shaping.bytes().up, payload.length);
  });

  it("delays each direction: an echo's round trip is at least twice the one-way delay", async () => {
    const port = await server((socket) => socket.pipe(socket));
    const shaping = await proxy(port, 40, 1000);
    const client = await dial(shaping.port);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      client.write(`ping ${i}\n`);
      const echo = await readBytes(client, `ping ${i}\n`.length);
      const roundTripMs = performance.now() - started;
      assert.equal(echo.toString(), `ping ${i}\n`);
      assert.ok(roundTripMs >= 79, `round trip ${roundTripMs.toFixed(1)} ms through a 40 ms proxy`);
    }
  });

  it("carries both directions at once whole and in order, and passes on the end of a stream", async () => {
    const upload = randomBytes(3 * 1024 * 1024 + 17);
    const download = randomBytes(2 * 1024 * 1024 + 5);
    let received: Promise<Buffer> | undefined;
    const port = await server((socket) => {
      received = readBytes(socket, upload.length);
      socket.end(download);
    });
    const shaping = await proxy(port, 5, 200);
    const client = await dial(shaping.port);
    const downloaded = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      client.on("data", (chunk: Buffer) => chunks.push(chunk));
      client.once("end", () => resolve(Buffer.concat(chunks)));
    });
    // Written in pieces of assorted sizes, so that slices and chunks do not line up.
    for (let offset = 0, size = 1; offset < upload.length; offset += size, size = (size * 7 + 13) % 100_000)
      client.write(upload.subarray(offset, offset + size));
    while (!received) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(sha(await received), sha(upload));
    assert.equal(sha(await downloaded), sha(download));
  });
});
