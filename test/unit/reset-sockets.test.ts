// A TCP connection the peer resets while this side is not reading it (as Node's HTTP/2 stops
// reading during its writes) goes unnoticed by Node: destroyResetSockets finds it, and leaves a
// healthy connection alone.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { destroyResetSockets, noteClientSockets } from "../../src/buildkit/reset-sockets.js";

describe("destroyResetSockets", () => {
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    noteClientSockets();
    server = createServer((socket) => accepted.push(socket));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    server.close();
    await once(server, "close");
  });

  /** A connected client socket that does not read (its own buffer, paused: no read is pending). */
  async function idleClient(): Promise<Socket> {
    const count = accepted.length;
    const socket = connect({
      port,
      host: "127.0.0.1",
      onread: { buffer: Buffer.alloc(1024), callback: () => true },
    });
    socket.on("error", () => {});
    await once(socket, "connect");
    socket.pause();
    while (accepted.length === count) await new Promise((resolve) => setTimeout(resolve, 5));
    return socket;
  }

  it("destroys a connection the peer reset unnoticed, and only that one", async () => {
    const healthy = await idleClient();
    const reset = await idleClient();
    accepted.at(-1)!.resetAndDestroy();
    // Long enough for the reset to arrive, and for Node to have reported it were it reading.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(reset.destroyed, false, "Node has not noticed the reset on its own");

    assert.equal(destroyResetSockets(), 1);
    assert.equal(reset.destroyed, true);
    assert.equal(healthy.destroyed, false);
    healthy.destroy();
  });
});
