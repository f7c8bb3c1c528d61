// A client call's write callback means the message has left: the session tunnel reuses a
// message's buffer from then on. Its messages are framed in place (framing.ts), so the call sends
// their own memory; grpc-js's default retry buffer once reported a write done on the next tick,
// before sending it, and this test then received later messages' bytes.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { FLOW_CONTROL_WINDOW_BYTES, MAX_MESSAGE_BYTES } from "../../src/buildkit/rpc.js";
import { FRAME_HEADER_BYTES, markRoomInFront } from "../../src/buildkit/framing.js";
import { GrpcConnection } from "../../src/buildkit/grpc/connection.js";
import { ClientCall } from "../../src/buildkit/grpc/call.js";

const METHOD = "/test.Echo/Collect";
const MESSAGES = 40;
const MESSAGE_BYTES = 64 * 1024;

const raw = {
  path: METHOD,
  requestStream: true,
  responseStream: true,
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (value: Buffer) => value,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (value: Buffer) => value,
};

/** Message i, every byte i, in `memory` behind room for its frame header. */
function fill(memory: Buffer, i: number): Buffer {
  const message = memory.subarray(FRAME_HEADER_BYTES).fill(i);
  markRoomInFront(message);
  return message;
}

describe("a client stream's write callback", () => {
  let server: grpc.Server;
  let port: number;
  const received: Buffer[] = [];

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(
      { Collect: raw },
      {
        Collect: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          call.on("data", (message: Buffer) => received.push(Buffer.from(message)));
          call.on("end", () => call.end());
        },
      },
    );
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  });

  afterAll(() => server.forceShutdown());

  it("comes once the message has left, so its buffer can be reused", async () => {
    const connection = new GrpcConnection({
      target: { kind: "tcp", host: "127.0.0.1", port },
      connectTimeoutMs: 5000,
      windowBytes: FLOW_CONTROL_WINDOW_BYTES,
    });
    try {
      const call = new ClientCall<Buffer, Buffer>(
        connection,
        METHOD,
        raw.requestSerialize,
        raw.responseDeserialize,
        {
          maxReceiveBytes: MAX_MESSAGE_BYTES,
        },
      );
      const ended = new Promise<void>((resolve, reject) => {
        call.on("data", () => {});
        call.on("end", resolve);
        call.on("error", reject);
      });
      // One buffer for every message: each is overwritten with the next as soon as its write is done.
      const buffer = Buffer.alloc(FRAME_HEADER_BYTES + MESSAGE_BYTES);
      for (let i = 0; i < MESSAGES; i++) {
        await new Promise<void>((resolve) => call.write(fill(buffer, i), () => resolve()));
      }
      fill(buffer, 0xff);
      call.end();
      await ended;
      assert.equal(received.length, MESSAGES);
      received.forEach((message, i) => {
        assert.equal(message.length, MESSAGE_BYTES);
        assert.ok(
          message.every((byte) => byte === i),
          `message ${i} arrived changed: it was sent after its write was reported done`,
        );
      });
    } finally {
      connection.close();
    }
  });
});
