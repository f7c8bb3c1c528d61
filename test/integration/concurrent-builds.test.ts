// Sixteen builds at once on one runner, each through its own CLI process, as a busy CI fleet
// sends them: every one succeeds, and each log holds only its own build's lines.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { connectionFlags, runnerUnderTest } from "../harness/env.js";
import { runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";

describe("16 concurrent builds on one runner", () => {
  it(
    "all succeed, each log with only its own lines",
    async () => {
      const runner = runnerUnderTest();
      const builds = Array.from({ length: 16 }, (_, i) => {
        const marker = `rb-concurrent-${i}-${Date.now()}`;
        const context = makeContext({
          Dockerfile: `FROM scratch\nCOPY busybox /bin/busybox\n${run(`echo ${marker}; sleep 2; echo ${marker}-done`)}\n`,
        });
        return { marker, done: runCli(["build", ...connectionFlags(runner), "--no-cache", context]) };
      });
      const results = await Promise.all(builds.map((build) => build.done));
      results.forEach((result, i) => {
        assert.equal(result.code, 0, `build ${i}:\n${result.stderr.slice(-2000)}`);
        assert.match(result.stderr, new RegExp(`${builds[i]!.marker}-done`));
        for (const [j, other] of builds.entries()) {
          if (j !== i)
            assert.ok(!result.stderr.includes(other.marker), `build ${i}'s log has build ${j}'s line`);
        }
      });
    },
    10 * 60_000,
  );
});
