// Outputs through the CLI's -o flags, against the real runner, compared with what buildctl
// writes for the same build: a local dir and a tar in one build, a multi-platform local output,
// and bad output specs refused before anything reaches the runner.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { buildctlBuild } from "../helpers/buildctl.js";
import { isOneSentence, runCli } from "../helpers/cli.js";
import { makeContext } from "../helpers/contexts.js";
import { describeTree, listDir, richOutputContext } from "../helpers/tree.js";
import { tempDir } from "../helpers/temp.js";

let runner: RunnerUnderTest;
let connection: string[];
beforeAll(() => {
  runner = runnerUnderTest();
  connection = connectionFlags(runner);
});

function scratch(): string {
  return tempDir("rb-outputs-");
}

async function buildctl(context: string, ...args: string[]): Promise<void> {
  const result = await buildctlBuild(runner, context, args);
  assert.equal(result.code, 0, result.stderr);
}

describe("outputs through the CLI", () => {
  it("writes a local dir and a tar in one build, equal to buildctl's", async () => {
    const context = richOutputContext();
    const ours = scratch();
    const ourTar = join(scratch(), "out.tar");
    const result = await runCli([
      "build",
      ...connection,
      "-o",
      `type=local,dest=${ours}`,
      "--output",
      `type=tar,dest=${ourTar}`,
      context,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const theirs = scratch();
    const theirTar = join(scratch(), "out.tar");
    await buildctl(context, "--output", `type=local,dest=${theirs}`);
    await buildctl(context, "--output", `type=tar,dest=${theirTar}`);
    assert.deepEqual(describeTree(ours), describeTree(theirs));
    assert.ok(readFileSync(ourTar).equals(readFileSync(theirTar)), "the tar differs from buildctl's");
  });

  it("writes a multi-platform local output into one dir per platform", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const ours = scratch();
    const result = await runCli([
      "build",
      ...connection,
      "--platform",
      "linux/amd64,linux/arm64",
      "-o",
      ours,
      context,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(listDir(ours).sort(), ["linux_amd64", "linux_arm64"]);
    const theirs = scratch();
    await buildctl(
      context,
      "--opt",
      "platform=linux/amd64,linux/arm64",
      "--output",
      `type=local,dest=${theirs}`,
    );
    assert.deepEqual(describeTree(ours), describeTree(theirs));
  });

  const bad: Array<[string, string, RegExp]> = [
    ["an unknown type", "type=zip,dest=x", /^--output "type=zip,dest=x" has type=zip; use local, tar/],
    ["a local output without dest", "type=local", /^--output "type=local" needs dest=DIR\.$/],
    ["a tar to stdout", "type=tar,dest=-", /writing an output to stdout is not supported/],
  ];
  for (const [name, spec, message] of bad) {
    it(`refuses ${name} with one sentence and exit code 2`, async () => {
      const result = await runCli([
        "build",
        ...connection,
        "-o",
        spec,
        makeContext({ Dockerfile: "FROM scratch\n" }),
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.ok(isOneSentence(result.stderr), result.stderr);
      assert.match(result.stderr.replace(/^error: /, "").trim(), message);
    });
  }
});
