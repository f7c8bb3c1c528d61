// Connecting to the real runner: our client and CLI against buildctl's view of the same daemon.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Socket } from "node:net";
import { promisify } from "node:util";
import {
  BuildkitClient,
  BUILDCTL_TLS_FLAGS,
  ConnectionError,
  loadTlsMaterial,
  parseEndpoint,
} from "../../src/buildkit/index.js";
import { cleanEnv, runCli } from "../helpers/cli.js";
import { testRunnerClient } from "../helpers/client.js";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { tempDir } from "../helpers/temp.js";
import { BUILDKIT_VERSION } from "../../src/version.js";

const execFileAsync = promisify(execFile);
let runner: RunnerUnderTest;
let tlsFlags: string[];

/** What buildctl, the reference client, says about the runner. */
async function buildctl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(join(runner.binDir, "buildctl"), [...tlsFlags, ...args]);
  return stdout;
}

beforeAll(() => {
  // The library is used directly here, so silence Node's warning as the CLI and action do.
  runner = runnerUnderTest();
  tlsFlags = connectionFlags(runner);
});

describe("connecting to a runner", () => {
  it("health-checks over mTLS TCP and reports what buildctl reports", async () => {
    const client = testRunnerClient(runner);
    try {
      const info = await client.probe();
      assert.equal(info.version?.version, `v${BUILDKIT_VERSION}`);
      assert.equal(info.version?.package, "github.com/moby/buildkit");
      const reference = await buildctl("debug", "workers", "--verbose");
      const platforms = /^Platforms:\s+(.*)$/m.exec(reference)![1]!.split(",");
      assert.deepEqual(info.platforms, platforms);
      const workerId = /^ID:\s+(\S+)$/m.exec(reference)![1];
      assert.deepEqual(
        info.workers.map((worker) => worker.id),
        [workerId],
      );
      assert.ok(info.platforms.includes("linux/amd64"));
    } finally {
      client.close();
    }
  });

  it("connects over the unix socket without TLS", async () => {
    const client = new BuildkitClient({
      endpoint: parseEndpoint(runner.unixAddress),
      tls: {},
      connectTimeoutMs: 10_000,
    });
    try {
      assert.equal((await client.probe()).version?.version, `v${BUILDKIT_VERSION}`);
    } finally {
      client.close();
    }
  });

  it("prints the version line as buildctl debug info does, with the version once", async () => {
    const result = await runCli(["info", ...tlsFlags]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const ours = /^BuildKit:.*$/m.exec(result.stdout)![0];
    // buildctl prints package, version and revision; a runner built with its version as its
    // revision (as the harness built it before) or with none gives the version once here.
    const theirs = /^BuildKit:.*$/m
      .exec(await buildctl("debug", "info"))![0]
      .trim()
      .split(/\s+/);
    if (theirs.length === 4 && theirs[3] === theirs[2]) theirs.pop();
    assert.deepEqual(ours.split(/\s+/), theirs);
    assert.equal(ours, `BuildKit:   github.com/moby/buildkit v${BUILDKIT_VERSION}`);
    assert.match(result.stdout, new RegExp(`^Runner:     ${runner.tcpAddress}$`, "m"));
    assert.match(result.stdout, /^Platforms: {2}linux\/amd64, /m);
  });

  it("takes the runner and TLS material from the environment, PEM text included", async () => {
    const result = await runCli(
      ["info", "--format", "json"],
      cleanEnv({
        BUILDKIT_HOST: runner.tcpAddress,
        BUILDKIT_TLS_CACERT: readFileSync(runner.certs.caCert, "utf8"),
        BUILDKIT_TLS_CERT: runner.certs.clientCert,
        BUILDKIT_TLS_KEY: readFileSync(runner.certs.clientKey, "utf8"),
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    assert.equal(info.endpoint, runner.tcpAddress);
    assert.equal(info.version.version, `v${BUILDKIT_VERSION}`);
    assert.ok(info.platforms.includes("linux/amd64"));
  });

  it("reads buildctl's --tlsdir layout and honours --tlsservername", async () => {
    const dir = tempDir("rb-tlsdir-");
    copyFileSync(runner.certs.caCert, join(dir, "ca.pem"));
    copyFileSync(runner.certs.clientCert, join(dir, "cert.pem"));
    copyFileSync(runner.certs.clientKey, join(dir, "key.pem"));
    const result = await runCli([
      "info",
      "--addr",
      runner.tcpAddress,
      "--tlsdir",
      dir,
      "--tlsservername",
      "localhost",
    ]);
    assert.equal(result.code, 0, result.stderr);
  });

  it("meets a version pin given as a range", async () => {
    const result = await runCli(["info", ...tlsFlags, "--buildkit-version", ">=0.30 <0.33"]);
    assert.equal(result.code, 0, result.stderr);
  });

  it("a runner that accepts TCP and never answers TLS: the probe fails in time and closes every socket it opened", async () => {
    // The handshake check and grpc-js's own connection dial at the same time: both must give up.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      // Read, to see the end of a connection the client closes.
      socket.resume();
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const client = new BuildkitClient({
      endpoint: parseEndpoint(`tcp://127.0.0.1:${port}`),
      tls: loadTlsMaterial(
        { caCert: runner.certs.caCert, cert: runner.certs.clientCert, key: runner.certs.clientKey },
        BUILDCTL_TLS_FLAGS,
      ),
      connectTimeoutMs: 1000,
    });
    try {
      const failure = await client.probe().then(
        () => assert.fail("the probe of a silent runner succeeded"),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof ConnectionError, String(failure));
      assert.equal(failure.message, `The runner at tcp://127.0.0.1:${port} did not answer within 1 s.`);
      client.close();
      // Closed by us, not by the silent server: within a moment of the bound.
      for (let waited = 0; sockets.size > 0 && waited < 3000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(sockets.size, 0, `${sockets.size} connection(s) to the silent runner still open`);
    } finally {
      client.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 30_000);
});
