// The started runner's configuration (buildkitd-config, buildkitd-config-inline, buildkitd-flags)
// as the inputs give it: checked before anything starts, each refusal one sentence naming the input.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../src/errors.js";
import { startedRunnerConfig } from "../../src/job/request.js";
import { splitShellWords } from "../../src/runner/daemon/config.js";
import { inputsOf, type GivenInputs, type ReadOptions } from "../helpers/inputs.js";
import { tempDir } from "../helpers/temp.js";

async function config(given: GivenInputs, options: ReadOptions = {}) {
  return startedRunnerConfig(await inputsOf(given, options));
}

async function refused(given: GivenInputs, pattern: RegExp, options: ReadOptions = {}): Promise<void> {
  await assert.rejects(
    () => config(given, options),
    (error: Error) => {
      assert.ok(error instanceof InputError, `${error.name}: ${error.message}`);
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    },
  );
}

describe("buildkitd-flags", () => {
  it("defaults to setup-buildx's flags, which are not a custom configuration", async () => {
    const started = await config({});
    assert.deepEqual(started.flags, [
      "--allow-insecure-entitlement",
      "security.insecure",
      "--allow-insecure-entitlement",
      "network.host",
    ]);
    assert.equal(started.toml, undefined);
    assert.equal(started.custom, false);
  });

  it("splits as a shell does: quotes group, a backslash escapes", () => {
    assert.deepEqual(splitShellWords(`--a "b c" 'd "e"' f\\ g "h\\"i" ''`, "x"), [
      "--a",
      "b c",
      'd "e"',
      "f g",
      'h"i',
      "",
    ]);
    assert.throws(
      () => splitShellWords(`--a "b`, "input buildkitd-flags"),
      /input buildkitd-flags has a " quote that is not closed\./,
    );
  });

  it("takes other flags as given, and counts as a configuration", async () => {
    const started = await config({ buildkitdFlags: "--debug --oci-worker-gc-keepstorage=2000" });
    assert.deepEqual(started.flags, ["--debug", "--oci-worker-gc-keepstorage=2000"]);
    assert.equal(started.custom, true);
    assert.match(started.inputs, /input buildkitd-flags/);
  });

  it("refuses the flags that are ours to set, in any of their spellings", async () => {
    await refused(
      { buildkitdFlags: "--addr tcp://0.0.0.0:1234" },
      /^input buildkitd-flags gives --addr, which is ours to set for the runner we start \(the socket we connect to\)\.$/,
    );
    await refused({ buildkitdFlags: "--root=/var/lib/x" }, /gives --root, .*state dir/);
    await refused({ buildkitdFlags: "-otel-socket-path /tmp/x" }, /gives --otel-socket-path/);
    await refused({ buildkitdFlags: "--containerd-worker=true" }, /gives --containerd-worker/);
    await refused(
      { buildkitdFlags: "--config /etc/buildkitd.toml" },
      /^input buildkitd-flags gives --config; give the file as input buildkitd-config instead\.$/,
    );
    await refused(
      { buildkitdFlags: "--config=/x" },
      /^--buildkitd-flags gives --config; give the file as --buildkitd-config instead\.$/,
      { adapter: "cli" },
    );
  });
});

describe("buildkitd-config and buildkitd-config-inline", () => {
  it("reads the file now (relative to the working directory) and checks its TOML", async () => {
    const dir = tempDir("rb-daemon-config-");
    const toml = '[registry."docker.io"]\n  mirrors = ["mirror.example:5000"]\n';
    writeFileSync(join(dir, "buildkitd.toml"), toml);
    const started = await config({ buildkitdConfig: "buildkitd.toml" }, { cwd: dir });
    assert.equal(started.toml, toml);
    assert.equal(started.custom, true);
    assert.match(started.inputs, /^input buildkitd-config and input buildkitd-flags \(default\)$/);
  });

  it("refuses a file that cannot be read, and TOML that does not parse, saying where", async () => {
    const dir = tempDir("rb-daemon-config-");
    await refused(
      { buildkitdConfig: "missing.toml" },
      /^input buildkitd-config "missing\.toml" cannot be read \(ENOENT\)\.$/,
      { cwd: dir },
    );
    writeFileSync(join(dir, "bad.toml"), "[worker.oci]\nmax-parallelism = [\n");
    await refused(
      { buildkitdConfig: "bad.toml" },
      /^input buildkitd-config "bad\.toml" is not valid TOML: .* \(line 3, column \d+\)\.$/,
      { cwd: dir },
    );
    await refused(
      { buildkitdConfigInline: "[a]\nb = 1\n[a]\n" },
      /^input buildkitd-config-inline is not valid TOML: .*redefine.* \(line \d+, column \d+\)\.$/,
    );
  });

  it("takes inline TOML", async () => {
    const started = await config({ buildkitdConfigInline: "[worker.oci]\n  max-parallelism = 1\n" });
    assert.equal(started.toml?.trim(), "[worker.oci]\n  max-parallelism = 1");
    assert.equal(started.custom, true);
  });

  it("refuses both at once", async () => {
    await refused(
      { buildkitdConfig: "x.toml", buildkitdConfigInline: "debug = true" },
      /^--buildkitd-config and --buildkitd-config-inline are both given; give one of them\.$/,
      { adapter: "cli", cwd: writeConfigDir() },
    );
  });

  it("refuses a configuration beside an endpoint, whose runner is running already", async () => {
    await refused(
      { endpoint: "tcp://127.0.0.1:1234", buildkitdConfigInline: "debug = true" },
      /^input buildkitd-config-inline configures the runner started when no endpoint is given, and input endpoint is given; leave it out or the endpoint\.$/,
    );
    await refused(
      { buildkitdFlags: "--debug" },
      /^--buildkitd-flags configures .* and BUILDKIT_HOST is set; leave it out or the endpoint\.$/,
      { adapter: "cli", env: { BUILDKIT_HOST: "tcp://127.0.0.1:1234" } },
    );
    // The default flags beside an endpoint are no configuration: nothing to refuse.
    assert.equal((await config({ endpoint: "tcp://127.0.0.1:1234" })).custom, false);
  });
});

function writeConfigDir(): string {
  const dir = tempDir("rb-daemon-config-");
  writeFileSync(join(dir, "x.toml"), "debug = true\n");
  return dir;
}
