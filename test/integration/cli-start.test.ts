// `remote-buildkit build` with nothing configured: no --addr, no BUILDKIT_HOST, nothing on the
// default socket. The CLI starts the pinned buildkitd from its cache dir for the command, builds,
// stops it, and keeps its state so that the next build is cached.
import { beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { cleanEnv, isOneSentence, runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { buildkitdRunsOn } from "../helpers/processes.js";
import { tempDir } from "../helpers/temp.js";
import { BUILDKIT_VERSION } from "../../src/version.js";

// Each test and hook here has 5 minutes.
jest.setTimeout(5 * 60_000);

let runner: RunnerUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
});

// A buildkitd on the default socket would be used instead, which is right but not this test: it
// is skipped on a machine where one answers there.
const itWithNothingOnTheDefaultSocket = existsSync("/run/buildkit/buildkitd.sock") ? it.skip : it;

describe("info with nothing configured", () => {
  itWithNothingOnTheDefaultSocket(
    "says how to name a runner and that build would start the pinned one, in one sentence",
    async () => {
      const result = await runCli(["info"], cleanEnv());
      assert.equal(result.code, 1);
      assert.ok(isOneSentence(result.stderr), result.stderr);
      assert.equal(
        result.stderr,
        "error: No runner is given (--addr or BUILDKIT_HOST) and none answers on the default socket: " +
          "there is no runner socket at unix:///run/buildkit/buildkitd.sock (no such file); " +
          `a build would start the pinned buildkitd v${BUILDKIT_VERSION} for its command, info only asks a running one.\n`,
      );
    },
  );
});

describe("build with nothing configured", () => {
  itWithNothingOnTheDefaultSocket(
    "starts the pinned buildkitd from the cache dir, stops it after, and builds from cache the next time",
    async () => {
      // The cache dir layout of the CLI, holding the harness's binaries as a download would.
      const cacheRoot = tempDir("rb-cli-cache-");
      mkdirSync(join(cacheRoot, `buildkit-v${BUILDKIT_VERSION}`));
      symlinkSync(runner.binDir, join(cacheRoot, `buildkit-v${BUILDKIT_VERSION}`, "bin"));
      const env = cleanEnv({ REMOTE_BUILDKIT_CACHE: cacheRoot, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
      const context = makeContext({
        Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo built once")].join("\n"),
      });
      const first = await runCli(["build", context], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /none answers at unix:\/\/\/run\/buildkit\/buildkitd\.sock; starting one/);
      assert.match(first.stderr, /^#\d+ \d+\.\d+ built once$/m);
      assert.equal(
        first.stderr.trim().split("\n").at(-1),
        "No output requested: the result stays in the runner's cache.",
      );
      const stateDir = join(cacheRoot, "state", `buildkit-v${BUILDKIT_VERSION}`);
      assert.equal(buildkitdRunsOn(stateDir), false, "the started buildkitd is stopped after the command");

      const second = await runCli(["build", context], env);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /^#\d+ \[2\/2\] RUN .*\n#\d+ CACHED$/m);
      assert.equal(buildkitdRunsOn(stateDir), false);
    },
  );
});
