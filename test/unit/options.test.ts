import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { InputError } from "../../src/errors.js";
import { runnerOptions } from "../../src/job/request.js";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "../../src/runner/options.js";
import { formatDuration, parseBoolean, parseCount, parseDuration } from "../../src/values.js";
import { inputsOf, type GivenInputs } from "../helpers/inputs.js";

/** The CLI's connection flags, as given, with the environment: how to reach the runner. */
async function options(given: GivenInputs, env: NodeJS.ProcessEnv) {
  return runnerOptions(await inputsOf(given, { adapter: "cli", command: "info", env }));
}

describe("runnerOptions", () => {
  it("takes the endpoint input first, then BUILDKIT_HOST, then buildctl's default socket", async () => {
    const base = {};
    assert.equal(
      (await options({ ...base, endpoint: "tcp://a:1" }, { BUILDKIT_HOST: "tcp://b:2" })).endpoint.address,
      "tcp://a:1",
    );
    assert.equal((await options(base, { BUILDKIT_HOST: "tcp://b:2" })).endpoint.address, "tcp://b:2");
    assert.equal((await options(base, {})).endpoint.address, "unix:///run/buildkit/buildkitd.sock");
  });

  it("has defaults for the timeout and the mismatch policy", async () => {
    const defaults = await options({}, {});
    assert.equal(defaults.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    assert.equal(defaults.onVersionMismatch, "error");
    assert.equal(defaults.versionPin, undefined);
  });

  it("reads warning as the mismatch policy and refuses other words", async () => {
    const warning = await options({ versionMismatch: "warning" }, {});
    assert.equal(warning.onVersionMismatch, "warning");
    await assert.rejects(
      () => options({ versionMismatch: "maybe" }, {}),
      /--version-mismatch is "maybe"; use error or warning\./,
    );
  });
});

describe("parseDuration", () => {
  it("reads seconds, milliseconds, minutes and hours", () => {
    assert.equal(parseDuration("30s", "t"), 30_000);
    assert.equal(parseDuration("2.5s", "t"), 2_500);
    assert.equal(parseDuration("1500ms", "t"), 1_500);
    assert.equal(parseDuration("2m", "t"), 120_000);
    assert.equal(parseDuration("2h", "t"), 7_200_000);
  });

  it("writes a duration back as a user gives it", () => {
    assert.deepEqual([5_000, 120_000, 7_200_000, 1_500, 90_000].map(formatDuration), [
      "5s",
      "2m",
      "2h",
      "1500ms",
      "90s",
    ]);
  });

  for (const text of ["", "0", "-1s", "soon", "5d"]) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseDuration(text, "--timeout"),
        (error: unknown) => error instanceof InputError && error.message.startsWith(`--timeout is "${text}"`),
      );
    });
  }

  it("refuses a number without a unit, saying how to write it", () => {
    assert.throws(() => parseDuration("10", "--timeout"), {
      message: '--timeout is "10", a number without a unit; write 10s, 10ms or 10m.',
    });
  });
});

describe("parseBoolean", () => {
  it("reads the YAML 1.2 core booleans strictly", () => {
    assert.equal(parseBoolean("true", "x", false), true);
    assert.equal(parseBoolean("FALSE", "x", true), false);
    assert.equal(parseBoolean(undefined, "x", true), true);
    assert.throws(
      () => parseBoolean("yes", "input allow-plaintext", false),
      /input allow-plaintext is "yes"; use true or false\./,
    );
  });
});

describe("parseCount", () => {
  it("reads a whole number, zero included", () => {
    assert.equal(parseCount("0", "--retries"), 0);
    assert.equal(parseCount(" 3 ", "--retries"), 3);
  });

  for (const text of ["", "-1", "1.5", "two", "1e3"]) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseCount(text, "--retries"),
        (error: unknown) =>
          error instanceof InputError &&
          error.message === `--retries is "${text}"; give a whole number, 0 or more.`,
      );
    });
  }
});
