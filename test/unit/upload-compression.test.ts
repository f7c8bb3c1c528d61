import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { chooseUploadCompression, parseEndpoint } from "../../src/buildkit/index.js";

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
