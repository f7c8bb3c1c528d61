// A runner that goes away mid-build, in a pool of two: a dedicated buildkitd first (killed with
// SIGKILL while its RUN step runs), the test runner second. The whole build runs again on the
// second and succeeds, and the log and runner-reason say why; with --retries 0 the build fails
// with the sentence; a build that fails for its own reasons runs once.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { registryUnderTest, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { getManifest, OCI_INDEX_TYPE } from "../helpers/registry.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { CLI_BUNDLE, cleanEnv, runCli, type ProcessResult } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { processRunsWith } from "../helpers/processes.js";
import { escapeRegExp } from "../helpers/regex.js";
import { execFileSync } from "node:child_process";

jest.setTimeout(5 * 60_000);

let second: RunnerUnderTest;
const started: TestRunner[] = [];
beforeAll(() => {
  second = runnerUnderTest();
});
afterAll(async () => {
  for (const runner of started) await runner.stop();
});

/** A dedicated runner for one test, stopped (and its dir removed) after the file. */
async function dedicatedRunner(): Promise<TestRunner> {
  const runner = await startTestRunner();
  started.push(runner);
  return runner;
}

/** The pid of the buildkitd that keeps its state under this runner's dir. */
function buildkitdPid(runner: TestRunner): number {
  const pids = execFileSync("pgrep", ["-f", "--", `--root ${runner.dir}/root`])
    .toString()
    .trim()
    .split("\n");
  assert.equal(pids.length, 1, `one buildkitd for ${runner.dir}`);
  return Number(pids[0]);
}

/**
 * Runs a build on the pool (first, then the test runner) and SIGKILLs the first runner's buildkitd
 * once the RUN step has printed `marker`.
 */
function buildKillingFirst(first: TestRunner, context: string, marker: string, ...flags: string[]) {
  return buildKilling(first, [first.unixAddress, second.unixAddress], context, marker, flags);
}

/** Runs a build on the pool `addresses` and SIGKILLs `victim`'s buildkitd once the log shows `marker`. */
async function buildKilling(
  victim: TestRunner,
  addresses: string[],
  context: string,
  marker: string,
  flags: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
) {
  const child = spawn(
    process.execPath,
    [
      CLI_BUNDLE,
      "build",
      ...addresses.flatMap((address) => ["--addr", address]),
      // The pool's order, not affinity: the runner to kill is the one that takes the build.
      "--routing",
      "ordered",
      "--debug",
      ...flags,
      context,
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  let killed = false;
  let killedAt = 0;
  let noticedAt = 0;
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (!killed && stderr.includes(marker)) {
      killed = true;
      process.kill(buildkitdPid(victim), "SIGKILL");
      killedAt = Date.now();
    }
    if (killed && !noticedAt && stderr.includes("was lost mid-build")) noticedAt = Date.now();
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  assert.ok(killed, `the runner was killed mid-RUN; stderr: ${stderr}`);
  // A bound on detection, not a benchmark: the kill closes the connection at once.
  const detectionMs = noticedAt - killedAt;
  assert.ok(
    noticedAt > 0 && detectionMs < 15_000,
    `the loss was told ${detectionMs} ms after the kill:\n${stderr.slice(-2000)}`,
  );
  return { code, stdout, stderr, signal: null } satisfies ProcessResult;
}

function sleepingContext(marker: string): string {
  return makeContext({
    Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo ${marker}; sleep 5; echo done`)].join(
      "\n",
    ),
  });
}

/** How many times the log shows a RUN step starting. */
function runStarts(stderr: string): number {
  return stderr.split("\n").filter((line) => /^#\d+ \[\d+\/\d+\] RUN /.test(line)).length;
}

describe("a runner that goes away mid-build", () => {
  it("runs the whole build again on the next runner of the pool", async () => {
    const first = await dedicatedRunner();
    const marker = `started-${Math.random().toString(36).slice(2)}`;
    const result = await buildKillingFirst(first, sleepingContext(marker), marker, "--no-cache");
    assert.equal(result.code, 0, result.stderr);
    const gone = `${first.unixAddress} went away mid-build (connection lost)`;
    assert.match(
      result.stderr,
      new RegExp(
        `^warning: The connection to the runner at ${escapeRegExp(first.unixAddress)} was lost mid-build \\(.+\\); running the whole build again on another runner of the pool \\(1 of 1\\)\\.$`,
        "m",
      ),
    );
    assert.match(
      result.stderr,
      new RegExp(
        `^debug: Runner chosen: ${escapeRegExp(`${gone}; retried on ${second.unixAddress}`)}; `,
        "m",
      ),
      "runner-reason says why",
    );
    assert.equal(runStarts(result.stderr), 2, "the RUN step ran on each runner");
    assert.match(result.stderr, /^#\d+ \d+\.\d+ done$/m, "the second runner finished the RUN step");
    for (let i = 0; i < 50 && processRunsWith(marker); i++) await new Promise((r) => setTimeout(r, 200));
  });

  it("fails with the sentence when --retries is 0", async () => {
    const first = await dedicatedRunner();
    const marker = `started-${Math.random().toString(36).slice(2)}`;
    const result = await buildKillingFirst(
      first,
      sleepingContext(marker),
      marker,
      "--no-cache",
      "--retries",
      "0",
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      new RegExp(
        `^error: The connection to the runner at ${escapeRegExp(first.unixAddress)} was lost mid-build \\(.+\\)\\.$`,
      ),
    );
    assert.doesNotMatch(result.stderr, /running the whole build again/);
    assert.equal(runStarts(result.stderr), 1, "the build ran once");
  });

  it("runs a build across runners again when one of its runners goes away", async () => {
    const registry = registryUnderTest();
    // Two runners that declare linux/arm64 (they run the same binaries: it is a label here).
    const arm64 = {
      args: ["--oci-worker-platform", "linux/arm64"],
      config: `[registry."${registry.address}"]\n  http = false\n  ca = [${JSON.stringify(registry.caCert)}]\n`,
    };
    const doomed = await startTestRunner(arm64);
    started.push(doomed);
    const spare = await startTestRunner(arm64);
    started.push(spare);
    const marker = `started-${Math.random().toString(36).slice(2)}`;
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        "ARG TARGETARCH",
        run(`echo ${marker}-$TARGETARCH; sleep 3`),
      ].join("\n"),
    });
    const result = await buildKilling(
      doomed,
      [second.unixAddress, doomed.unixAddress, spare.unixAddress],
      context,
      `${marker}-arm64`,
      [
        "--platform",
        "linux/amd64,linux/arm64",
        "--push",
        "-t",
        `${registry.address}/rb/retried:1`,
        "--no-cache",
        "--no-docker-config",
      ],
      cleanEnv({
        BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
        NODE_EXTRA_CA_CERTS: registry.caCert,
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^debug: Runner chosen: ${escapeRegExp(`${doomed.unixAddress} went away mid-build (connection lost); retried on ${second.unixAddress}`)}; `,
        "m",
      ),
    );
    assert.match(
      result.stderr,
      new RegExp(
        `^Building linux/amd64 on ${escapeRegExp(second.unixAddress)}, linux/arm64 on ${escapeRegExp(spare.unixAddress)}, then one image index\\.$`,
        "m",
      ),
    );
    const answer = await getManifest(registry, "rb/retried", "1", { accept: [OCI_INDEX_TYPE] });
    assert.equal(answer.status, 200, answer.body);
  });

  it("never retries a build that failed for its own reasons", async () => {
    const first = await dedicatedRunner();
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo failing; exit 1")].join("\n"),
    });
    const result = await runCli([
      "build",
      "--addr",
      first.unixAddress,
      "--addr",
      second.unixAddress,
      "--debug",
      "--no-cache",
      "--retries",
      "3",
      context,
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr.trim().split("\n").at(-1)!, /^error: The build failed: .*exit code: 1/);
    assert.doesNotMatch(result.stderr, /running the whole build again|went away/);
    assert.equal(runStarts(result.stderr), 1, "the build ran once");
  });
});
