// The test registry (test/harness/registry.ts) as the reference client sees it: buildctl pushes
// to it and pulls from it through the runner, with the credentials of a docker config. This
// checks the harness itself (TLS trusted by the runner, htpasswd auth), before our own client
// is compared against it.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { buildctlBuild } from "../helpers/buildctl.js";
import { makeContext, run } from "../helpers/contexts.js";
import { manifestStatus } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";

let runner: RunnerUnderTest;
let registry: RegistryUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
  registry = registryUnderTest();
});

interface Result {
  code: number | null;
  output: string;
}

/**
 * buildctl's dockerfile.v0 build of `context` on the test runner, with DOCKER_CONFIG pointing at
 * `dockerConfig`; with no output, the result is only built.
 */
async function buildctl(context: string, args: string[], dockerConfig: string): Promise<Result> {
  const result = await buildctlBuild(runner, context, args, {
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
  });
  return { code: result.code, output: result.stdout + result.stderr };
}

function dockerConfig(username: string, password: string): string {
  const dir = tempDir("rb-docker-config-");
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { [registry.address]: { auth } } }));
  return dir;
}

describe("test registry, through buildctl", () => {
  const image = () => `${registry.address}/test/pushed`;

  it("accepts a push with the test user's password", async () => {
    const context = makeContext({ Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox"].join("\n") });
    const result = await buildctl(
      context,
      ["--output", `type=image,name=${image()}:ok,push=true`],
      dockerConfig(registry.username, registry.password),
    );
    assert.equal(result.code, 0, result.output);
    assert.equal(await manifestStatus(registry, "test/pushed", "ok"), 200);
  });

  it("refuses a push with a wrong password, and without credentials", async () => {
    const context = makeContext({ Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox"].join("\n") });
    const wrong = await buildctl(
      context,
      ["--output", `type=image,name=${image()}:wrong,push=true`],
      dockerConfig(registry.username, "not-the-password"),
    );
    assert.notEqual(wrong.code, 0, wrong.output);
    assert.match(wrong.output, /401 Unauthorized/);
    assert.ok(!wrong.output.includes("not-the-password"));
    const anonymous = await buildctl(
      context,
      ["--output", `type=image,name=${image()}:anonymous,push=true`],
      tempDir("rb-docker-config-"),
    );
    assert.notEqual(anonymous.code, 0, anonymous.output);
    assert.equal(await manifestStatus(registry, "test/pushed", "wrong"), 404);
    assert.equal(await manifestStatus(registry, "test/pushed", "anonymous"), 404);
    assert.equal(await manifestStatus(registry, "test/pushed", "ok", "not-the-password"), 401);
  });

  it("pulls a private base image with credentials, and not without", async () => {
    const base = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", "COPY marker /marker"].join("\n"),
      marker: "from the private base\n",
    });
    const credentials = dockerConfig(registry.username, registry.password);
    const pushed = await buildctl(
      base,
      ["--output", `type=image,name=${image()}:base,push=true`],
      credentials,
    );
    assert.equal(pushed.code, 0, pushed.output);

    const child = makeContext({ Dockerfile: [`FROM ${image()}:base`, run("cat /marker")].join("\n") });
    const pulled = await buildctl(child, ["--no-cache", "--progress=plain"], credentials);
    assert.equal(pulled.code, 0, pulled.output);
    assert.match(pulled.output, /from the private base/);

    const denied = await buildctl(child, ["--no-cache", "--progress=plain"], tempDir("rb-docker-config-"));
    assert.notEqual(denied.code, 0, denied.output);
    assert.match(denied.output, /401 Unauthorized|authorization failed|failed to authorize/i);
  });
});
