// buildx's --call through the CLI against the real runner: check (the Dockerfile's checks, failing
// as buildx does on a finding, and on `# check=error=true` with the frontend's error), outline and
// targets printed as the frontend answers, and nothing built.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { connectionFlags, runnerUnderTest } from "../harness/env.js";
import { isOneSentence, runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";

let connection: string[];
beforeAll(() => {
  connection = connectionFlags(runnerUnderTest());
});

/** FROM … as …: the FromAsCasing check's finding on line 1. */
const MIXED_CASE = ["FROM scratch as base", "COPY busybox /bin/busybox", run("echo should-not-run")].join(
  "\n",
);

describe("build --check / --call check", () => {
  it("prints the finding as buildx does, warns on its Dockerfile line, fails, and builds nothing", async () => {
    const context = makeContext({ Dockerfile: MIXED_CASE });
    const result = await runCli(["build", ...connection, "--check", context]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^Check complete, 1 warning has been found!$/m);
    assert.match(result.stdout, /FromAsCasing/);
    assert.match(result.stderr, /^warning: Dockerfile:1: FromAsCasing: /m);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The Dockerfile's checks found 1 warning: FromAsCasing\.$/,
    );
    // The RUN step is shown in the finding's excerpt, never run.
    assert.doesNotMatch(result.stderr, /^#\d+ \[.*\] RUN /m);
    assert.doesNotMatch(result.stderr, /^#\d+ \d+\.\d+ should-not-run$/m);
  });

  it("passes a clean Dockerfile, and ignorestatus=true passes a finding", async () => {
    const clean = makeContext({ Dockerfile: "FROM scratch AS base\nCOPY busybox /bin/busybox\n" });
    const passed = await runCli(["build", ...connection, "--call", "check", clean]);
    assert.equal(passed.code, 0, passed.stderr);
    assert.match(passed.stdout, /^Check complete, no warnings found\.$/m);
    const ignored = await runCli([
      "build",
      ...connection,
      "--call",
      "check,ignorestatus=true",
      makeContext({ Dockerfile: MIXED_CASE }),
    ]);
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.match(ignored.stdout, /^Check complete, 1 warning has been found!$/m);
  });

  it("fails with the frontend's error when the Dockerfile asks checks to fail it", async () => {
    const context = makeContext({ Dockerfile: `# check=error=true\n${MIXED_CASE}` });
    const result = await runCli(["build", ...connection, "--check", context]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The Dockerfile's checks failed: lint violation found for rules: FromAsCasing/,
    );
  });

  it("refuses a method it does not know, in one sentence", async () => {
    const result = await runCli([
      "build",
      ...connection,
      "--call",
      "lints",
      makeContext({ Dockerfile: MIXED_CASE }),
    ]);
    assert.equal(result.code, 2);
    assert.ok(isOneSentence(result.stderr), result.stderr);
    assert.match(
      result.stderr,
      /^error: --call "lints" is not a method; use build, check, outline or targets\.$/m,
    );
  });
});

describe("build --call outline / targets", () => {
  const dockerfile = [
    "FROM scratch AS base",
    "ARG LEVEL=1",
    "COPY busybox /bin/busybox",
    "FROM base AS release",
    run("echo $LEVEL"),
  ].join("\n");

  it("prints the targets as the frontend renders them", async () => {
    const result = await runCli([
      "build",
      ...connection,
      "--call",
      "targets",
      makeContext({ Dockerfile: dockerfile }),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^TARGET\s+DESCRIPTION$/m);
    assert.match(result.stdout, /^base\s*$/m);
    assert.match(result.stdout, /^release \(default\)\s*$/m);
  });

  it("prints the outline, and JSON with format=json", async () => {
    const context = makeContext({ Dockerfile: dockerfile });
    const text = await runCli(["build", ...connection, "--call", "outline", context]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /LEVEL/);
    const json = await runCli(["build", ...connection, "--call", "outline,format=json", context]);
    assert.equal(json.code, 0, json.stderr);
    const outline = JSON.parse(json.stdout) as { args?: Array<{ name: string; value?: string }> };
    assert.deepEqual(
      outline.args?.map((arg) => [arg.name, arg.value]),
      [["LEVEL", "1"]],
    );
  });
});
