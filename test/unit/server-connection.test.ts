// Our HTTP/2 server connection (src/buildkit/grpc/server-connection.ts) frame by frame, as a
// client would write them: what it sends first, PING and SETTINGS answered, padded and continued
// headers, DATA split at every byte, a reset told after the work of the data before it, flow
// control both ways (a paused stream gives no room, a write waits for the client's window,
// trailers wait for the data before them), and a client that breaks the protocol.
// grpc-server.test.ts runs the same server against grpc-js's client.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { encodeHeaders } from "../../src/buildkit/grpc/hpack.js";
import {
  ServerConnection,
  type FrameSink,
  type RequestHeaders,
  type ServerStream,
} from "../../src/buildkit/grpc/server-connection.js";

const nextTick = () => new Promise((resolve) => process.nextTick(resolve));

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function settings(entries: Array<[number, number]>): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(0x4, 0, 0, payload);
}

function windowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment);
  return frame(0x8, 0, streamId, payload);
}

const requestHeaders = encodeHeaders([
  [":method", "POST"],
  [":path", "/t.S/M"],
  ["x-pattern", "a"],
  ["x-pattern", "b"],
]);

/** A connection with a sink that keeps every byte and can be blocked. */
function connect(windowBytes = 1024 * 1024) {
  let written = Buffer.alloc(0);
  let ended = false;
  const sink: FrameSink & { blockedNow: boolean } = {
    blockedNow: false,
    append: (bytes) => (written = Buffer.concat([written, bytes])),
    get blocked() {
      return this.blockedNow;
    },
    onUnblocked: () => {},
    end: () => (ended = true),
  };
  const streams: Array<{ stream: ServerStream; headers: RequestHeaders; data: Buffer[]; ended: boolean }> =
    [];
  let closed = false;
  const connection = new ServerConnection(
    sink,
    { windowBytes, maxHeaderListBytes: 64 * 1024 },
    (stream, headers) => {
      const entry = { stream, headers, data: [] as Buffer[], ended: false };
      stream.onData = (chunk) => entry.data.push(Buffer.from(chunk));
      stream.onEnd = () => (entry.ended = true);
      streams.push(entry);
    },
    () => (closed = true),
  );
  /** The frames written since the last call. */
  const frames = (): Frame[] => {
    const out: Frame[] = [];
    let offset = 0;
    while (offset < written.length) {
      const length = written.readUIntBE(offset, 3);
      out.push({
        type: written[offset + 3]!,
        flags: written[offset + 4]!,
        streamId: written.readUInt32BE(offset + 5),
        payload: written.subarray(offset + 9, offset + 9 + length),
      });
      offset += 9 + length;
    }
    written = Buffer.alloc(0);
    return out;
  };
  return { connection, sink, streams, frames, isEnded: () => ended, isClosed: () => closed };
}

describe("the session server's HTTP/2 connection", () => {
  it("starts with its settings and window, answers SETTINGS and PING, and reads padded, continued headers", () => {
    const { connection, frames, streams } = connect(1024 * 1024);
    const [ours, window] = frames();
    assert.equal(ours?.type, 0x4);
    assert.equal(ours?.payload.readUInt16BE(0), 0x4);
    assert.equal(ours?.payload.readUInt32BE(2), 1024 * 1024);
    assert.equal(window?.type, 0x8);
    assert.equal(window?.payload.readUInt32BE(0), 1024 * 1024 - 65_535);

    const ping = Buffer.from("12345678");
    // HEADERS padded by 3, with a priority, its block split over a CONTINUATION.
    const padded = Buffer.concat([
      Buffer.of(3),
      Buffer.alloc(5),
      requestHeaders.subarray(0, 4),
      Buffer.alloc(3),
    ]);
    connection.receive(
      Buffer.concat([
        PREFACE,
        settings([]),
        frame(0x6, 0, 0, ping),
        frame(0x1, 0x8 | 0x20, 1, padded),
        frame(0x9, 0x4, 1, requestHeaders.subarray(4)),
      ]),
    );
    const answers = frames();
    assert.deepEqual(
      answers.map((f) => [f.type, f.flags]),
      [
        [0x4, 0x1],
        [0x6, 0x1],
      ],
    );
    assert.ok(answers[1]!.payload.equals(ping));
    assert.equal(streams.length, 1);
    assert.equal(streams[0]!.headers[":path"], "/t.S/M");
    assert.deepEqual(streams[0]!.headers["x-pattern"], ["a", "b"]);
  });

  it("passes DATA on whole and in order however the bytes are split, and gives the window back", () => {
    const windowBytes = 64 * 1024;
    const payload = Buffer.from(Array.from({ length: 40_000 }, (_, i) => i % 253));
    const bytes = Buffer.concat([
      PREFACE,
      settings([]),
      frame(0x1, 0x4, 1, requestHeaders),
      frame(0x0, 0, 1, payload.subarray(0, 16_384)),
      // Padded DATA: 2 bytes of padding.
      frame(0x0, 0x8, 1, Buffer.concat([Buffer.of(2), payload.subarray(16_384, 30_000), Buffer.alloc(2)])),
      frame(0x0, 0x1, 1, payload.subarray(30_000)),
    ]);
    for (const size of [1, 7, 9, 1000, bytes.length]) {
      const { connection, streams, frames } = connect(windowBytes);
      frames();
      for (let offset = 0; offset < bytes.length; offset += size) {
        connection.receive(bytes.subarray(offset, offset + size));
      }
      const [only] = streams;
      assert.ok(Buffer.concat(only!.data).equals(payload), `split every ${size} bytes`);
      assert.equal(only!.ended, true);
      // Every byte received is given back, to the connection and to the stream: each time a
      // quarter of the window is used, and at the end.
      const updates = frames().filter((f) => f.type === 0x8);
      const given = (streamId: number) =>
        updates.filter((f) => f.streamId === streamId).reduce((sum, f) => sum + f.payload.readUInt32BE(0), 0);
      assert.equal(given(0), 16_384 + 13_619 + 10_000, `split every ${size} bytes`);
      assert.equal(given(1), 16_384 + 13_619 + 10_000, `split every ${size} bytes`);
    }
  });

  it("gives a paused stream no more room until it resumes", () => {
    const { connection, streams, frames } = connect(64 * 1024);
    connection.receive(Buffer.concat([PREFACE, settings([]), frame(0x1, 0x4, 1, requestHeaders)]));
    streams[0]!.stream.pause();
    frames();
    connection.receive(frame(0x0, 0, 1, Buffer.alloc(16_384)));
    connection.receive(frame(0x0, 0, 1, Buffer.alloc(16_384)));
    assert.deepEqual(
      frames().map((f) => f.streamId),
      [0, 0],
      "only the connection's window",
    );
    streams[0]!.stream.resume();
    const [update] = frames();
    assert.equal(update?.streamId, 1);
    assert.equal(update?.payload.readUInt32BE(0), 32_768);
  });

  it("sends within the client's windows, calls back once a write has gone whole, and ends after the data", async () => {
    const { connection, streams, frames, sink } = connect();
    // The client gives each stream 10 bytes of room.
    connection.receive(Buffer.concat([PREFACE, settings([[0x4, 10]]), frame(0x1, 0x4, 1, requestHeaders)]));
    const { stream } = streams[0]!;
    frames();
    let written = false;
    stream.respond([[":status", "200"]], false);
    stream.write([Buffer.alloc(15, 1), Buffer.alloc(10, 2)], () => (written = true));
    stream.end([["grpc-status", "0"]]);
    // What is queued goes once the code that queued it has run: nothing yet.
    assert.deepEqual(
      frames().map((f) => f.type),
      [0x1],
    );
    await nextTick();
    let sent = frames();
    assert.deepEqual(
      sent.map((f) => [f.type, f.payload.length]),
      [[0x0, 10]],
    );
    assert.equal(written, false);
    connection.receive(windowUpdate(1, 100));
    sent = frames();
    assert.deepEqual(
      sent.map((f) => [f.type, f.flags, f.payload.length]),
      [
        [0x0, 0, 15],
        [0x1, 0x5, sent[1]?.payload.length ?? -1],
      ],
    );
    assert.ok(sent[0]!.payload.equals(Buffer.concat([Buffer.alloc(5, 1), Buffer.alloc(10, 2)])));
    assert.equal(written, true);

    // A blocked sink holds DATA (and its callback) until it says it is unblocked.
    connection.receive(frame(0x1, 0x5, 3, requestHeaders));
    const second = streams[1]!.stream;
    connection.receive(windowUpdate(3, 100));
    frames();
    sink.blockedNow = true;
    let secondWritten = false;
    second.write([Buffer.alloc(5)], () => (secondWritten = true));
    await nextTick();
    assert.deepEqual(frames(), []);
    sink.blockedNow = false;
    sink.onUnblocked();
    assert.equal(frames()[0]?.payload.length, 5);
    assert.equal(secondWritten, true);
  });

  it("tells a stream the client reset it only after the work its last data started", async () => {
    const { connection, streams, frames } = connect();
    connection.receive(Buffer.concat([PREFACE, settings([]), frame(0x1, 0x4, 1, requestHeaders)]));
    frames();
    const order: string[] = [];
    const { stream } = streams[0]!;
    // What a handler does with its last packet: a few promise jobs.
    stream.onData = () =>
      void Promise.resolve().then(() => Promise.resolve().then(() => order.push("last packet handled")));
    stream.onClose = () => order.push("closed");
    const reset = Buffer.alloc(4);
    reset.writeUInt32BE(0x8);
    // The last DATA and the reset in one read, as the daemon's often arrive.
    connection.receive(Buffer.concat([frame(0x0, 0, 1, Buffer.from("FIN")), frame(0x3, 0, 1, reset)]));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ["last packet handled", "closed"]);
  });

  it("goes away on a client that breaks the protocol, and closes its streams", async () => {
    const { connection, streams, frames, isEnded, isClosed } = connect();
    let closed = false;
    connection.receive(Buffer.concat([PREFACE, settings([]), frame(0x1, 0x4, 1, requestHeaders)]));
    streams[0]!.stream.onClose = () => (closed = true);
    frames();
    // A CONTINUATION with no HEADERS before it.
    connection.receive(frame(0x9, 0x4, 1, requestHeaders));
    const [goAway] = frames();
    assert.equal(goAway?.type, 0x7);
    assert.equal(goAway?.payload.readUInt32BE(4), 0x1);
    assert.equal(isEnded(), true);
    assert.equal(isClosed(), true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, true);

    const second = connect();
    second.frames();
    second.connection.receive(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    assert.equal(second.frames()[0]?.type, 0x7);
  });
});
