// The build deadline (--build-timeout, the action's timeout input) against the real runner: when
// it passes, the build is cancelled on the runner (its RUN process gone, no build left in flight)
// and the command fails with one sentence that names the timeout.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { unfinishedBuildsAfterCancel } from "../helpers/buildctl.js";
import { runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { processRunsWith } from "../helpers/processes.js";

let runner: RunnerUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
});

describe("the build deadline", () => {
  it("cancels a build that outlives --build-timeout on the runner and fails with a sentence", async () => {
    // A number of its own, so that the check below sees this test's sleep only.
    const marker = `sleep 6${Math.floor(Math.random() * 90 + 10)}`;
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo started; ${marker}`)].join("\n"),
    });
    const started = Date.now();
    const result = await runCli([
      "build",
      ...connectionFlags(runner),
      "--no-cache",
      "--build-timeout",
      "5s",
      context,
    ]);
    const elapsedMs = Date.now() - started;
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ started$/m, "the RUN step had started");
    assert.equal(
      result.stderr.trim().split("\n").at(-1),
      "error: The build did not finish within 5s (--build-timeout), so it was cancelled on the runner.",
    );
    // A bound, not a benchmark: far below the 600 s of the RUN.
    assert.ok(elapsedMs < 60_000, `the command ended after ${elapsedMs} ms`);
    for (let i = 0; i < 50 && processRunsWith(marker); i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(processRunsWith(marker), false, "the runner stopped the RUN step");
    assert.deepEqual(await unfinishedBuildsAfterCancel(runner), [], "no build in flight on the runner");
  }, 120_000);

  it("refuses a timeout without a unit before any connection", async () => {
    const result = await runCli(["build", "--addr", "tcp://127.0.0.1:1", "--build-timeout", "30", "."]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'error: --build-timeout is "30", a number without a unit; write 30s, 30ms or 30m.\n',
    );
  });
});
