// The started runner's cache kept between CI runs, end to end: a real workflow file run twice by
// act (host mode) with act's cache server, which implements GitHub's cache service as
// @actions/cache speaks it (ACTIONS_CACHE_URL: reserve, upload, commit, look up, download). The
// action starts the pinned buildkitd, its post step saves the runner's state; the second run
// restores it and the build is cached.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runnerUnderTest } from "../harness/env.js";
import { actionCheckout, installAct, runWorkflow } from "../helpers/act.js";
import { toolCacheWith } from "../helpers/actions-runner.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { escapeRegExp } from "../helpers/regex.js";

const WORKFLOW = join(REPO_ROOT, "test", "fixtures", "runner-cache", "workflow.yml");

let act: string;
beforeAll(
  async () => {
    act = await installAct();
  },
  20 * 60 * 1000,
);

const V = escapeRegExp(BUILDKIT_VERSION);

describe("the runner's cache through act's cache server", () => {
  it("saves the started runner's state in the post step; the next run restores it and builds from cache", async () => {
    const cacheServerPath = tempDir("rb-act-cache-server-");
    const env = {
      RB_TEST_RUNNER_TEMP: tempDir("rb-runner-temp-"),
      RB_TEST_TOOL_CACHE: toolCacheWith(runnerUnderTest().binDir, BUILDKIT_VERSION),
    };
    const run = async (runId: string) => {
      // A fresh checkout each time, as on a new CI run.
      return (await runWorkflow(act, WORKFLOW, actionCheckout(), { env, runId, cacheServerPath })).log;
    };

    const first = await run("5001");
    assert.match(
      first,
      new RegExp(`No saved runner state buildkit-state-v${V}-linux-\\w+; starting with an empty cache\\.`),
    );
    assert.match(first, /#\d+ \[1\/1\] COPY hello.txt \/hello.txt\n.*#\d+ DONE/);
    assert.match(first, new RegExp(`Saved the runner's cache as buildkit-state-v${V}-linux-\\w+-5001-1\\.`));
    assert.doesNotMatch(first, /::warning::|was not saved/);

    const second = await run("5002");
    assert.match(second, new RegExp(`Restored the runner state buildkit-state-v${V}-linux-\\w+\\.`));
    assert.match(
      second,
      new RegExp(`runner-reason=started buildkitd v${V} \\(cache\\), with the cache of an earlier run`),
    );
    assert.match(second, /#\d+ \[1\/1\] COPY hello.txt \/hello.txt\n.*#\d+ CACHED/);
    assert.match(second, new RegExp(`Saved the runner's cache as buildkit-state-v${V}-linux-\\w+-5002-1\\.`));
  });
});
