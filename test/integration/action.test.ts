// The action as GitHub's runner runs it: dist/main.mjs on node with INPUT_* variables, outputs
// through the GITHUB_OUTPUT file command and workflow commands on stdout.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { postStepEnv, stepFiles, toolCacheWith } from "../helpers/actions-runner.js";
import { cleanEnv, parseFileCommand, REPO_ROOT, runProcess } from "../helpers/cli.js";
import { BUSYBOX, makeContext, run } from "../helpers/contexts.js";
import { startGitHttpServer } from "../harness/git-server.js";
import { randomBytes } from "node:crypto";
import { tempDir } from "../helpers/temp.js";
import { writeBuildxBuilder } from "../helpers/buildx-store.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { escapeRegExp } from "../helpers/regex.js";

let runner: RunnerUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
});

/** Runs one entry of action.yml with the given inputs, as the runner would. */
async function runStep(
  entry: "main" | "post",
  inputs: Record<string, string>,
  workspace = REPO_ROOT,
  extraEnv: NodeJS.ProcessEnv = {},
) {
  const files = stepFiles(tempDir("rb-action-"));
  const env = cleanEnv({
    ...files.env,
    GITHUB_WORKSPACE: workspace,
    GITHUB_ACTIONS: "true",
    ...extraEnv,
  });
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = await runProcess(process.execPath, [join(REPO_ROOT, "dist", `${entry}.mjs`)], {
    env,
    cwd: workspace,
  });
  return {
    ...result,
    outputs: parseFileCommand(readFileSync(files.output, "utf8")),
    summary: readFileSync(files.summary, "utf8"),
  };
}

const V = escapeRegExp(BUILDKIT_VERSION);

describe("the action", () => {
  it("connects with inputs, builds, reports the runner and sets the outputs", async () => {
    const key = readFileSync(runner.certs.clientKey, "utf8");
    const result = await runStep("main", {
      context: "examples/hello",
      endpoint: runner.tcpAddress,
      "tls-cacert": runner.certs.caCert,
      "tls-cert": readFileSync(runner.certs.clientCert, "utf8"),
      "tls-key": key,
      "buildkit-version": `v${BUILDKIT_VERSION}`,
    });
    assert.equal(result.code, 0, result.stdout);
    assert.equal(result.outputs.endpoint, runner.tcpAddress);
    assert.equal(result.outputs["buildkit-version"], `v${BUILDKIT_VERSION}`);
    assert.match(result.outputs.platforms!, /^linux\/amd64,/);
    assert.equal(JSON.parse(result.outputs.workers!).length, 1);
    assert.match(result.stdout, /^::group::Connecting to the BuildKit runner$/m);
    assert.match(result.stdout, new RegExp(`^BuildKit: {3}github\\.com/moby/buildkit v${V}$`, "m"));
    // The log closes with what the build did, as the CLI's does.
    const [succeeded, nothing] = result.stdout.trim().split("\n").slice(-2);
    assert.equal(nothing, "No output requested: the result stays in the runner's cache.");
    assert.match(
      succeeded!,
      /^Build succeeded in \d+\.\ds on tcp:\/\/\S+ \(BuildKit v\S+\): \d+ of \d+ steps from the cache\.$/,
    );
    // The inline key is masked line by line before anything else happens.
    const keyLines = key.split("\n").filter((line) => line.length >= 8 && !line.startsWith("-----"));
    for (const line of keyLines) assert.ok(result.stdout.includes(`::add-mask::${line}`));
    assert.ok(result.stdout.indexOf("::add-mask::") < result.stdout.indexOf("::group::"));
    // The build's log in its own group, and the job summary with the steps.
    assert.match(result.stdout, /^::group::Build\n#1 \[internal\] load build definition from Dockerfile$/m);
    assert.match(result.stdout, /^#\d+ \[1\/1\] COPY hello.txt \/hello.txt$/m);
    assert.match(result.summary, /^### ✅ Build succeeded in \d+\.\ds$/m);
    assert.match(
      result.summary,
      /^\| \d+ \| \[1\/1\] COPY hello.txt \/hello.txt \| (done|cached) \| (\d+\.\ds)? \|$/m,
    );
  });

  it("fails the step with an annotation on the Dockerfile line and a summary of the steps", async () => {
    const workspace = makeContext({
      "docker/Dockerfile": ["FROM scratch", "COPY busybox /bin/busybox", run("echo failing; exit 7")].join(
        "\n",
      ),
    });
    const result = await runStep(
      "main",
      { endpoint: runner.unixAddress, context: ".", file: "docker/Dockerfile", "no-cache": "true" },
      workspace,
    );
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stdout,
      /^::error title=Build failed,file=docker\/Dockerfile,line=3,endLine=3::The build failed: process ".*exit 7" did not complete successfully: exit code: 7$/m,
    );
    assert.equal(result.stdout.match(/^::error/gm)?.length, 1, "one annotation, not two");
    assert.match(result.stdout, /^#\d+ \d+\.\d+ failing$/m);
    assert.match(result.summary, /^### ❌ Build failed in \d+\.\ds$/m);
    assert.match(result.summary, /^\| \d+ \| \[2\/2\] RUN .* \| \*\*error\*\* \| \d+\.\ds \|$/m);
  });

  it("annotates each finding of call: check on its Dockerfile line and fails as buildx does", async () => {
    const workspace = makeContext({
      "docker/Dockerfile": ["FROM scratch as base", "COPY busybox /bin/busybox"].join("\n"),
    });
    const result = await runStep(
      "main",
      { endpoint: runner.unixAddress, context: ".", file: "docker/Dockerfile", call: "check" },
      workspace,
    );
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stdout,
      /^::warning title=Dockerfile check FromAsCasing,file=docker\/Dockerfile,line=1,endLine=1::Dockerfile:1: FromAsCasing: /m,
    );
    assert.match(result.stdout, /^Check complete, 1 warning has been found!$/m);
    assert.match(result.stdout, /^::error::The Dockerfile's checks found 1 warning: FromAsCasing\.$/m);
  });

  it("takes a runners list with each runner's TLS as PEM text, and masks the keys", async () => {
    const pem = (path: string) => readFileSync(path, "utf8");
    const indent = (text: string) => text.trim().replace(/\n/g, "\n      ");
    const key = pem(runner.certs.clientKey);
    const runners = [
      "- name: only",
      `  endpoint: ${runner.tcpAddress}`,
      "  driver-opts:",
      `    cacert: |\n      ${indent(pem(runner.certs.caCert))}`,
      `    cert: |\n      ${indent(pem(runner.certs.clientCert))}`,
      `    key: |\n      ${indent(key)}`,
    ].join("\n");
    const result = await runStep("main", { runners, context: "examples/hello" });
    assert.equal(result.code, 0, result.stdout);
    assert.equal(result.outputs.endpoint, runner.tcpAddress);
    const keyLines = key.split("\n").filter((line) => line.length >= 8 && !line.startsWith("-----"));
    for (const line of keyLines) assert.ok(result.stdout.includes(`::add-mask::${line}`));
  });

  it("uses the remote builder setup-buildx left current when no runner is given", async () => {
    const buildxConfig = tempDir("rb-action-buildx-");
    const pem = (path: string) => readFileSync(path, "utf8");
    writeBuildxBuilder(buildxConfig, {
      name: "builder-ci",
      driver: "remote",
      current: true,
      nodes: [
        {
          name: "builder-ci0",
          endpoint: runner.tcpAddress,
          tls: {
            ca: pem(runner.certs.caCert),
            cert: pem(runner.certs.clientCert),
            key: pem(runner.certs.clientKey),
          },
        },
      ],
    });
    const result = await runStep("main", { context: "examples/hello" }, REPO_ROOT, {
      BUILDX_CONFIG: buildxConfig,
    });
    assert.equal(result.code, 0, result.stdout);
    assert.equal(result.outputs.endpoint, runner.tcpAddress);
    assert.match(result.outputs["runner-reason"]!, /buildx builder "builder-ci"/);
  });

  it("builds context: git, the job's commit, which the runner fetches with the job's token", async () => {
    const token = `ghs_${randomBytes(12).toString("hex")}`;
    const git = await startGitHttpServer(token);
    try {
      const sha = git.addRepository("owner/app.git", {
        Dockerfile: [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          run("echo built-from-git-in-the-action"),
        ].join("\n"),
        busybox: readFileSync(BUSYBOX),
      });
      const workspace = tempDir("rb-action-empty-workspace-");
      const result = await runStep(
        "main",
        { endpoint: runner.unixAddress, context: "git", "github-token": token, "no-cache": "true" },
        workspace,
        { GITHUB_SERVER_URL: git.baseUrl, GITHUB_REPOSITORY: "owner/app", GITHUB_SHA: sha },
      );
      assert.equal(result.code, 0, result.stdout);
      assert.match(result.stdout, /built-from-git-in-the-action/);
      assert.doesNotMatch(result.stdout, /load build context|transferring/);
      assert.ok(result.stdout.includes(`::add-mask::${token}`));
      assert.ok(git.requests.some((request) => request.tokenMatched));
    } finally {
      await git.stop();
    }
  });

  it("refuses a bad build input before reaching the runner", async () => {
    const result = await runStep("main", {
      endpoint: "tcp://192.0.2.1:1234",
      context: "examples/hello",
      "build-args": "GOOD=1\nRB_SURELY_UNSET",
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^::error::input build-args "RB_SURELY_UNSET" has no "=" and no environment variable RB_SURELY_UNSET is set; write it as RB_SURELY_UNSET=value\.$/m,
    );
    assert.doesNotMatch(result.stdout, /::group::Connecting/);
  });

  it("fails the step with one sentence when the pin is not met", async () => {
    const result = await runStep("main", {
      endpoint: runner.tcpAddress,
      "tls-cacert": runner.certs.caCert,
      "tls-cert": runner.certs.clientCert,
      "tls-key": runner.certs.clientKey,
      context: "examples/hello",
      "buildkit-version": "<0.30",
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      new RegExp(
        `^::error::The runner at ${runner.tcpAddress} runs BuildKit v${V}, but the pin requires <0.30.$`,
        "m",
      ),
    );
    assert.deepEqual(result.outputs, {});
  });

  it("only warns on a missed pin when buildkit-version-mismatch is warning", async () => {
    const result = await runStep("main", {
      endpoint: runner.unixAddress,
      context: "examples/hello",
      "buildkit-version": "<0.30",
      "buildkit-version-mismatch": "warning",
    });
    assert.equal(result.code, 0, result.stdout);
    assert.match(
      result.stdout,
      new RegExp(
        `^::warning::The runner at unix://.* runs BuildKit v${V}, but the pin requires <0.30.$`,
        "m",
      ),
    );
    assert.equal(result.outputs["buildkit-version"], `v${BUILDKIT_VERSION}`);
  });

  it("names the input in a failure about it", async () => {
    const result = await runStep("main", {
      endpoint: runner.tcpAddress,
      "tls-cert": runner.certs.clientCert,
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^::error::input tls-cert is given without input tls-key: give both or neither.$/m,
    );
  });

  it("runs the post step cleanly", async () => {
    const result = await runStep("post", {});
    assert.equal(result.code, 0, result.stdout);
  });
});

describe("the action with no runner given", () => {
  it("starts the pinned buildkitd from the tool cache, builds, and the post step stops it", async () => {
    const files = stepFiles(tempDir("rb-action-start-"));
    const env = cleanEnv({
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      ...files.env,
      GITHUB_WORKSPACE: REPO_ROOT,
      GITHUB_ACTIONS: "true",
      RUNNER_TOOL_CACHE: toolCacheWith(runner.binDir, BUILDKIT_VERSION),
      RUNNER_TEMP: tempDir("rb-runner-temp-"),
      INPUT_CONTEXT: "examples/hello",
      "INPUT_BUILDKIT-VERSION": `v${BUILDKIT_VERSION}`,
    });
    const main = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "main.mjs")], { env });
    assert.equal(main.code, 0, main.stdout);
    assert.match(main.stdout, /none answers at unix:\/\/\/run\/buildkit\/buildkitd\.sock; starting one/);
    assert.match(main.stdout, /^#\d+ \[1\/1\] COPY hello.txt \/hello.txt$/m);
    const outputs = parseFileCommand(readFileSync(files.output, "utf8"));
    assert.match(outputs["runner-reason"]!, new RegExp(`^started buildkitd v${V} \\(cache\\)`));
    const state = parseFileCommand(readFileSync(files.state, "utf8"));
    const pid = Number(state["runner-pid"]);
    assert.ok(pid > 0, JSON.stringify(state));
    assert.doesNotThrow(() => process.kill(pid, 0), "the runner outlives the main step");

    const post = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "post.mjs")], {
      env: postStepEnv(env, files.state),
    });
    assert.equal(post.code, 0, post.stdout);
    assert.match(
      post.stdout,
      new RegExp(`Stopped the BuildKit runner the main step started \\(pid ${pid}\\)`),
    );
    assert.throws(() => process.kill(pid, 0), "the post step stopped the runner");
    assert.equal(existsSync(state["runner-runtime-dir"]!), false, "the post step removes its socket dir");
  });

  it("configures the runner it starts with buildkitd-config-inline and buildkitd-flags, as setup-buildx does", async () => {
    const files = stepFiles(tempDir("rb-action-config-"));
    const env = cleanEnv({
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      ...files.env,
      GITHUB_WORKSPACE: REPO_ROOT,
      GITHUB_ACTIONS: "true",
      RUNNER_TOOL_CACHE: toolCacheWith(runner.binDir, BUILDKIT_VERSION),
      RUNNER_TEMP: tempDir("rb-runner-temp-"),
      INPUT_CONTEXT: "examples/hello",
      "INPUT_BUILDKIT-VERSION": `v${BUILDKIT_VERSION}`,
      "INPUT_BUILDKITD-CONFIG-INLINE": '[worker.oci.labels]\n  "org.example.started-by" = "the-action"\n',
      "INPUT_BUILDKITD-FLAGS": "--allow-insecure-entitlement network.host",
    });
    const main = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "main.mjs")], { env });
    assert.equal(main.code, 0, main.stdout);
    assert.match(
      main.stdout,
      /No runner is given; starting one configured by input buildkitd-config-inline and input buildkitd-flags\./,
    );
    const outputs = parseFileCommand(readFileSync(files.output, "utf8"));
    const workers = JSON.parse(outputs.workers!) as Array<{ labels: Record<string, string> }>;
    assert.equal(workers[0]?.labels["org.example.started-by"], "the-action");
    const state = parseFileCommand(readFileSync(files.state, "utf8"));
    const post = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "post.mjs")], {
      env: postStepEnv(env, files.state),
    });
    assert.equal(post.code, 0, post.stdout);
    assert.equal(existsSync(state["runner-runtime-dir"]!), false, "its config went with its socket dir");
  });
});
