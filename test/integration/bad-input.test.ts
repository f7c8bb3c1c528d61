// Every bad connection input against the real runner: one sentence that names the input and the
// problem, exit code 1 or 2, no stack trace, and a bounded wait.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { freePort } from "../harness/runner.js";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { isOneSentence, runCli } from "../helpers/cli.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { escapeRegExp } from "../helpers/regex.js";

let runner: RunnerUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
});

function tls(overrides: Partial<Record<"ca" | "cert" | "key", string | null>> = {}): string[] {
  const pieces = {
    ca: runner.certs.caCert,
    cert: runner.certs.clientCert,
    key: runner.certs.clientKey,
    ...overrides,
  };
  return [
    ...(pieces.ca ? ["--tlscacert", pieces.ca] : []),
    ...(pieces.cert ? ["--tlscert", pieces.cert] : []),
    ...(pieces.key ? ["--tlskey", pieces.key] : []),
  ];
}

async function expectFailure(args: string[], code: number, message: string | RegExp): Promise<void> {
  const result = await runCli(["info", ...args]);
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  assert.ok(isOneSentence(result.stderr), `one sentence, no stack: ${result.stderr}`);
  const sentence = result.stderr.trim().replace(/^error: /, "");
  if (typeof message === "string") assert.equal(sentence, message);
  else assert.match(sentence, message);
  assert.equal(result.stdout, "");
}

describe("bad connection input", () => {
  it("a malformed endpoint", () =>
    expectFailure(
      ["--addr", "tcp//127.0.0.1:1234"],
      2,
      'Endpoint "tcp//127.0.0.1:1234" has no scheme; use tcp://HOST:PORT, unix:///PATH or ssh://[USER@]HOST[:PORT][/SOCKET].',
    ));

  it("an unknown scheme", () =>
    expectFailure(
      ["--addr", "docker-container://buildkitd"],
      2,
      /^Endpoint "docker-container:\/\/buildkitd" uses the scheme docker-container:\/\//,
    ));

  it("nothing listening", async () => {
    const port = await freePort();
    await expectFailure(
      ["--addr", `tcp://127.0.0.1:${port}`, ...tls()],
      1,
      `Nothing is listening at tcp://127.0.0.1:${port} (connection refused).`,
    );
  });

  it("no socket file", () =>
    expectFailure(
      ["--addr", "unix:///nonexistent/buildkitd.sock"],
      1,
      "There is no runner socket at unix:///nonexistent/buildkitd.sock (no such file).",
    ));

  describe("a runner that does not answer", () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    });
    afterAll(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });

    it("fails after the timeout instead of hanging", async () => {
      const { port } = silent.address() as { port: number };
      await expectFailure(
        ["--addr", `tcp://127.0.0.1:${port}`, "--timeout", "1s", ...tls()],
        1,
        `The runner at tcp://127.0.0.1:${port} did not answer within 1 s.`,
      );
    }, 30_000);
  });

  it("a CA that did not sign the runner's certificate", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ ca: runner.certs.otherCaCert })],
      1,
      `The runner's certificate at ${runner.tcpAddress} is not signed by the given CA.`,
    ));

  it("no client certificate for a runner that requires one", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ cert: null, key: null })],
      1,
      `The runner at ${runner.tcpAddress} requires a client certificate, and none was given.`,
    ));

  it("a client certificate the runner's CA did not sign", () =>
    expectFailure(
      [
        "--addr",
        runner.tcpAddress,
        ...tls({ cert: runner.certs.otherClientCert, key: runner.certs.otherClientKey }),
      ],
      1,
      `The runner at ${runner.tcpAddress} refused the client certificate: it is not signed by a CA the runner trusts.`,
    ));

  it("plaintext to a runner that serves TLS", () =>
    expectFailure(
      ["--addr", runner.tcpAddress],
      1,
      `The runner at ${runner.tcpAddress} closed the connection; if it serves TLS, give its CA, a client certificate and key.`,
    ));

  it("a server name the runner's certificate does not hold", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls(), "--tlsservername", "other.example"],
      1,
      /is not valid for that host name/,
    ));

  it("a key without a certificate", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ cert: null })],
      2,
      "--tlskey is given without --tlscert: give both or neither.",
    ));

  it("an unreadable file", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ ca: "/nonexistent/ca.pem" })],
      2,
      '--tlscacert "/nonexistent/ca.pem" cannot be read: no such file.',
    ));

  it("a key that belongs to another certificate", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ key: runner.certs.serverKey })],
      2,
      /^--tlskey ".*server-key\.pem" does not belong to the certificate in --tlscert/,
    ));

  it("a version pin the runner does not meet", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls(), "--buildkit-version", "v0.31.0"],
      1,
      `The runner at ${runner.tcpAddress} runs BuildKit v${BUILDKIT_VERSION}, but the pin requires v0.31.0.`,
    ));

  it("a version pin that is not a version", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls(), "--buildkit-version", "newest"],
      2,
      /^--buildkit-version is "newest", which is neither a version/,
    ));

  it("a missed pin only warns when asked to", async () => {
    const result = await runCli([
      "info",
      "--addr",
      runner.tcpAddress,
      ...tls(),
      "--buildkit-version",
      "~0.31",
      "--version-mismatch",
      "warning",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      `warning: The runner at ${runner.tcpAddress} runs BuildKit v${BUILDKIT_VERSION}, but the pin requires ~0.31.\n`,
    );
    assert.match(
      result.stdout,
      new RegExp(`^BuildKit: {3}github\\.com/moby/buildkit v${escapeRegExp(BUILDKIT_VERSION)}`, "m"),
    );
  });
});
