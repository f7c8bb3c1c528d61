import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { isLoopbackHost, parseEndpoint } from "../../src/buildkit/endpoint.js";
import { EndpointError } from "../../src/buildkit/errors.js";

describe("parseEndpoint", () => {
  it("reads tcp://HOST:PORT", () => {
    assert.deepEqual(parseEndpoint("tcp://runner.example:1234"), {
      kind: "tcp",
      address: "tcp://runner.example:1234",
      host: "runner.example",
      port: 1234,
    });
  });

  it("reads an IPv6 host in brackets", () => {
    const endpoint = parseEndpoint("tcp://[::1]:8372");
    assert.equal(endpoint.kind === "tcp" && endpoint.host, "::1");
  });

  it("reads unix:///PATH", () => {
    const endpoint = parseEndpoint(" unix:///run/buildkit/buildkitd.sock ");
    assert.deepEqual(endpoint, {
      kind: "unix",
      address: "unix:///run/buildkit/buildkitd.sock",
      path: "/run/buildkit/buildkitd.sock",
    });
  });

  it("reads ssh://[USER@]HOST[:PORT][/SOCKET] as BuildKit's ssh helper does", () => {
    assert.deepEqual(parseEndpoint("ssh://builder@runner.example:2222/run/buildkit/buildkitd.sock"), {
      kind: "ssh",
      address: "ssh://builder@runner.example:2222/run/buildkit/buildkitd.sock",
      host: "runner.example",
      user: "builder",
      port: 2222,
      socketPath: "/run/buildkit/buildkitd.sock",
    });
    assert.deepEqual(parseEndpoint("ssh://runner.example"), {
      kind: "ssh",
      address: "ssh://runner.example",
      host: "runner.example",
    });
    assert.deepEqual(parseEndpoint("ssh://[::1]:22/"), {
      kind: "ssh",
      address: "ssh://[::1]:22/",
      host: "::1",
      port: 22,
    });
  });

  it("never repeats a password given in an ssh URL", () => {
    assert.throws(
      () => parseEndpoint("ssh://user:hunter2@host"),
      (error: Error) => !error.message.includes("hunter2"),
    );
  });

  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["127.0.0.1:1234", /"127\.0\.0\.1:1234" has no scheme/],
    ["ssh://user:secret@host", /has a password; ssh endpoints take a key/],
    ["ssh://host?socket=/x", /has a query or fragment/],
    ["ssh://host#frag", /has a query or fragment/],
    ["ssh://@host", /is not of the form ssh:\/\/\[USER@\]HOST\[:PORT\]\[\/SOCKET\]/],
    ["ssh://host:70000", /port 70000, outside 1 to 65535/],
    ["docker-container://buildkitd", /scheme docker-container:\/\//],
    ["tcp://host", /"tcp:\/\/host" is not of the form tcp:\/\/HOST:PORT/],
    ["tcp://host:99999", /port 99999, outside 1 to 65535/],
    ["tcp://host:0", /port 0/],
    ["unix://relative.sock", /absolute socket path/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)} with a sentence`, () => {
      assert.throws(
        () => parseEndpoint(text),
        (error: unknown) => {
          assert.ok(error instanceof EndpointError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe("isLoopbackHost", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "api.localhost"]) {
    it(`counts ${host} as loopback`, () => assert.equal(isLoopbackHost(host), true));
  }
  for (const host of ["10.0.0.1", "192.168.1.1", "runner.example", "::2", "128.0.0.1"]) {
    it(`does not count ${host} as loopback`, () => assert.equal(isLoopbackHost(host), false));
  }
});
