// The runner we start, configured as setup-buildx's docker-container driver is: a buildkitd.toml
// (buildkitd-config, buildkitd-config-inline) and extra flags (buildkitd-flags), against real
// buildkitd processes this file starts through the CLI and the runner layer. The test registry's
// certificate is signed by a CA only a config can make the started runner trust: a push works
// with the config and fails without it, and a mirror for docker.io serves what only it has.
import { beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalRunner } from "../../src/runner/local.js";
import { DirToolStore } from "../../src/runner/release/tool-store.js";
import { InPlaceStateStore } from "../../src/runner/state.js";
import { connectRunner } from "../../src/runner/resolve.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { registryUnderTest, runnerUnderTest, type RegistryUnderTest } from "../harness/env.js";
import { cleanEnv, isOneSentence, runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { buildkitdRunsOn } from "../helpers/processes.js";
import { recorder } from "../helpers/reporter.js";
import { tempDir } from "../helpers/temp.js";

// Each test and hook here has 5 minutes.
jest.setTimeout(5 * 60_000);

let binDir: string;
let registry: RegistryUnderTest;

beforeAll(() => {
  binDir = runnerUnderTest().binDir;
  registry = registryUnderTest();
});

/** The CLI's cache dir, holding the harness's binaries as a download would. */
function cacheRoot(): string {
  const root = tempDir("rb-started-config-");
  mkdirSync(join(root, `buildkit-v${BUILDKIT_VERSION}`));
  symlinkSync(binDir, join(root, `buildkit-v${BUILDKIT_VERSION}`, "bin"));
  return root;
}

function cliEnv(root: string): NodeJS.ProcessEnv {
  return cleanEnv({
    REMOTE_BUILDKIT_CACHE: root,
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
  });
}

/** buildkitd.toml that trusts the test registry's CA (and keeps to TLS, which loopback would not). */
function trustingRegistry(): string {
  return [
    `[registry."${registry.address}"]`,
    "  http = false",
    `  ca = [${JSON.stringify(registry.caCert)}]`,
    "",
  ].join("\n");
}

describe("the started runner's configuration", () => {
  it("a config file that trusts the registry's CA lets a push work that fails without it", async () => {
    const root = cacheRoot();
    const env = cliEnv(root);
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo configured > /configured")].join(
        "\n",
      ),
    });
    const tag = `${registry.address}/started-config/image:${Date.now()}`;
    // Flags other than the default are a configuration too: the runner is started, not looked for.
    const without = await runCli(["build", "--buildkitd-flags=--debug", "-t", tag, "--push", context], env);
    assert.equal(without.code, 1, without.stderr);
    assert.match(without.stderr, /starting one configured by --buildkitd-flags/);
    // Without the CA, the runner's TLS to the registry fails, and its plain-HTTP fallback for
    // loopback registries meets a TLS port.
    assert.match(
      without.stderr,
      /error: The build failed: failed to push .*(x509|certificate|400 Bad Request)/,
    );

    const configFile = join(tempDir("rb-started-config-file-"), "buildkitd.toml");
    writeFileSync(configFile, trustingRegistry());
    const withConfig = await runCli(
      ["build", "--buildkitd-config", configFile, "-t", tag, "--push", context],
      env,
    );
    assert.equal(withConfig.code, 0, withConfig.stderr);
    assert.match(
      withConfig.stderr,
      /starting one configured by --buildkitd-config and --buildkitd-flags \(default\)/,
    );
    assert.match(withConfig.stderr, /^Pushed .*, digest sha256:[a-f0-9]{64}$/m);
    const stateDir = join(root, "state", `buildkit-v${BUILDKIT_VERSION}`);
    assert.equal(buildkitdRunsOn(stateDir), false, "the started buildkitd is stopped after the command");
  });

  it("a registry mirror for docker.io serves an image that only the test registry has", async () => {
    const root = cacheRoot();
    const env = cliEnv(root);
    // Pushed as docker.io's library images are named on a mirror: library/NAME.
    const name = `rb-mirrored-${Date.now()}`;
    const base = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo from the mirror > /origin")].join(
        "\n",
      ),
    });
    const pushed = await runCli(
      [
        "build",
        "--buildkitd-config-inline",
        trustingRegistry(),
        "-t",
        `${registry.address}/library/${name}:v1`,
        "--push",
        base,
      ],
      env,
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    // The machine has no way to docker.io: only the mirror can answer for docker.io/library/NAME.
    const mirrored = makeContext({
      Dockerfile: [`FROM ${name}:v1`, run("cat /origin")].join("\n"),
    });
    const mirror = `[registry."docker.io"]\n  mirrors = [${JSON.stringify(registry.address)}]\n${trustingRegistry()}`;
    const built = await runCli(["build", "--buildkitd-config-inline", mirror, mirrored], env);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /^#\d+ \d+\.\d+ from the mirror$/m);
  });

  it("inline TOML reaches the worker (its labels, as ListWorkers answers) and the flags follow ours", async () => {
    const root = cacheRoot();
    const stateDir = join(root, "state");
    const reporter = recorder();
    const started = await startLocalRunner({
      version: BUILDKIT_VERSION,
      start: {
        tools: new DirToolStore(root),
        state: new InPlaceStateStore(),
        stateDir: () => stateDir,
        detached: false,
        release: {},
        config: {
          toml: [
            "[worker.oci]",
            "  max-parallelism = 1",
            "  [worker.oci.labels]",
            '    "org.example.configured" = "by-inline-toml"',
            "",
          ].join("\n"),
          flags: ["--allow-insecure-entitlement", "security.insecure"],
          inputs: "input buildkitd-config-inline and input buildkitd-flags",
          custom: true,
        },
      },
      reporter,
      env: process.env,
    });
    try {
      const { client, info } = await connectRunner(
        {
          endpoint: started.runner.endpoint,
          tls: {},
          connectTimeoutMs: 10_000,
          allowPlaintext: false,
          versionPin: undefined,
          onVersionMismatch: "error",
        },
        reporter,
      );
      client.close();
      assert.equal(info.workers[0]?.labels["org.example.configured"], "by-inline-toml");
    } finally {
      await started.release();
    }
    assert.equal(buildkitdRunsOn(stateDir), false);
  });

  it("a flag buildkitd refuses is one sentence naming the input, and the saved state is kept", async () => {
    const root = cacheRoot();
    const stateDir = join(root, "state", `buildkit-v${BUILDKIT_VERSION}`);
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, "kept"), "the cache of an earlier run");
    const context = makeContext({ Dockerfile: "FROM scratch\n" });
    const result = await runCli(["build", "--buildkitd-flags=--no-such-flag", context], cliEnv(root));
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /buildkitd refused --buildkitd-flags: flag provided but not defined: -no-such-flag\.$/m,
    );
    assert.ok(isOneSentence(result.stderr.trim().split("\n").at(-1)!), result.stderr);
    assert.equal(existsSync(join(stateDir, "kept")), true, "the state is not discarded for a bad flag");
  });

  it("a flag of ours is refused before anything starts", async () => {
    const root = cacheRoot();
    const context = makeContext({ Dockerfile: "FROM scratch\n" });
    const result = await runCli(
      ["build", "--buildkitd-flags=--root /var/lib/elsewhere", context],
      cliEnv(root),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--buildkitd-flags gives --root, which is ours to set/);
    assert.doesNotMatch(result.stderr, /Started buildkitd/);
  });
});
