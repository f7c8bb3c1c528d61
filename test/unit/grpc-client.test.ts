// Our gRPC client (src/buildkit/grpc/) against grpc-js's server, an independent implementation of
// the protocol standing in for the daemon's grpc-go: statuses and trailers as sent, deadlines,
// gzip, the receive limit, dial failures in one bound, and a lost connection noticed and redialled.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { connect as dialTcp, createServer, type Server as NetServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { GrpcConnection } from "../../src/buildkit/grpc/connection.js";
import { ClientCall, FrameReader, grpcTimeout } from "../../src/buildkit/grpc/call.js";
import { GrpcError, Metadata, Status } from "../../src/buildkit/grpc/status.js";
import { noteClientSockets, watchedSocketCount } from "../../src/buildkit/reset-sockets.js";

const identity = (bytes: Buffer) => bytes;
const raw = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const ECHO = raw("/test.T/Echo", true, true);
const FAIL = raw("/test.T/Fail", false, false);
const HANG = raw("/test.T/Hang", false, false);
const BIG = raw("/test.T/Big", false, false);

function connect(port: number, connectTimeoutMs = 5000): GrpcConnection {
  return new GrpcConnection({
    target: { kind: "tcp", host: "127.0.0.1", port },
    connectTimeoutMs,
    windowBytes: 16 * 1024 * 1024,
  });
}

function call(
  connection: GrpcConnection,
  path: string,
  options: { timeoutMs?: number; compress?: boolean; metadata?: Metadata } = {},
) {
  return new ClientCall<Buffer, Buffer>(connection, path, identity, identity, {
    ...options,
    maxReceiveBytes: 1024 * 1024,
  });
}

/** The messages and the status of a call that sends `requests`. */
async function run(
  c: ClientCall<Buffer, Buffer>,
  requests: Buffer[],
): Promise<{ messages: Buffer[]; error?: GrpcError }> {
  const messages: Buffer[] = [];
  const done = new Promise<{ messages: Buffer[]; error?: GrpcError }>((resolve) => {
    c.on("data", (message: Buffer) => messages.push(message));
    c.on("end", () => resolve({ messages }));
    c.on("error", (error: GrpcError) => resolve({ messages, error }));
  });
  for (const request of requests) c.write(request);
  c.end();
  return done;
}

describe("our gRPC client against grpc-js's server", () => {
  let server: grpc.Server;
  let port: number;
  const seen: { metadata?: grpc.Metadata; hangCancelled?: boolean } = {};

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(
      { echo: ECHO, fail: FAIL, hang: HANG, big: BIG },
      {
        echo: (c: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          seen.metadata = c.metadata;
          c.on("data", (message: Buffer) => c.write(message));
          c.on("end", () => c.end());
        },
        fail: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const trailers = new grpc.Metadata();
          trailers.set("detail-bin", Buffer.from([0, 1, 2, 255]));
          callback({
            code: grpc.status.NOT_FOUND,
            details: "no such thing: 100% «gone»",
            metadata: trailers,
          });
        },
        hang: (c: grpc.ServerUnaryCall<Buffer, Buffer>) => {
          c.on("cancelled", () => (seen.hangCancelled = true));
        },
        big: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
          callback(null, Buffer.alloc(2 * 1024 * 1024, 7)),
      },
    );
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  });

  afterAll(() => server.forceShutdown());

  it("streams both ways in order, with our metadata, on one connection", async () => {
    const connection = connect(port);
    try {
      const metadata = new Metadata();
      metadata.add("x-docker-expose-session-grpc-method", "/a/B");
      metadata.add("x-docker-expose-session-grpc-method", "/c/D");
      metadata.set("token-bin", Buffer.from([9, 8, 7]));
      const requests = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i * 997, i));
      const { messages, error } = await run(call(connection, ECHO.path, { metadata }), requests);
      assert.equal(error, undefined);
      assert.equal(messages.length, requests.length);
      messages.forEach((message, i) => assert.ok(message.equals(requests[i]!), `message ${i}`));
      assert.equal(seen.metadata?.get("x-docker-expose-session-grpc-method").join(" "), "/a/B, /c/D");
      assert.ok(Buffer.from([9, 8, 7]).equals(seen.metadata?.get("token-bin")[0] as Buffer));
    } finally {
      connection.close();
    }
  });

  it("gzips small messages here and large ones in zlib's pool, and keeps them in order both ways", async () => {
    const relay = await countingRelay(port);
    const connection = connect(relay.port);
    try {
      // Small ones (compressed in this thread) before, between and after large ones (in the pool).
      const line = (i: number) => `message ${i}: a compressible line\n`;
      const sizes = [10, 300_000, 20, 65_536, 65_537, 5, 900_000, 1, 40_000, 700_000, 3];
      const requests = sizes.map((size, i) =>
        Buffer.from(line(i).repeat(Math.ceil(size / line(i).length))).subarray(0, size),
      );
      const { messages, error } = await run(call(connection, ECHO.path, { compress: true }), requests);
      assert.equal(error, undefined);
      assert.equal(messages.length, requests.length);
      messages.forEach((message, i) => assert.ok(message.equals(requests[i]!), `message ${i}`));
      const total = sizes.reduce((sum, size) => sum + size, 0);
      assert.ok(relay.bytesUp() < total / 10, `${relay.bytesUp()} bytes went up for ${total}`);
    } finally {
      connection.close();
      relay.close();
    }
  });

  it("reads gzipped answers in order, small ones inflated here and large ones in zlib's pool", async () => {
    // grpc-js's server never compresses what it sends; grpc-go's (the daemon's) answers in the
    // encoding it was sent. A server that answers every call with these messages, gzipped.
    const text = (size: number) =>
      Buffer.from("a compressible line\n".repeat(Math.ceil(size / 20))).subarray(0, size);
    const answers = [
      text(10),
      randomBytes(200_000),
      text(1),
      randomBytes(70_000),
      text(500_000),
      randomBytes(100),
      text(3),
    ];
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-encoding": "gzip" },
        { waitForTrailers: true },
      );
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      for (const answer of answers) {
        const compressed = gzipSync(answer);
        const header = Buffer.alloc(5);
        header.writeUInt8(1, 0);
        header.writeUInt32BE(compressed.length, 1);
        stream.write(Buffer.concat([header, compressed]));
      }
      stream.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const connection = connect((server.address() as { port: number }).port);
    try {
      const { messages, error } = await run(call(connection, ECHO.path), []);
      assert.equal(error, undefined);
      assert.equal(messages.length, answers.length);
      messages.forEach((message, i) => assert.ok(message.equals(answers[i]!), `message ${i}`));
    } finally {
      connection.close();
      server.close();
    }
  });

  it("gzips what it sends when asked, and reads the answers", async () => {
    const relay = await countingRelay(port);
    const connection = connect(relay.port);
    try {
      const request = Buffer.from("a compressible line\n".repeat(40_000));
      const { messages, error } = await run(call(connection, ECHO.path, { compress: true }), [request]);
      assert.equal(error, undefined);
      assert.ok(messages[0]?.equals(request));
      assert.ok(
        relay.bytesUp() < request.length / 10,
        `${relay.bytesUp()} bytes went up for ${request.length}`,
      );
    } finally {
      connection.close();
      relay.close();
    }
  });

  it("fails with the server's status, its details decoded and its binary trailers", async () => {
    const connection = connect(port);
    try {
      const { error } = await run(call(connection, FAIL.path), [Buffer.alloc(0)]);
      assert.ok(error instanceof GrpcError);
      assert.equal(error.code, Status.NOT_FOUND);
      assert.equal(error.details, "no such thing: 100% «gone»");
      assert.ok(Buffer.from([0, 1, 2, 255]).equals(error.metadata.get("detail-bin")[0] as Buffer));
    } finally {
      connection.close();
    }
  });

  it("ends a call at its deadline and resets it on the server", async () => {
    const connection = connect(port);
    try {
      const { error } = await run(call(connection, HANG.path, { timeoutMs: 200 }), [Buffer.alloc(0)]);
      assert.equal(error?.code, Status.DEADLINE_EXCEEDED);
      for (let i = 0; i < 50 && !seen.hangCancelled; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(seen.hangCancelled, true);
    } finally {
      connection.close();
    }
  });

  it("refuses a message over the receive limit", async () => {
    const connection = connect(port);
    try {
      const { error } = await run(call(connection, BIG.path), [Buffer.alloc(0)]);
      assert.equal(error?.code, Status.RESOURCE_EXHAUSTED);
      assert.match(error?.details ?? "", /2097152 bytes is larger than the limit of 1048576/);
    } finally {
      connection.close();
    }
  });

  it("says why it could not dial: a closed port at once, a silent TLS server within the bound", async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const refused = connect(closed);
    const { error } = await run(call(refused, ECHO.path), []);
    assert.equal(error?.code, Status.UNAVAILABLE);
    assert.match(error?.details ?? "", /ECONNREFUSED/);
    refused.close();

    // Accepts TCP, never speaks TLS: the dial gives up at its bound and closes its socket.
    const sockets: Socket[] = [];
    const closedSockets: Promise<unknown>[] = [];
    const silent: NetServer = createServer((socket) => {
      sockets.push(socket);
      closedSockets.push(once(socket, "close"));
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port: silentPort } = silent.address() as { port: number };
    noteClientSockets();
    const watchedBefore = watchedSocketCount();
    const connection = new GrpcConnection({
      target: { kind: "tcp", host: "127.0.0.1", port: silentPort, tls: { serverName: "runner" } },
      connectTimeoutMs: 300,
      windowBytes: 65535,
    });
    try {
      const silentCall = run(call(connection, ECHO.path), []);
      // The TCP socket under TLS is watched for resets Node leaves unreported (reset-sockets.ts).
      for (let i = 0; i < 50 && watchedSocketCount() === watchedBefore; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(watchedSocketCount(), watchedBefore + 1, "the TLS connection's socket is watched");
      const { error: silentError } = await silentCall;
      assert.equal(silentError?.code, Status.DEADLINE_EXCEEDED);
      assert.match(silentError?.details ?? "", /no connection within 300 ms/);
      assert.equal(sockets.length, 1);
      // The dialled socket is closed: its far end sees the close.
      await Promise.all(closedSockets);
    } finally {
      connection.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("reports a lost connection, fails its calls, and dials again for the next", async () => {
    const relay = await countingRelay(port);
    const connection = connect(relay.port);
    const lost: Array<string | undefined> = [];
    connection.onLost((failure) => lost.push(failure));
    try {
      const hanging = run(call(connection, HANG.path), [Buffer.alloc(0)]);
      await new Promise((r) => setTimeout(r, 100));
      relay.reset();
      const { error } = await hanging;
      assert.equal(error?.code, Status.UNAVAILABLE);
      assert.equal(lost.length, 1);
      const again = await run(call(connection, ECHO.path), [Buffer.from("again")]);
      assert.equal(again.error, undefined);
      assert.equal(String(again.messages[0]), "again");
    } finally {
      connection.close();
      relay.close();
    }
  });
});

/** A TCP relay to `port` on this machine that counts the bytes going up and can reset its connections. */
async function countingRelay(port: number) {
  const sockets: Socket[] = [];
  let up = 0;
  const server = createServer((inbound) => {
    const outbound = dialTcp({ host: "127.0.0.1", port });
    sockets.push(inbound, outbound);
    inbound.on("data", (chunk: Buffer) => (up += chunk.length));
    inbound.pipe(outbound).pipe(inbound);
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    bytesUp: () => up,
    reset: () => sockets.forEach((socket) => socket.resetAndDestroy()),
    close: () => {
      sockets.forEach((socket) => socket.destroy());
      server.close();
    },
  };
}

describe("grpcTimeout", () => {
  it("says a timeout in at most 8 digits, in the finest unit that holds it", () => {
    assert.equal(grpcTimeout(0), "1m");
    assert.equal(grpcTimeout(30_000), "30000m");
    assert.equal(grpcTimeout(99_999_999), "99999999m");
    assert.equal(grpcTimeout(100_000_000), "100000S");
    assert.equal(grpcTimeout(Number.MAX_SAFE_INTEGER), "99999999H");
  });
});

describe("FrameReader", () => {
  it("finds the same messages however the bytes are split", () => {
    const messages = [
      Buffer.alloc(0),
      Buffer.from("one"),
      Buffer.alloc(70_000, 3),
      Buffer.alloc(0),
      Buffer.from("z"),
    ];
    const stream = Buffer.concat(
      messages.map((message, i) => {
        const header = Buffer.alloc(5);
        header.writeUInt8(i === 2 ? 1 : 0, 0);
        header.writeUInt32BE(message.length, 1);
        return Buffer.concat([header, message]);
      }),
    );
    for (const size of [1, 2, 5, 7, 4096, stream.length]) {
      const reader = new FrameReader(1024 * 1024);
      const found: Array<{ compressed: boolean; bytes: Buffer }> = [];
      for (let offset = 0; offset < stream.length; offset += size) {
        found.push(...reader.push(stream.subarray(offset, offset + size)));
      }
      assert.equal(found.length, messages.length, `split every ${size} bytes`);
      found.forEach((message, i) => {
        assert.ok(message.bytes.equals(messages[i]!), `message ${i}, split every ${size} bytes`);
        assert.equal(message.compressed, i === 2);
      });
    }
  });
});
