// Build cache that travels between runners: exported by the test runner to the test registry
// (TLS + htpasswd, credentials from a docker config) or to a directory on this machine, then
// imported by a second, empty runner, whose RUN step is then CACHED. Also: a failed export with
// ignore-error=true is a warning, and each bad cache input is one sentence with exit 2.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { cleanEnv, isOneSentence, runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { escapeRegExp } from "../helpers/regex.js";
import { tempDir } from "../helpers/temp.js";

const execFileAsync = promisify(execFile);
jest.setTimeout(5 * 60_000);

let runnerA: RunnerUnderTest;
let runnerB: TestRunner;
let registry: RegistryUnderTest;
beforeAll(async () => {
  runnerA = runnerUnderTest();
  registry = registryUnderTest();
  runnerB = await startTestRunner({
    config: `[registry."${registry.address}"]\n  http = false\n  ca = [${JSON.stringify(registry.caCert)}]\n`,
  });
});
afterAll(() => runnerB?.stop());

/** Runner B forgets every build: the next build there starts cold. */
async function wipeRunnerB(): Promise<void> {
  await execFileAsync(join(runnerB.binDir, "buildctl"), [...runnerB.buildctlArgs(), "prune", "--all"], {
    timeout: 60_000,
  });
}

/** A docker config with the test registry's credentials, as a job would have after docker login. */
function dockerConfigEnv(): NodeJS.ProcessEnv {
  const dir = tempDir("rb-docker-config-");
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { [registry.address]: { auth } } }));
  return cleanEnv({ DOCKER_CONFIG: dir, NODE_EXTRA_CA_CERTS: registry.caCert });
}

/** A context whose RUN step is new to every runner: its command holds a fresh nonce. */
function freshContext(): { context: string; runLine: string } {
  const runLine = run(`echo ${randomBytes(8).toString("hex")} > /stamp`);
  const context = makeContext({
    Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", runLine, ""].join("\n"),
  });
  return { context, runLine };
}

/** Whether the log shows the RUN step as CACHED: `#N [3/3] RUN …` then `#N CACHED`. */
function runStepCached(log: string, runLine: string): boolean {
  const step = new RegExp(`^#(\\d+) \\[\\d+/\\d+\\] ${escapeRegExp(runLine)}$`, "m").exec(log);
  if (!step) return false;
  return new RegExp(`^#${step[1]} CACHED$`, "m").test(log);
}

describe("registry cache", () => {
  it("is exported by one runner with mode=max and imported by an empty one, whose RUN is CACHED", async () => {
    const { context, runLine } = freshContext();
    const ref = `${registry.address}/rb/cache:${randomBytes(4).toString("hex")}`;
    const env = dockerConfigEnv();
    const exported = await runCli(
      ["build", "--addr", runnerA.unixAddress, "--cache-to", `type=registry,ref=${ref},mode=max`, context],
      env,
    );
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok(!runStepCached(exported.stderr, runLine), exported.stderr);
    await wipeRunnerB();
    const cold = await runCli(["build", "--addr", runnerB.unixAddress, context], env);
    assert.equal(cold.code, 0, cold.stderr);
    assert.ok(!runStepCached(cold.stderr, runLine), "a wiped runner without cache-from builds the RUN");
    await wipeRunnerB();
    const imported = await runCli(
      ["build", "--addr", runnerB.unixAddress, "--cache-from", ref, context],
      env,
    );
    assert.equal(imported.code, 0, imported.stderr);
    assert.ok(runStepCached(imported.stderr, runLine), imported.stderr);
  });

  it("travels inline in a pushed image", async () => {
    const { context, runLine } = freshContext();
    const image = `${registry.address}/rb/inline:${randomBytes(4).toString("hex")}`;
    const env = dockerConfigEnv();
    const pushed = await runCli(
      ["build", "--addr", runnerA.unixAddress, "--push", "-t", image, "--cache-to", "type=inline", context],
      env,
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    await wipeRunnerB();
    const imported = await runCli(
      ["build", "--addr", runnerB.unixAddress, "--cache-from", `type=registry,ref=${image}`, context],
      env,
    );
    assert.equal(imported.code, 0, imported.stderr);
    assert.ok(runStepCached(imported.stderr, runLine), imported.stderr);
  });

  it("an export the registry refuses, with ignore-error=true, is a warning and the build succeeds; without it, the build fails", async () => {
    const { context } = freshContext();
    // The test registry refuses a push without credentials (none are given here).
    const ref = `${registry.address}/rb/refused:1`;
    const ignored = await runCli([
      "build",
      "--addr",
      runnerA.unixAddress,
      "--cache-to",
      `type=registry,ref=${ref},ignore-error=true`,
      context,
    ]);
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.match(
      ignored.stderr,
      /warning: .*exporting cache.* failed and was ignored \(ignore-error=true\)/i,
    );
    const failed = await runCli([
      "build",
      "--addr",
      runnerA.unixAddress,
      "--cache-to",
      `type=registry,ref=${ref}`,
      context,
    ]);
    assert.equal(failed.code, 1, failed.stderr);
  });
});

describe("local cache", () => {
  it("is written to a directory on this machine and imported by an empty runner, whose RUN is CACHED", async () => {
    const { context, runLine } = freshContext();
    const dir = join(tempDir("rb-local-cache-"), "cache");
    const exported = await runCli([
      "build",
      "--addr",
      runnerA.unixAddress,
      "--cache-to",
      `type=local,dest=${dir},mode=max`,
      context,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    const latest = index.manifests.find(
      (each) => each.annotations["org.opencontainers.image.ref.name"] === "latest",
    );
    assert.ok(latest, JSON.stringify(index));
    assert.ok(existsSync(join(dir, "blobs", "sha256", latest.digest.slice("sha256:".length))));
    assert.ok(existsSync(join(dir, "oci-layout")));
    assert.ok(!existsSync(join(dir, "ingest")), "no ingest left in the cache directory");
    await wipeRunnerB();
    const imported = await runCli([
      "build",
      "--addr",
      runnerB.unixAddress,
      "--cache-from",
      `type=local,src=${dir}`,
      context,
    ]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.ok(runStepCached(imported.stderr, runLine), imported.stderr);
  });

  it("that is not there yet (a first run) is a warning, not a failure", async () => {
    const { context } = freshContext();
    const dir = join(tempDir("rb-local-cache-"), "not-yet");
    const result = await runCli([
      "build",
      "--addr",
      runnerA.unixAddress,
      "--cache-from",
      `type=local,src=${dir}`,
      context,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`warning: no local cache to import from ${escapeRegExp(dir)} yet`),
    );
  });
});

describe("bad cache input", () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      "an unknown type",
      ["--cache-from", "type=floppy,src=a"],
      /--cache-from "type=floppy,src=a" has type=floppy; use registry, local, gha, s3 or azblob\./,
    ],
    ["a local cache-to without dest", ["--cache-to", "type=local"], /--cache-to "type=local" needs dest=DIR/],
    [
      "a local cache-from without src",
      ["--cache-from", "type=local,dest=x"],
      /--cache-from "type=local,dest=x" needs src=DIR/,
    ],
    [
      "an unreadable src",
      ["--cache-from", "type=local,src=/etc/passwd/cache"],
      /"\/etc\/passwd\/cache" cannot be read \(ENOTDIR\)/,
    ],
    [
      "a gha cache with no token outside GitHub",
      ["--cache-to", "type=gha"],
      /--cache-to "type=gha" needs GitHub's cache service: ACTIONS_RUNTIME_TOKEN/,
    ],
    [
      "a mode that is neither min nor max",
      ["--cache-to", "type=registry,ref=r/c,mode=all"],
      /mode=all; use min or max\./,
    ],
  ];
  for (const [what, flags, sentence] of cases) {
    it(`${what}: one sentence, exit 2`, async () => {
      const context = makeContext({ Dockerfile: "FROM scratch\n" });
      const result = await runCli(["build", "--addr", runnerA.unixAddress, ...flags, context]);
      assert.equal(result.code, 2, result.stderr);
      assert.ok(isOneSentence(result.stderr), result.stderr);
      assert.match(result.stderr, sentence);
    });
  }
});
