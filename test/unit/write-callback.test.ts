// With our channel options, a client stream's write callback means the message has left: the
// session tunnel reuses a message's buffer from then on. Its messages are framed in place
// (framing.ts), so grpc-js sends their own memory; its default retry buffer reported a write done
// on the next tick, before sending it, and this test then received later messages' bytes.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { CHANNEL_OPTIONS } from "../../src/buildkit/rpc.js";
import { FRAME_HEADER_BYTES, frameInPlace, markRoomInFront } from "../../src/buildkit/framing.js";

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
    assert.ok(frameInPlace(), "frames are built in place with the bundled grpc-js");
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
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    try {
      const call = client.makeBidiStreamRequest(METHOD, raw.requestSerialize, raw.responseDeserialize);
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
      client.close();
    }
  });
});
