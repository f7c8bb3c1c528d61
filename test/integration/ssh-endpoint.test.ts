// ssh:// endpoints against a real OpenSSH server on loopback (test/harness/sshd.ts), whose login
// runs `buildctl dial-stdio` to the test runner's unix socket: Info and a build through it, failures
// as one sentence within the connect timeout, and no ssh left running after the client closes.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BuildkitClient,
  CancelledError,
  ConnectionError,
  parseEndpoint,
  type SshOptions,
} from "../../src/buildkit/index.js";
import { fileSyncService } from "../../src/buildkit/session/filesync.js";
import { healthService } from "../../src/buildkit/session/health.js";
import { Session } from "../../src/buildkit/session/tunnel.js";
import { solve } from "../../src/buildkit/solve.js";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { freePort, PINNED_BUILDKIT_VERSION } from "../harness/runner.js";
import { startTestSshd, type TestSshd } from "../harness/sshd.js";
import { unfinishedBuildsAfterCancel } from "../helpers/buildctl.js";
import { makeContext, run } from "../helpers/contexts.js";
import { cleanEnv, runCli } from "../helpers/cli.js";
import { processRunsWith } from "../helpers/processes.js";
import { tempDir } from "../helpers/temp.js";

const CONNECT_TIMEOUT_MS = 10_000;

let runner: RunnerUnderTest;
let sshd: TestSshd;
let runnerSocket: string;

beforeAll(async () => {
  runner = runnerUnderTest();
  runnerSocket = runner.unixAddress.slice("unix://".length);
  sshd = await startTestSshd(runner.binDir);
});
afterAll(() => sshd?.stop());

/** A client for ssh://USER@127.0.0.1:PORT/<runner socket>; the key is given as text unless a file is. */
function sshClient(ssh: SshOptions = {}, address = sshd.endpointFor(runnerSocket)): BuildkitClient {
  return new BuildkitClient({
    endpoint: parseEndpoint(address),
    tls: {},
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    ssh: {
      identityFile: sshd.clientKey,
      knownHostsFile: sshd.knownHosts,
      configFile: "none",
      ...ssh,
    },
  });
}

/** The files under the temp dir whose text holds `needle` (a line of a private key). */
function filesHolding(needle: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (
        entry.isFile() &&
        statSync(path).size < 1_000_000 &&
        readFileSync(path, "latin1").includes(needle)
      )
        found.push(path);
    }
  };
  for (const entry of readdirSync(tmpdir())) {
    if (entry.startsWith("rb-ssh-dial-")) walk(join(tmpdir(), entry));
  }
  return found;
}

/** Whether an ssh of ours (its argv names the key file) or the far side's dial-stdio still runs. */
function sshLeft(keyFile: string): boolean {
  return processRunsWith(`-i ${keyFile}`) || processRunsWith(`--addr unix://${runnerSocket} dial-stdio`);
}

async function waitUntil(condition: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return condition();
}

describe("ssh:// endpoint", () => {
  it("answers Info through ssh and buildctl dial-stdio, and leaves no ssh after close", async () => {
    const client = sshClient();
    try {
      const info = await client.probe(AbortSignal.timeout(30_000));
      assert.equal(info.version?.version, PINNED_BUILDKIT_VERSION);
      assert.ok(info.platforms.length > 0);
      assert.equal(sshLeft(sshd.clientKey), true, "the ssh runs while the client is open");
    } finally {
      client.close();
    }
    assert.equal(await waitUntil(() => !sshLeft(sshd.clientKey)), true, "no ssh left after close");
  });

  it("takes the key as text, held by a private ssh-agent that ends at close, never in a file", async () => {
    const key = readFileSync(sshd.clientKey, "utf8");
    // The known hosts as text too, as an input gives them.
    const client = sshClient({
      identityFile: undefined,
      identityKey: key,
      knownHostsFile: undefined,
      knownHosts: readFileSync(sshd.knownHosts, "utf8"),
    });
    try {
      const info = await client.probe(AbortSignal.timeout(30_000));
      assert.equal(info.version?.version, PINNED_BUILDKIT_VERSION);
      assert.equal(
        processRunsWith(`ssh-agent -D -a ${join(tmpdir(), "rb-ssh-dial-")}`),
        true,
        "the agent runs while open",
      );
      assert.deepEqual(filesHolding(key.trim().split("\n")[1]!), [], "no file holds the key");
    } finally {
      client.close();
    }
    assert.equal(
      await waitUntil(() => !processRunsWith(`ssh-agent -D -a ${join(tmpdir(), "rb-ssh-dial-")}`)),
      true,
      "the agent ends at close",
    );
  });

  it("takes the key and known hosts as the CLI's inputs (BUILDKIT_SSH_KEY, --ssh-known-hosts)", async () => {
    const result = await runCli(
      [
        "info",
        "--format",
        "json",
        "--addr",
        sshd.endpointFor(runnerSocket),
        "--ssh-known-hosts",
        sshd.knownHosts,
      ],
      cleanEnv({ BUILDKIT_SSH_KEY: readFileSync(sshd.clientKey, "utf8"), HOME: tempDir("rb-ssh-home-") }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).version.version, PINNED_BUILDKIT_VERSION);
  });

  it("builds through ssh: context upload, a RUN step, its log", async () => {
    const client = sshClient();
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo built over ssh")].join("\n"),
    });
    const signal = AbortSignal.timeout(3 * 60_000);
    const session = new Session(client, {
      sharedKey: "ssh-endpoint-test",
      services: [healthService(), fileSyncService({ context, dockerfile: context })],
      signal,
    });
    let log = "";
    try {
      await solve(client, {
        sessionId: session.id,
        frontend: "dockerfile.v0",
        frontendAttrs: { filename: "Dockerfile", "no-cache": "" },
        exporters: [],
        onStatus: (status) => {
          for (const entry of status.logs) log += Buffer.from(entry.msg).toString("utf8");
        },
        signal,
      });
    } finally {
      session.close();
      client.close();
    }
    assert.match(log, /built over ssh/);
    assert.equal(await waitUntil(() => !sshLeft(sshd.clientKey)), true);
  });

  it("a cancelled build ends on the runner, and closing leaves no ssh", async () => {
    const client = sshClient();
    const marker = `sleep 3${Math.floor(Math.random() * 900 + 100)}`;
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo started; ${marker}`)].join("\n"),
    });
    const controller = new AbortController();
    const session = new Session(client, {
      sharedKey: "ssh-endpoint-test",
      services: [healthService(), fileSyncService({ context, dockerfile: context })],
      signal: controller.signal,
    });
    try {
      const build = solve(client, {
        sessionId: session.id,
        frontend: "dockerfile.v0",
        frontendAttrs: { filename: "Dockerfile", "no-cache": "" },
        exporters: [],
        onStatus: (status) => {
          const text = status.logs.map((entry) => Buffer.from(entry.msg).toString("utf8")).join("");
          if (/started/.test(text)) controller.abort();
        },
        signal: controller.signal,
      });
      await assert.rejects(build, CancelledError);
    } finally {
      session.close();
      client.close();
    }
    assert.equal(await waitUntil(() => !sshLeft(sshd.clientKey)), true, "no ssh left");
    assert.equal(await waitUntil(() => !processRunsWith(marker)), true, "the runner stopped the step");
    assert.deepEqual(await unfinishedBuildsAfterCancel(runner), []);
  });
});

describe("ssh:// faults", () => {
  it(
    "a peer that freezes mid-build is noticed within 60 s, in one sentence, and nothing is left",
    async () => {
      const client = sshClient();
      const marker = `sleep 4${Math.floor(Math.random() * 900 + 100)}`;
      const context = makeContext({
        Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo started; ${marker}`)].join("\n"),
      });
      const signal = AbortSignal.timeout(3 * 60_000);
      const session = new Session(client, {
        sharedKey: "ssh-endpoint-test",
        services: [healthService(), fileSyncService({ context, dockerfile: context })],
        signal,
      });
      let thaw = () => {};
      let frozenAt = 0;
      try {
        const build = solve(client, {
          sessionId: session.id,
          frontend: "dockerfile.v0",
          frontendAttrs: { filename: "Dockerfile", "no-cache": "" },
          exporters: [],
          onStatus: (status) => {
            const text = status.logs.map((entry) => Buffer.from(entry.msg).toString("utf8")).join("");
            if (frozenAt === 0 && /started/.test(text)) {
              frozenAt = Date.now();
              thaw = sshd.freezeConnections();
            }
          },
          signal,
        });
        await assert.rejects(build, (error: Error) => {
          assert.ok(error instanceof ConnectionError, `${error.name}: ${error.message}`);
          assert.match(
            error.message,
            /^The ssh connection to ssh:\/\/.* was lost: the server stopped answering for 30 s\.$/,
          );
          return true;
        });
        const noticedMs = Date.now() - frozenAt;
        assert.ok(noticedMs < 60_000, `noticed after ${noticedMs} ms`);
      } finally {
        thaw();
        session.close();
        client.close();
      }
      assert.equal(await waitUntil(() => !sshLeft(sshd.clientKey)), true, "no ssh left");
      // Thawed, the far side finds its connection gone, and the runner cancels the build.
      assert.equal(
        await waitUntil(() => !processRunsWith(marker), 30_000),
        true,
        "the runner stopped the step",
      );
      assert.deepEqual(await unfinishedBuildsAfterCancel(runner), []);
    },
    3 * 60_000,
  );
});

describe("ssh:// failures, each one sentence within the connect timeout", () => {
  async function probeFailure(client: BuildkitClient): Promise<{ error: Error; ms: number }> {
    const started = Date.now();
    try {
      await client.probe(AbortSignal.timeout(60_000));
    } catch (error) {
      return { error: error as Error, ms: Date.now() - started };
    } finally {
      client.close();
    }
    assert.fail("the probe succeeded");
  }

  function assertSentence(error: Error, pattern: RegExp): void {
    assert.ok(error instanceof ConnectionError, `${error.name}: ${error.message}`);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    assert.match(error.message, /\.$/);
  }

  it("a key given as text with a passphrase, which no one can type", async () => {
    const dir = tempDir("rb-ssh-passphrase-");
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "secret phrase",
      "-C",
      "",
      "-f",
      join(dir, "key"),
    ]);
    const key = readFileSync(join(dir, "key"), "utf8");
    rmSync(dir, { recursive: true, force: true });
    const { error } = await probeFailure(sshClient({ identityFile: undefined, identityKey: key }));
    assertSentence(error, /^The ssh key given for ssh:\/\/.* cannot be used: it has a passphrase\.$/);
    assert.doesNotMatch(error.message, /PRIVATE KEY/);
  });

  it("a key the server does not accept", async () => {
    const { error, ms } = await probeFailure(sshClient({ identityFile: sshd.otherKey }));
    assertSentence(
      error,
      /^ssh could not log in to ssh:\/\/.*: the server refused the key \(.*Permission denied/,
    );
    assert.ok(ms < CONNECT_TIMEOUT_MS, `${ms} ms`);
    assert.equal(await waitUntil(() => !sshLeft(sshd.otherKey)), true);
  });

  it("a port where nothing listens", async () => {
    const port = await freePort();
    const address = `ssh://${sshd.user}@127.0.0.1:${port}${runnerSocket}`;
    const { error, ms } = await probeFailure(sshClient({}, address));
    assertSentence(error, /^Nothing is listening for ssh at ssh:\/\/.* \(connection refused\)\.$/);
    assert.ok(ms < CONNECT_TIMEOUT_MS, `${ms} ms`);
  });

  it("a host key that is not known", async () => {
    const emptyKnownHosts = join(tempDir("rb-ssh-known-"), "known_hosts");
    const { error, ms } = await probeFailure(sshClient({ knownHostsFile: emptyKnownHosts }));
    assertSentence(error, /^ssh refused the host key of ssh:\/\/.*known_hosts/);
    assert.ok(ms < CONNECT_TIMEOUT_MS, `${ms} ms`);
  });

  it("a runner socket that does not exist on the far side", async () => {
    const { error } = await probeFailure(sshClient({}, sshd.endpointFor("/nonexistent/buildkitd.sock")));
    assertSentence(error, /ssh:\/\/.*\/nonexistent\/buildkitd\.sock/);
  });
});
