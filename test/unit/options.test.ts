import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { CLI_RUNNER_NAMES as NAMES } from "../../src/cli/args.js";
import { InputError } from "../../src/errors.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, parseRunnerOptions } from "../../src/runner/options.js";
import { parseBoolean, parseDuration } from "../../src/values.js";

describe("parseRunnerOptions", () => {
  it("takes the endpoint input first, then BUILDKIT_HOST, then buildctl's default socket", () => {
    const base = { tls: {}, allowPlaintext: false };
    assert.equal(
      parseRunnerOptions({ ...base, endpoint: "tcp://a:1" }, NAMES, { BUILDKIT_HOST: "tcp://b:2" }).endpoint
        .address,
      "tcp://a:1",
    );
    assert.equal(
      parseRunnerOptions(base, NAMES, { BUILDKIT_HOST: "tcp://b:2" }).endpoint.address,
      "tcp://b:2",
    );
    assert.equal(parseRunnerOptions(base, NAMES, {}).endpoint.address, "unix:///run/buildkit/buildkitd.sock");
  });

  it("has defaults for the timeout and the mismatch policy", () => {
    const options = parseRunnerOptions({ tls: {}, allowPlaintext: false }, NAMES, {});
    assert.equal(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    assert.equal(options.onVersionMismatch, "error");
    assert.equal(options.versionPin, undefined);
  });

  it("reads warning as the mismatch policy and refuses other words", () => {
    const options = parseRunnerOptions(
      { tls: {}, allowPlaintext: false, versionMismatch: "warning" },
      NAMES,
      {},
    );
    assert.equal(options.onVersionMismatch, "warning");
    assert.throws(
      () => parseRunnerOptions({ tls: {}, allowPlaintext: false, versionMismatch: "maybe" }, NAMES, {}),
      /--version-mismatch is "maybe"; use error or warning\./,
    );
  });
});

describe("parseDuration", () => {
  it("reads seconds, milliseconds and minutes; a bare number is seconds", () => {
    assert.equal(parseDuration("30", "t"), 30_000);
    assert.equal(parseDuration("2.5s", "t"), 2_500);
    assert.equal(parseDuration("1500ms", "t"), 1_500);
    assert.equal(parseDuration("2m", "t"), 120_000);
  });

  for (const text of ["", "0", "-1s", "soon", "5h"]) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseDuration(text, "--timeout"),
        (error: unknown) => error instanceof InputError && error.message.startsWith(`--timeout is "${text}"`),
      );
    });
  }
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
