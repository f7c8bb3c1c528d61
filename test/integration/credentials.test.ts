// Issue 4 through the CLI and the action, against the real runner and the test registry (TLS,
// htpasswd): pushing with the job's credentials, pulling a private base image, build secrets of
// every kind, SSH agent forwarding, and redaction of every secret value in the log.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  connectionFlags,
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { cleanEnv, REPO_ROOT, runCli, runProcess } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { getManifest, IMAGE_MANIFEST_TYPES, OCI_INDEX_TYPE } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";

let runner: RunnerUnderTest;
let registry: RegistryUnderTest;
let connection: string[];
beforeAll(() => {
  runner = runnerUnderTest();
  registry = registryUnderTest();
  connection = connectionFlags(runner);
});

/** A docker config with `auths` for the test registry, as `docker login` writes it. */
function dockerConfigDir(password: string): string {
  const dir = tempDir("rb-credentials-");
  const auth = Buffer.from(`${registry.username}:${password}`).toString("base64");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { [registry.address]: { auth } } }));
  return dir;
}

/** The digest the registry serves for name:tag, index or image. */
async function registryDigest(name: string, tag: string): Promise<string | undefined> {
  const answer = await getManifest(registry, name, tag, {
    accept: [OCI_INDEX_TYPE, ...IMAGE_MANIFEST_TYPES],
  });
  return answer.status === 200 ? answer.digest : undefined;
}

const COPY_ONLY = ["FROM scratch", "COPY busybox /bin/busybox", "COPY hello.txt /hello.txt"].join("\n");

describe("pushing and pulling with the job's credentials", () => {
  it("pushes with the docker config's credentials and reports the digest the registry serves", async () => {
    const context = makeContext({ Dockerfile: COPY_ONLY, "hello.txt": "pushed by remote-buildkit\n" });
    const metadataFile = join(tempDir("rb-credentials-"), "metadata.json");
    const image = `${registry.address}/rb/base`;
    const result = await runCli(
      ["build", ...connection, "--push", "-t", `${image}:1`, "--metadata-file", metadataFile, context],
      cleanEnv({ DOCKER_CONFIG: dockerConfigDir(registry.password) }),
    );
    assert.equal(result.code, 0, result.stderr);
    const metadata = JSON.parse(readFileSync(metadataFile, "utf8")) as Record<string, unknown>;
    const digest = metadata["containerimage.digest"];
    assert.match(String(digest), /^sha256:[a-f0-9]{64}$/);
    assert.equal((metadata["containerimage.descriptor"] as { digest: string }).digest, digest);
    assert.equal(metadata["image.name"], `${image}:1`);
    assert.equal(await registryDigest("rb/base", "1"), digest);
    assert.match(result.stderr, new RegExp(`^Pushed ${image}:1, digest ${String(digest)}$`, "m"));
  });

  it("fails a push with a wrong password in one sentence that names the registry and not the password", async () => {
    const context = makeContext({ Dockerfile: COPY_ONLY, "hello.txt": "x\n" });
    const wrong = "wrong-password-c0ffee";
    const result = await runCli(
      [
        "build",
        ...connection,
        "--no-docker-config",
        "--push",
        "-t",
        `${registry.address}/rb/denied:1`,
        context,
      ],
      cleanEnv({ BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${wrong}` }),
    );
    assert.equal(result.code, 1);
    const last = result.stderr.trim().split("\n").at(-1)!;
    assert.match(last, /^error: The build failed: .*401 Unauthorized/);
    assert.ok(last.includes(registry.address), last);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(wrong), "the password is printed");
  });

  it("pulls a private base image with credentials from BUILDKIT_REGISTRY_AUTH, and not without", async () => {
    // The image the first test pushed; push it again here so the test stands alone.
    const base = makeContext({ Dockerfile: COPY_ONLY, "hello.txt": "private base\n" });
    const pushed = await runCli(
      ["build", ...connection, "--push", "-t", `${registry.address}/rb/private:1`, base],
      cleanEnv({ DOCKER_CONFIG: dockerConfigDir(registry.password) }),
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    const context = makeContext({
      Dockerfile: [`FROM ${registry.address}/rb/private:1`, run("/bin/busybox cat /hello.txt")].join("\n"),
    });
    const env = { BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}` };
    const withCredentials = await runCli(
      ["build", ...connection, "--no-docker-config", "--no-cache", "--pull", context],
      cleanEnv(env),
    );
    assert.equal(withCredentials.code, 0, withCredentials.stderr);
    assert.match(withCredentials.stderr, /^#\d+ \d+\.\d+ private base$/m);
    const anonymous = await runCli(
      ["build", ...connection, "--no-docker-config", "--no-cache", "--pull", context],
      cleanEnv(),
    );
    assert.equal(anonymous.code, 1);
    assert.match(
      anonymous.stderr.trim().split("\n").at(-1)!,
      /^error: The build failed: .*(401|unauthorized)/i,
    );
  });

  it("refuses a docker config that is not JSON, naming the file", async () => {
    const dir = tempDir("rb-credentials-");
    writeFileSync(join(dir, "config.json"), "{ not json");
    const result = await runCli(
      ["build", ...connection, makeContext({ Dockerfile: COPY_ONLY })],
      cleanEnv({ DOCKER_CONFIG: dir }),
    );
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr.trim(),
      `error: The docker config ${join(dir, "config.json")} is not valid JSON.`,
    );
  });

  it("fails in one sentence when the credential helper fails, with nothing of its output", async () => {
    const dir = tempDir("rb-credentials-");
    const bin = tempDir("rb-credentials-");
    writeFileSync(join(dir, "config.json"), JSON.stringify({ credsStore: "rbfail" }));
    writeFileSync(
      join(bin, "docker-credential-rbfail"),
      "#!/bin/sh\necho 'helper-secret-output' >&2\nexit 3\n",
    );
    chmodSync(join(bin, "docker-credential-rbfail"), 0o755);
    const context = makeContext({ Dockerfile: COPY_ONLY, "hello.txt": "x\n" });
    const result = await runCli(
      ["build", ...connection, "--push", "-t", `${registry.address}/rb/helper:1`, context],
      cleanEnv({ DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` }),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The credential helper docker-credential-rbfail .* for 127\.0\.0\.1:\d+\.$/,
    );
    assert.ok(!result.stderr.includes("helper-secret-output"));
  });
});

describe("build secrets and SSH agents", () => {
  let agent: ChildProcess | undefined;
  afterAll(() => {
    agent?.kill();
  });

  it("reads a secret from a file and from a variable, and shows *** where a RUN prints one", async () => {
    const dir = tempDir("rb-credentials-");
    const fileSecret = "file-secret-5d1e2c";
    const envSecret = "env-secret-9a8b7c";
    writeFileSync(join(dir, "token"), fileSecret);
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        'RUN --mount=type=secret,id=filetoken --mount=type=secret,id=envtoken ["/bin/busybox", "sh", "-c", ' +
          '"echo file sha $(/bin/busybox sha256sum /run/secrets/filetoken | /bin/busybox cut -c1-16); ' +
          "echo env sha $(/bin/busybox sha256sum /run/secrets/envtoken | /bin/busybox cut -c1-16); " +
          'echo leaked: $(/bin/busybox cat /run/secrets/filetoken) and $(/bin/busybox cat /run/secrets/envtoken)"]',
      ].join("\n"),
    });
    const result = await runCli(
      [
        "build",
        ...connection,
        "--no-cache",
        "--secret",
        `id=filetoken,src=${join(dir, "token")}`,
        "--secret",
        "id=envtoken,env=RB_ENV_SECRET",
        context,
      ],
      cleanEnv({ RB_ENV_SECRET: envSecret }),
    );
    assert.equal(result.code, 0, result.stderr);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);
    assert.match(result.stderr, new RegExp(`^#\\d+ \\d+\\.\\d+ file sha ${sha(fileSecret)}$`, "m"));
    assert.match(result.stderr, new RegExp(`^#\\d+ \\d+\\.\\d+ env sha ${sha(envSecret)}$`, "m"));
    assert.match(result.stderr, /^#\d+ \d+\.\d+ leaked: \*\*\* and \*\*\*$/m);
    assert.ok(!result.stderr.includes(fileSecret) && !result.stderr.includes(envSecret));
  });

  const badSecrets: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    [
      "a secret with no id",
      ["--secret", "src=/etc/hostname"],
      {},
      /^--secret "src=\/etc\/hostname" has no id=\.$/,
    ],
    [
      "a secret file that does not exist",
      ["--secret", "id=x,src=/nonexistent/token"],
      {},
      /^--secret: the file "\/nonexistent\/token" of secret "x" cannot be read \(ENOENT\)\.$/,
    ],
    [
      "a secret variable that is not set",
      ["--secret", "id=x,env=RB_SURELY_UNSET"],
      {},
      /^--secret: secret "x" reads the environment variable RB_SURELY_UNSET, which is not set\.$/,
    ],
    [
      "an ssh agent that is not there",
      ["--ssh", "default"],
      {},
      /^--ssh "default" forwards the agent at SSH_AUTH_SOCK, which is not set\.$/,
    ],
  ];
  for (const [name, flags, env, message] of badSecrets) {
    it(`refuses ${name} with one sentence and exit code 2`, async () => {
      const result = await runCli(
        ["build", ...connection, ...flags, makeContext({ Dockerfile: COPY_ONLY })],
        cleanEnv(env),
      );
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr.trim().replace(/^error: /, ""), message);
      assert.equal(result.stderr.trim().split("\n").length, 1);
    });
  }

  it("forwards the SSH agent at SSH_AUTH_SOCK into RUN --mount=type=ssh", async () => {
    const socket = join(tempDir("rb-credentials-"), "agent.sock");
    agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    for (let i = 0; i < 50; i++) {
      const probe = await runProcess("ssh-add", ["-l"], { env: { ...cleanEnv(), SSH_AUTH_SOCK: socket } });
      if (probe.code === 1) break; // "The agent has no identities": it answers.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        'RUN --mount=type=ssh ["/bin/busybox", "sh", "-c", "test -S \\"$SSH_AUTH_SOCK\\" && echo agent at $SSH_AUTH_SOCK"]',
      ].join("\n"),
    });
    const result = await runCli(
      ["build", ...connection, "--no-cache", "--ssh", "default", context],
      cleanEnv({ SSH_AUTH_SOCK: socket }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^#\d+ \d+\.\d+ agent at \/run\/buildkit\/ssh_agent\.\d+$/m);
  });
});

describe("the action with secrets, credentials and a push", () => {
  it("pushes with registry-auth, masks every value, redacts the log and sets digest and metadata", async () => {
    const dir = tempDir("rb-credentials-");
    const outputFile = join(dir, "output");
    writeFileSync(outputFile, "");
    const inline = "inline-secret-0f0e0d";
    const fromEnv = "env-secret-1a2b3c";
    const workspace = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        'RUN --mount=type=secret,id=inline --mount=type=secret,id=fromenv ["/bin/busybox", "sh", "-c", ' +
          '"echo values: $(/bin/busybox cat /run/secrets/inline) $(/bin/busybox cat /run/secrets/fromenv)"]',
      ].join("\n"),
    });
    const env = cleanEnv({
      GITHUB_OUTPUT: outputFile,
      GITHUB_WORKSPACE: workspace,
      GITHUB_ACTIONS: "true",
      DOCKER_CONFIG: tempDir("rb-credentials-"),
      RB_FROM_ENV: fromEnv,
      INPUT_ENDPOINT: runner.unixAddress,
      INPUT_CONTEXT: ".",
      "INPUT_NO-CACHE": "true",
      INPUT_PUSH: "true",
      INPUT_TAGS: `${registry.address}/rb/action:1`,
      INPUT_SECRETS: `inline=${inline}`,
      "INPUT_SECRET-ENVS": "fromenv=RB_FROM_ENV",
      "INPUT_REGISTRY-AUTH": `${registry.address}=${registry.username}:${registry.password}`,
    });
    const result = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "main.mjs")], {
      env,
      cwd: workspace,
    });
    assert.equal(result.code, 0, result.stdout);
    for (const value of [inline, registry.password])
      assert.ok(result.stdout.includes(`::add-mask::${value}`));
    assert.ok(result.stdout.indexOf(`::add-mask::${inline}`) < result.stdout.indexOf("::group::"));
    assert.match(result.stdout, /^#\d+ \d+\.\d+ values: \*\*\* \*\*\*$/m);
    const withoutMaskCommands = result.stdout.replace(/^::add-mask::.*$/gm, "");
    for (const value of [inline, fromEnv, registry.password])
      assert.ok(!withoutMaskCommands.includes(value), value);
    const outputs = readFileSync(outputFile, "utf8");
    const digest = /^digest<<.*\n(sha256:[a-f0-9]{64})$/m.exec(outputs)?.[1];
    assert.ok(digest, outputs);
    assert.equal(await registryDigest("rb/action", "1"), digest);
    assert.match(outputs, /^metadata<<.*\n\{.*"containerimage\.digest":"sha256:/m);
  });
});
