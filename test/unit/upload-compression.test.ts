import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { chooseUploadCompression, parseEndpoint } from "../../src/buildkit/index.js";
import { AdaptiveGzipLevel } from "../../src/buildkit/grpc/gzip-level.js";

const remote = parseEndpoint("tcp://buildkit.example.com:1234");

describe("chooseUploadCompression", () => {
  it("on and off are obeyed whatever the link", () => {
    assert.equal(chooseUploadCompression("on", parseEndpoint("unix:///run/b.sock"), 0.1).compress, true);
    assert.equal(chooseUploadCompression("off", remote, 80).compress, false);
  });

  it("auto never compresses for a unix socket or loopback, however slow they answer", () => {
    assert.deepEqual(chooseUploadCompression("auto", parseEndpoint("unix:///run/b.sock"), 50), {
      compress: false,
      reason: "a unix socket",
    });
    for (const address of ["tcp://127.0.0.1:1234", "tcp://localhost:1234", "tcp://[::1]:1234"]) {
      assert.equal(chooseUploadCompression("auto", parseEndpoint(address), 50).compress, false, address);
    }
  });

  it("auto compresses over a link whose round trip is 5 ms or more", () => {
    assert.equal(chooseUploadCompression("auto", remote, 0.4).compress, false);
    assert.equal(chooseUploadCompression("auto", remote, 4.9).compress, false);
    assert.deepEqual(chooseUploadCompression("auto", remote, 50), {
      compress: true,
      reason: "the runner's round trip is 50.0 ms, a wide-area link",
    });
    assert.equal(chooseUploadCompression("auto", remote, undefined).compress, false);
  });
});

describe("AdaptiveGzipLevel", () => {
  const MiB = 1024 * 1024;
  /** The time in ms, for calls of `levels` that follow each other. */
  let clock = 1000;

  /** Compresses `count` messages of `bytes`, each taking `takes` ms, `waits` ms apart; the levels. */
  function levels(
    gzip: AdaptiveGzipLevel,
    count: number,
    bytes: number,
    takes: number,
    waits: number,
  ): number[] {
    const chosen: number[] = [];
    let now = clock;
    for (let i = 0; i < count; i++) {
      chosen.push(gzip.start(bytes, now));
      gzip.end(bytes, now, now + takes);
      now += takes + waits;
    }
    clock = now;
    return chosen;
  }

  it("starts at the fastest level and stays there while the compressor holds the upload up", () => {
    assert.deepEqual(levels(new AdaptiveGzipLevel(), 6, MiB, 10, 1), [1, 1, 1, 1, 1, 1]);
  });

  it("rises to the densest level while the upload waits for the link, and comes back down", () => {
    const gzip = new AdaptiveGzipLevel();
    assert.deepEqual(levels(gzip, 8, MiB, 10, 50), [1, 2, 3, 4, 5, 6, 6, 6]);
    assert.deepEqual(levels(gzip, 7, MiB, 10, 0), [6, 5, 4, 3, 2, 1, 1]);
  });

  it("keeps its level between the two bounds, and learns nothing from small messages", () => {
    const gzip = new AdaptiveGzipLevel();
    levels(gzip, 3, MiB, 10, 50);
    assert.equal(gzip.level, 3);
    // The first one still sees the last long wait; a wait between a quarter and the whole of the
    // compressing time changes nothing.
    assert.deepEqual(levels(gzip, 3, MiB, 10, 5), [4, 4, 4]);
    assert.deepEqual(levels(gzip, 3, 1000, 0, 500), [4, 4, 4]);
  });
});
