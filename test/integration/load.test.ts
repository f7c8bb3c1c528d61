// `load`: the image streamed from the runner's docker exporter into a real Docker Engine (Debian's
// dockerd, started here by test/harness/dockerd.ts with its own socket), without the docker CLI;
// `docker image inspect` then finds it under its name with the id the log and step output give.
// With push in the same build, the image is also in the registry. No engine: one sentence.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { startTestDockerd, type TestDockerd } from "../harness/dockerd.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { stepFiles } from "../helpers/actions-runner.js";
import { cleanEnv, isOneSentence, parseFileCommand, REPO_ROOT, runCli, runProcess } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { manifestStatus } from "../helpers/registry.js";
import { escapeRegExp } from "../helpers/regex.js";
import { tempDir } from "../helpers/temp.js";

jest.setTimeout(5 * 60_000);

let runner: RunnerUnderTest;
let registry: RegistryUnderTest;
let engine: TestDockerd;
beforeAll(async () => {
  runner = runnerUnderTest();
  registry = registryUnderTest();
  engine = await startTestDockerd();
}, 3 * 60_000);
afterAll(() => engine?.stop());

function imageContext(): string {
  return makeContext({
    Dockerfile: [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      run(`echo ${randomBytes(6).toString("hex")} > /stamp`),
      "",
    ].join("\n"),
  });
}

async function inspectId(name: string): Promise<string> {
  const inspected = await engine.docker(["image", "inspect", "--format", "{{.Id}}", name]);
  assert.equal(inspected.code, 0, inspected.stderr);
  return inspected.stdout.trim();
}

describe("load into the job's Docker Engine", () => {
  it("puts the image there under its tag, with the id the log gives", async () => {
    const name = `rb/loaded:${randomBytes(4).toString("hex")}`;
    const result = await runCli(
      ["build", "--addr", runner.unixAddress, "--load", "-t", name, imageContext()],
      cleanEnv({ DOCKER_HOST: engine.host }),
    );
    assert.equal(result.code, 0, result.stderr);
    const id = await inspectId(name);
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    assert.match(
      result.stderr,
      new RegExp(
        `^Loaded ${escapeRegExp(name)} into the Docker Engine at ${escapeRegExp(engine.host)}: ${id}$`,
        "m",
      ),
    );
  });

  it("sets the imageid step output in the action to the engine's id", async () => {
    const name = `rb/loaded-action:${randomBytes(4).toString("hex")}`;
    const files = stepFiles(tempDir("rb-load-action-"));
    const context = imageContext();
    const result = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "main.mjs")], {
      env: cleanEnv({
        ...files.env,
        GITHUB_ACTIONS: "true",
        GITHUB_WORKSPACE: context,
        DOCKER_HOST: engine.host,
        INPUT_ENDPOINT: runner.unixAddress,
        INPUT_CONTEXT: context,
        INPUT_TAGS: name,
        INPUT_LOAD: "true",
        INPUT_PUSH: "false",
        "INPUT_UPLOAD-ARTIFACT": "false",
        "INPUT_BUILDKIT-VERSION": `v${BUILDKIT_VERSION}`,
      }),
      cwd: context,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const outputs = parseFileCommand(readFileSync(files.output, "utf8"));
    assert.equal(outputs.imageid, await inspectId(name));
  });

  it("loads and pushes in one build", async () => {
    const tag = randomBytes(4).toString("hex");
    const name = `${registry.address}/rb/load-push:${tag}`;
    const result = await runCli(
      [
        "build",
        "--addr",
        runner.unixAddress,
        "--load",
        "--push",
        "-t",
        name,
        "--no-docker-config",
        imageContext(),
      ],
      cleanEnv({
        DOCKER_HOST: engine.host,
        BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    await inspectId(name);
    assert.equal(await manifestStatus(registry, "rb/load-push", tag), 200);
  });

  it("with no engine answering, says so in one sentence before building", async () => {
    const socket = join(tempDir("rb-no-engine-"), "docker.sock");
    const result = await runCli(
      ["build", "--addr", runner.unixAddress, "--load", "-t", "rb/none:1", imageContext()],
      cleanEnv({ DOCKER_HOST: `unix://${socket}` }),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.ok(isOneSentence(result.stderr), result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^error: --load needs the job's Docker Engine, but none answers at unix://${escapeRegExp(socket)} \\(ENOENT\\); start Docker or set DOCKER_HOST\\.$`,
        "m",
      ),
    );
  });
});
