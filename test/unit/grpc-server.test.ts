// The session's gRPC server (src/buildkit/grpc/server.ts) against grpc-js's client, an independent
// implementation of the protocol standing in for the daemon's grpc-go: answers and statuses as
// the handlers give them, a method we do not serve, a handler that throws, a call the client
// cancels, a request with many headers (the daemon sends .dockerignore's patterns that way), and
// calls at once that move more than every flow-control window both ways.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { createServer, type Server as NetServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { GrpcServer, type ServerCall, type UnaryCallback } from "../../src/buildkit/grpc/server.js";
import { Status } from "../../src/buildkit/grpc/status.js";

const identity = (bytes: Buffer) => bytes;
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestDeserialize: identity,
  responseSerialize: identity,
});

describe("our session server against grpc-js's client", () => {
  let server: GrpcServer;
  let listener: NetServer;
  let client: grpc.Client;
  let cancelled: () => void = () => {};

  beforeAll(async () => {
    server = new GrpcServer({
      maxReceiveBytes: 1024 * 1024,
      windowBytes: 16 * 1024 * 1024,
    });
    server.addService(
      {
        echo: method("/t.S/Echo", true, true),
        upper: method("/t.S/Upper", false, false),
        refuse: method("/t.S/Refuse", false, false),
        crash: method("/t.S/Crash", false, false),
        wait: method("/t.S/Wait", false, true),
        headers: method("/t.S/Headers", false, false),
        mirror: method("/t.S/Mirror", true, true),
        pieces: {
          ...method("/t.S/Pieces", false, false),
          requestDeserializePieces: (pieces: Buffer[]) => pieces,
        },
      },
      {
        echo: (call: ServerCall<Buffer, Buffer>) => {
          call.on("data", (message: Buffer) => call.write(message));
          call.on("end", () => call.end());
        },
        upper: (call: ServerCall<Buffer, Buffer>, callback: UnaryCallback<Buffer>) =>
          callback(null, Buffer.from(String(call.request).toUpperCase())),
        refuse: (_call: ServerCall<Buffer, Buffer>, callback: UnaryCallback<Buffer>) =>
          callback({ code: Status.PERMISSION_DENIED, details: "not yours: 50% «off»\nsecond line" }),
        crash: () => {
          throw new Error("handler bug");
        },
        wait: (call: ServerCall<Buffer, Buffer>) => {
          call.write(Buffer.from("started"));
          call.on("cancelled", () => cancelled());
        },
        headers: (call: ServerCall<Buffer, Buffer>, callback: UnaryCallback<Buffer>) =>
          callback(null, Buffer.from(call.metadata.get("exclude-patterns").map(String).join("|"))),
        // How many pieces the request came in, and its bytes.
        pieces: (call: ServerCall<Buffer[], Buffer>, callback: UnaryCallback<Buffer>) =>
          callback(null, Buffer.concat([Buffer.from(`${call.request.length}:`), ...call.request])),
        // Every message back, reading on only as fast as the client takes the answers.
        mirror: (call: ServerCall<Buffer, Buffer>) => {
          call.on("data", (message: Buffer) => {
            if (!call.write(message)) {
              call.pause();
              call.once("drain", () => call.resume());
            }
          });
          call.on("end", () => call.end());
        },
      },
    );
    listener = createServer((connection) => server.serve(connection));
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as { port: number };
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(() => {
    client.close();
    server.close();
    listener.close();
  });

  const unary = (path: string, request: Buffer, metadata = new grpc.Metadata()) =>
    new Promise<{ response?: Buffer; error?: grpc.ServiceError }>((resolve) =>
      client.makeUnaryRequest(path, identity, identity, request, metadata, (error, response) =>
        resolve(error ? { error } : { response }),
      ),
    );

  it("hands a method that takes pieces each request as the views of its frames, whole", async () => {
    const request = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const { response } = await unary("/t.S/Pieces", request);
    const colon = response!.indexOf(":");
    // grpc-js sends at most 16 KiB per DATA frame: 100,005 framed bytes come in 7 or more.
    assert.ok(Number(String(response!.subarray(0, colon))) >= 7, String(response!.subarray(0, colon)));
    assert.ok(response!.subarray(colon + 1).equals(request));
  });

  it("refuses a compressed request the same way whether the method takes pieces or not", async () => {
    const { port } = listener.address() as { port: number };
    const gzipClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.default_compression_algorithm": 2,
    });
    try {
      for (const path of ["/t.S/Upper", "/t.S/Pieces"]) {
        const error = await new Promise<grpc.ServiceError | null>((resolve) =>
          gzipClient.makeUnaryRequest(path, identity, identity, Buffer.alloc(1000, 97), (failure) =>
            resolve(failure),
          ),
        );
        assert.equal(error?.code, grpc.status.UNIMPLEMENTED, `${path}: ${error?.message}`);
        assert.equal(error?.details, "compressed requests are not accepted", path);
      }
    } finally {
      gzipClient.close();
    }
  });

  it("answers unary and streaming calls", async () => {
    assert.equal(String((await unary("/t.S/Upper", Buffer.from("abc"))).response), "ABC");
    const call = client.makeBidiStreamRequest("/t.S/Echo", identity, identity);
    const received: Buffer[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    call.on("data", (message: Buffer) => received.push(message));
    const sent = Array.from({ length: 300 }, (_, i) => Buffer.alloc(100 + i * 301, i));
    for (const message of sent) call.write(message);
    call.end();
    assert.equal((await ended).code, grpc.status.OK);
    assert.equal(received.length, sent.length);
    received.forEach((message, i) => assert.ok(message.equals(sent[i]!), `message ${i}`));
  });

  it("sends a handler's failure as the status, and UNIMPLEMENTED for a method it does not serve", async () => {
    const refused = await unary("/t.S/Refuse", Buffer.alloc(0));
    assert.equal(refused.error?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(refused.error?.details, "not yours: 50% «off»\nsecond line");
    const unknown = await unary("/t.S/Nothing", Buffer.alloc(0));
    assert.equal(unknown.error?.code, grpc.status.UNIMPLEMENTED);
  });

  it("ends a call whose handler throws with UNKNOWN, and goes on serving", async () => {
    const crashed = await unary("/t.S/Crash", Buffer.alloc(0));
    assert.equal(crashed.error?.code, grpc.status.UNKNOWN);
    assert.match(crashed.error?.details ?? "", /handler bug/);
    assert.equal(String((await unary("/t.S/Upper", Buffer.from("still"))).response), "STILL");
  });

  it("tells the handler when the client cancels", async () => {
    const heard = new Promise<void>((resolve) => (cancelled = resolve));
    const call = client.makeServerStreamRequest("/t.S/Wait", identity, identity, Buffer.alloc(0));
    call.on("error", () => undefined);
    await new Promise((resolve) => call.once("data", resolve));
    call.cancel();
    await heard;
  });

  it("takes a request with a thousand headers", async () => {
    const metadata = new grpc.Metadata();
    const patterns = Array.from({ length: 1000 }, (_, i) => `dir${i}/**/*.log`);
    for (const pattern of patterns) metadata.add("exclude-patterns", pattern);
    const { response, error } = await unary("/t.S/Headers", Buffer.alloc(0), metadata);
    assert.equal(error, undefined);
    // Each repeated header arrives as a value of its own, in order.
    assert.equal(String(response), patterns.join("|"));
  });

  it("moves 8 MiB each way on each of 8 calls at once, past every window, in order", async () => {
    const mirror = async (seed: number) => {
      const call = client.makeBidiStreamRequest("/t.S/Mirror", identity, identity);
      const sent = Array.from({ length: 64 }, (_, i) => Buffer.alloc(128 * 1024, (seed * 64 + i) % 251));
      const received: Buffer[] = [];
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.on("data", (message: Buffer) => received.push(message));
      for (const message of sent) {
        if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
      }
      call.end();
      assert.equal((await ended).code, grpc.status.OK);
      assert.equal(received.length, sent.length);
      received.forEach((message, i) => assert.ok(message.equals(sent[i]!), `call ${seed}, message ${i}`));
    };
    await Promise.all(Array.from({ length: 8 }, (_, seed) => mirror(seed)));
  });
});
