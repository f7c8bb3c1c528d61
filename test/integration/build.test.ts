// Builds through our session, context upload and Solve against the real runner.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { isOneSentence, REPO_ROOT, runCli } from "../helpers/cli.js";
import { unfinishedBuilds, unfinishedBuildsAfterCancel } from "../helpers/buildctl.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeContext, run } from "../helpers/contexts.js";
import { processRunsWith } from "../helpers/processes.js";
import { tempDir } from "../helpers/temp.js";

let runner: RunnerUnderTest;
let connection: string[];
beforeAll(() => {
  runner = runnerUnderTest();
  connection = connectionFlags(runner);
});

function build(context: string, ...flags: string[]) {
  return runCli(["build", ...connection, ...flags, context]);
}

describe("build", () => {
  it("builds the README's example from the repository (a COPY-only image)", async () => {
    const result = await build(join(REPO_ROOT, "examples", "hello"));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^#\d+ \[1\/1\] COPY hello.txt \/hello.txt$/m);
  });

  it("closes the log with what it built: nothing requested, then files written, and how many steps were cached", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const plain = await build(context);
    assert.equal(plain.code, 0, plain.stderr);
    const closing = plain.stderr.trim().split("\n").slice(-2);
    assert.match(
      closing[0]!,
      /^Build succeeded in \d+\.\ds on tcp:\/\/\S+ \(BuildKit v0\.32\.2\): \d of \d steps? from the cache\.$/,
    );
    assert.equal(closing[1], "No output requested: the result stays in the runner's cache.");

    const out = tempDir("rb-closing-");
    const again = await build(
      context,
      "-o",
      `type=local,dest=${out}/files`,
      "-o",
      `type=tar,dest=${out}/result.tar`,
    );
    assert.equal(again.code, 0, again.stderr);
    const lines = again.stderr.trim().split("\n").slice(-3);
    // The second build of the same context takes its COPY from the cache.
    assert.match(lines[0]!, /^Build succeeded in .*: [1-9] of \d steps? from the cache\.$/);
    assert.deepEqual(lines.slice(1), [
      `Wrote the result's files to ${out}/files`,
      `Wrote a tar of the result's files to ${out}/result.tar`,
    ]);
  });

  it("runs a multi-stage Dockerfile and prints the log as buildctl's plain progress", async () => {
    const context = makeContext({
      Dockerfile: [
        "FROM scratch AS base",
        "COPY busybox /bin/busybox",
        "FROM base AS final",
        "ARG GREETING",
        run('echo "greeting: $GREETING"'),
      ].join("\n"),
    });
    const result = await build(context, "--build-arg", "GREETING=hello there", "--no-cache");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^#\d+ \[internal\] load build definition from Dockerfile$/m);
    assert.match(result.stderr, /^#\d+ \[base 1\/1\] COPY busybox \/bin\/busybox$/m);
    assert.match(result.stderr, /^#(\d+) \d+\.\d{3} greeting: hello there$/m);
    assert.match(result.stderr, /^#\d+ DONE \d+\.\d+s$/m);
  });

  it("builds only up to --target", async () => {
    const context = makeContext({
      Dockerfile: [
        "FROM scratch AS first",
        "COPY busybox /bin/busybox",
        run("echo in-first"),
        "FROM first AS second",
        run("echo in-second"),
      ].join("\n"),
    });
    const result = await build(context, "--target", "first", "--no-cache");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, / in-first$/m);
    assert.doesNotMatch(result.stderr, /in-second$/m);
  });

  it("fails with the failing step's message, its last lines again, and exit code 1", async () => {
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo before the failure; exit 3")].join(
        "\n",
      ),
    });
    const result = await build(context, "--no-cache");
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split("\n");
    assert.match(
      lines.at(-1)!,
      /^error: The build failed: process ".*exit 3" did not complete successfully: exit code: 3$/,
    );
    assert.match(result.stderr, /^------\n > \[2\/2\] RUN .*:\n#\d+ \d+\.\d+ before the failure\n------$/m);
    // The Dockerfile line BuildKit points at, as buildx shows it.
    assert.match(
      result.stderr,
      /^Dockerfile:3\n-{20}\n {3}1 \| {5}FROM scratch\n {3}2 \| {5}COPY .*\n {3}3 \| >>> RUN .*\n-{20}$/m,
    );
  });

  it("points a Dockerfile syntax error at its line", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\nFROBNICATE now\n" });
    const result = await build(context);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^Dockerfile:3\n-{20}\n(.*\n)* {3}3 \| >>> FROBNICATE now\n/m);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The build failed: .*unknown instruction: FROBNICATE/i,
    );
  });

  it("gives RUN steps the hosts, network, /dev/shm size and ulimits asked for", async () => {
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        run(
          "echo hosts: $(/bin/busybox grep example.test /etc/hosts); " +
            "echo nets: $(/bin/busybox ls /sys/class/net); " +
            "echo shm: $(/bin/busybox df -k /dev/shm | /bin/busybox tail -1 | /bin/busybox awk '{print $2}'); " +
            "echo nofile: $(ulimit -n)",
        ),
      ].join("\n"),
    });
    const result = await build(
      context,
      "--no-cache",
      "--add-host",
      "example.test:10.1.2.3",
      "--network",
      "none",
      "--shm-size",
      "32m",
      "--ulimit",
      "nofile=1234:2048",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ hosts: 10\.1\.2\.3\s+example\.test$/m);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ nets: lo$/m);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ shm: 32768$/m);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ nofile: 1234$/m);
  });

  it("sends a named local context through the session, beside the main one", async () => {
    const extra = makeContext({ "greeting.txt": "from the named context" });
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        "COPY --from=extra greeting.txt /greeting.txt",
        run("/bin/busybox cat /greeting.txt; echo"),
      ].join("\n"),
    });
    const result = await build(context, "--no-cache", "--build-context", `extra=${extra}`);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ from the named context$/m);
    assert.match(result.stderr, /^#\d+ \[extra\] load build context|^#\d+ \[context extra\] load .*$/m);
  });

  it("asks for host networking as an entitlement, which a runner that does not allow it refuses", async () => {
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("true")].join("\n"),
    });
    const result = await build(context, "--no-cache", "--network", "host");
    assert.equal(result.code, 1);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The build failed: .*network\.host is not allowed/,
    );
  });

  it("honours .dockerignore with exceptions when uploading the context", async () => {
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        "COPY . /ctx",
        run("cd /ctx && /bin/busybox find . -type f | /bin/busybox sort"),
      ].join("\n"),
      ".dockerignore": "# generated files\n*.log\n!keep.log\nsecret/\n",
      "app.txt": "app",
      "debug.log": "noise",
      "keep.log": "kept",
      "secret/key": "hidden",
      "sub dir/naïve file.txt": "spaces and non-ASCII",
    });
    const result = await build(context, "--no-cache");
    assert.equal(result.code, 0, result.stderr);
    const listed = [...result.stderr.matchAll(/^#\d+ \d+\.\d+ (\.\/.*)$/gm)].map((match) => match[1]);
    assert.deepEqual(listed, [
      "./.dockerignore",
      "./Dockerfile",
      "./app.txt",
      "./busybox",
      "./keep.log",
      "./sub dir/naïve file.txt",
    ]);
  });

  const badInput: Array<[string, string[], (context: string) => string, RegExp]> = [
    [
      "a missing context",
      [],
      () => "/nonexistent/context",
      /^The context "\/nonexistent\/context" does not exist\.$/,
    ],
    [
      "a missing Dockerfile",
      ["-f", "/nonexistent/Dockerfile"],
      (c) => c,
      /^--file "\/nonexistent\/Dockerfile" does not exist\.$/,
    ],
    [
      "a build arg without = and no such variable",
      ["--build-arg", "RB_SURELY_UNSET"],
      (c) => c,
      /^--build-arg "RB_SURELY_UNSET" has no "=" and no environment variable RB_SURELY_UNSET is set/,
    ],
    ["an unknown platform form", ["--platform", "amd64"], (c) => c, /^--platform "amd64" is not a platform/],
    [
      "an unknown architecture",
      ["--platform", "linux/amd65"],
      (c) => c,
      /^--platform "linux\/amd65" names an unknown architecture "amd65"\.$/,
    ],
    [
      "a named context that does not exist",
      ["--build-context", "extra=/nonexistent/dir"],
      (c) => c,
      /^--build-context "extra=\/nonexistent\/dir": the directory "\/nonexistent\/dir" does not exist\.$/,
    ],
    ["a bad ulimit", ["--ulimit", "nofile"], (c) => c, /^--ulimit "nofile" is not a ulimit/],
  ];
  for (const [name, flags, contextFor, message] of badInput) {
    it(`refuses ${name} with exit code 2`, async () => {
      const context = makeContext({ Dockerfile: "FROM scratch\n" });
      const result = await runCli(["build", ...connection, ...flags, contextFor(context)]);
      assert.equal(result.code, 2, result.stderr);
      assert.ok(isOneSentence(result.stderr), result.stderr);
      assert.match(result.stderr.replace(/^error: /, "").trim(), message);
    });
  }

  it("refuses a context file it cannot read with one sentence, leaving nothing on the runner", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY . /ctx\n" });
    // A name that is not UTF-8: Node cannot name it, so it cannot be read (even as root).
    writeFileSync(Buffer.from(join(context, "caf\xe9.txt"), "latin1"), "x");
    const result = await build(context);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: A file in .* has a name that is not valid UTF-8 \("caf\uFFFD\.txt"\), which this client cannot send; rename it\.$/,
    );
    assert.deepEqual(await unfinishedBuilds(runner), []);
  });

  it("refuses a target that is not in the Dockerfile with exit code 1", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch AS only\nCOPY busybox /bin/busybox\n" });
    const result = await build(context, "--target", "missing");
    assert.equal(result.code, 1);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The build failed: .*target stage "missing" could not be found/,
    );
    assert.deepEqual(await unfinishedBuilds(runner), [], "nothing half-done left on the runner");
  });
});

describe("cancellation", () => {
  it("SIGINT cancels the build on the runner and the process exits", async () => {
    const { spawn } = await import("node:child_process");
    const { CLI_BUNDLE, cleanEnv } = await import("../helpers/cli.js");
    const marker = `sleep 3${Math.floor(Math.random() * 900 + 100)}`;
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo started; ${marker}`)].join("\n"),
    });
    const child = spawn(process.execPath, [CLI_BUNDLE, "build", ...connection, "--no-cache", context], {
      env: cleanEnv(),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    await new Promise<void>((resolve) =>
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
        if (/ started$/m.test(stderr)) resolve();
      }),
    );
    const runningOnRunner = () => processRunsWith(marker);
    assert.equal(runningOnRunner(), true, "the RUN step runs on the runner");
    child.kill("SIGINT");
    assert.equal(await exited, 1);
    assert.match(stderr, /^error: The build was cancelled\.$/m);
    for (let i = 0; i < 50 && runningOnRunner(); i++)
      await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(runningOnRunner(), false, "the runner stopped the step");
    // The record completes once the runner has finished cancelling; give it the same few seconds.
    assert.deepEqual(await unfinishedBuildsAfterCancel(runner), [], "the build is over on the runner too");
  }, 60_000);
});
