// The gha cache end to end: a workflow run by act (host mode) with act's cache server, GitHub's
// cache service protocol. The action exports the build cache with type=gha from the test runner,
// then imports it on a second, empty runner, whose RUN step is CACHED.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { runnerUnderTest } from "../harness/env.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { actionCheckout, installAct, runWorkflow } from "../helpers/act.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { escapeRegExp } from "../helpers/regex.js";
import { tempDir } from "../helpers/temp.js";

const WORKFLOW = join(REPO_ROOT, "test", "fixtures", "gha-cache", "workflow.yml");

let act: string;
let runnerB: TestRunner;
beforeAll(
  async () => {
    act = await installAct();
    runnerB = await startTestRunner();
  },
  20 * 60 * 1000,
);
afterAll(() => runnerB?.stop());

describe("the gha cache through act's cache server", () => {
  it("is exported by one runner and imported by an empty one, whose RUN is CACHED", async () => {
    const runLine = run(`echo ${randomBytes(8).toString("hex")} > /stamp`);
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", runLine, ""].join("\n"),
    });
    const { log } = await runWorkflow(act, WORKFLOW, actionCheckout(), {
      cacheServerPath: tempDir("rb-act-cache-server-"),
      env: {
        RB_TEST_RUNNER_A: runnerUnderTest().unixAddress,
        RB_TEST_RUNNER_B: runnerB.unixAddress,
        RB_TEST_CONTEXT: context,
        RB_TEST_SCOPE: `rb-${randomBytes(4).toString("hex")}`,
      },
    });
    const [exportPart, importPart] = log.split("Import it on runner B");
    assert.ok(importPart, log);
    assert.match(exportPart!, /#\d+ exporting to GitHub Actions Cache\n(?:.*\n)*?.*#\d+ DONE/, log);
    assert.doesNotMatch(exportPart!, /failed and was ignored|::warning::/, log);
    const step = new RegExp(`#(\\d+) \\[\\d+/\\d+\\] ${escapeRegExp(runLine)}\\n(?:.*\\n)*?.*#\\1 CACHED`);
    assert.match(importPart, step, log);
  });
});
