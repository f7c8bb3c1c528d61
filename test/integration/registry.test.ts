// The test registry (test/harness/registry.ts) as the reference client sees it: buildctl pushes
// to it and pulls from it through the runner, with the credentials of a docker config. This
// checks the harness itself (TLS trusted by the runner, htpasswd auth), before our own client
// is compared against it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { makeContext, run } from "../helpers/contexts.js";

const MINUTE = 60_000;

let runner: RunnerUnderTest;
let registry: RegistryUnderTest;
before(() => {
  runner = runnerUnderTest();
  registry = registryUnderTest();
});

interface Result {
  code: number | null;
  output: string;
}

/** buildctl against the test runner, with DOCKER_CONFIG pointing at `dockerConfig`. */
function buildctl(args: string[], dockerConfig: string): Promise<Result> {
  const flags = [
    "--addr",
    runner.tcpAddress,
    "--tlscacert",
    runner.certs.caCert,
    "--tlscert",
    runner.certs.clientCert,
    "--tlskey",
    runner.certs.clientKey,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(join(runner.binDir, "buildctl"), [...flags, ...args], {
      env: { ...process.env, DOCKER_CONFIG: dockerConfig },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 3 * MINUTE,
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

function dockerConfig(username: string, password: string): string {
  const dir = mkdtempSync(join(tmpdir(), "rb-docker-config-"));
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { [registry.address]: { auth } } }));
  return dir;
}

/** A dockerfile.v0 build of `context`; with no output, the result is only built. */
function buildArgs(context: string, output?: string): string[] {
  return [
    "build",
    "--frontend",
    "dockerfile.v0",
    "--local",
    `context=${context}`,
    "--local",
    `dockerfile=${context}`,
    ...(output ? ["--output", output] : []),
  ];
}

/** The registry's answer to GET /v2/<name>/manifests/<tag> with the test credentials. */
function manifestStatus(
  name: string,
  tag: string,
  password = registry.password,
): Promise<number | undefined> {
  const auth = Buffer.from(`${registry.username}:${password}`).toString("base64");
  return new Promise((resolve, reject) => {
    const req = request(
      `https://${registry.address}/v2/${name}/manifests/${tag}`,
      {
        ca: readFileSync(registry.caCert),
        timeout: 10_000,
        headers: {
          authorization: `Basic ${auth}`,
          accept:
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    req.on("timeout", () => req.destroy(new Error("registry request timed out")));
    req.on("error", reject);
    req.end();
  });
}

describe("test registry, through buildctl", { timeout: 10 * MINUTE }, () => {
  const image = () => `${registry.address}/test/pushed`;

  it("accepts a push with the test user's password", async () => {
    const context = makeContext({ Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox"].join("\n") });
    const result = await buildctl(
      buildArgs(context, `type=image,name=${image()}:ok,push=true`),
      dockerConfig(registry.username, registry.password),
    );
    assert.equal(result.code, 0, result.output);
    assert.equal(await manifestStatus("test/pushed", "ok"), 200);
  });

  it("refuses a push with a wrong password, and without credentials", async () => {
    const context = makeContext({ Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox"].join("\n") });
    const wrong = await buildctl(
      buildArgs(context, `type=image,name=${image()}:wrong,push=true`),
      dockerConfig(registry.username, "not-the-password"),
    );
    assert.notEqual(wrong.code, 0, wrong.output);
    assert.match(wrong.output, /401 Unauthorized/);
    assert.ok(!wrong.output.includes("not-the-password"));
    const anonymous = await buildctl(
      buildArgs(context, `type=image,name=${image()}:anonymous,push=true`),
      mkdtempSync(join(tmpdir(), "rb-docker-config-")),
    );
    assert.notEqual(anonymous.code, 0, anonymous.output);
    assert.equal(await manifestStatus("test/pushed", "wrong"), 404);
    assert.equal(await manifestStatus("test/pushed", "anonymous"), 404);
    assert.equal(await manifestStatus("test/pushed", "ok", "not-the-password"), 401);
  });

  it("pulls a private base image with credentials, and not without", async () => {
    const base = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", "COPY marker /marker"].join("\n"),
      marker: "from the private base\n",
    });
    const credentials = dockerConfig(registry.username, registry.password);
    const pushed = await buildctl(buildArgs(base, `type=image,name=${image()}:base,push=true`), credentials);
    assert.equal(pushed.code, 0, pushed.output);

    const child = makeContext({ Dockerfile: [`FROM ${image()}:base`, run("cat /marker")].join("\n") });
    const pulled = await buildctl([...buildArgs(child), "--no-cache", "--progress=plain"], credentials);
    assert.equal(pulled.code, 0, pulled.output);
    assert.match(pulled.output, /from the private base/);

    const denied = await buildctl(
      [...buildArgs(child), "--no-cache", "--progress=plain"],
      mkdtempSync(join(tmpdir(), "rb-docker-config-")),
    );
    assert.notEqual(denied.code, 0, denied.output);
    assert.match(denied.output, /401 Unauthorized|authorization failed|failed to authorize/i);
  });
});
