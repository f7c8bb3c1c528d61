import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { InputError } from "../../src/errors.js";
import { comparableVersion, parseVersionPin, versionPinMismatch } from "../../src/runner/version-pin.js";
import { BUILDKIT_VERSION } from "../../src/version.js";

const ENDPOINT = "tcp://runner:1234";

/** Whether `pin` (as a user writes it) is met by a runner reporting `reported`: the sentence, or undefined. */
async function mismatch(pin: string, reported: string | undefined): Promise<string | undefined> {
  return versionPinMismatch(await parseVersionPin(pin, "pin"), reported, ENDPOINT);
}

describe("version pin", () => {
  it("meets an exact pin with or without the v", async () => {
    assert.equal(await mismatch("v0.32.2", "v0.32.2"), undefined);
    assert.equal(await mismatch("0.32.2", "v0.32.2"), undefined);
  });

  it("meets ranges", async () => {
    assert.equal(await mismatch(">=0.30 <0.33", "v0.32.2"), undefined);
    assert.equal(await mismatch("^0.32", "v0.32.9"), undefined);
    assert.equal(await mismatch("0.32", "v0.32.0"), undefined);
  });

  it("counts a release candidate inside a range", async () => {
    assert.equal(await mismatch(">=0.32", "v0.33.0-rc1"), undefined);
  });

  it("names both versions when the pin is missed", async () => {
    assert.equal(
      await mismatch("v0.31.0", "v0.32.2"),
      "The runner at tcp://runner:1234 runs BuildKit v0.32.2, but the pin requires v0.31.0.",
    );
  });

  it("cannot meet a pin when the runner reports no release version", async () => {
    assert.match(
      (await mismatch(">=0.1", "v0.0.0+unknown"))!,
      /reports BuildKit version "v0\.0\.0\+unknown", which is not a release version/,
    );
    assert.match((await mismatch(">=0.1", undefined))!, /older than BuildKit v0\.11 and reports no version/);
  });

  it("refuses a pin that is neither a version nor a range", async () => {
    await assert.rejects(
      () => parseVersionPin("latest-ish", "--buildkit-version"),
      (error: unknown) =>
        error instanceof InputError &&
        error.message ===
          `--buildkit-version is "latest-ish", which is neither a version (v${BUILDKIT_VERSION}) nor a semver range (>=0.30 <0.33).`,
    );
  });

  it("reads the versions runners report", async () => {
    assert.equal(await comparableVersion("v0.32.2"), "0.32.2");
    assert.equal(await comparableVersion("v0.13.0-beta.1"), "0.13.0-beta.1");
    assert.equal(await comparableVersion("v0.0.0+unknown"), undefined);
  });
});
