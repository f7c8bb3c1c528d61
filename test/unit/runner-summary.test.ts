import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import type { RunnerInfo } from "../../src/buildkit/index.js";
import { describeRunner } from "../../src/report/runner-summary.js";

function versionLine(revision: string): string | undefined {
  const info = {
    endpoint: "tcp://runner:1234",
    version: { package: "github.com/moby/buildkit", version: "v0.32.2", revision, dockerfileVersion: "" },
    platforms: ["linux/amd64"],
    workers: [],
  } as unknown as RunnerInfo;
  return describeRunner(info).find((line) => line.startsWith("BuildKit:"));
}

describe("the runner's description", () => {
  it("prints package, version and revision as buildctl debug info does", () => {
    assert.equal(versionLine("a1b2c3d"), "BuildKit:   github.com/moby/buildkit v0.32.2 a1b2c3d");
  });

  it("prints the version once when the revision is the version, or empty", () => {
    assert.equal(versionLine("v0.32.2"), "BuildKit:   github.com/moby/buildkit v0.32.2");
    assert.equal(versionLine(""), "BuildKit:   github.com/moby/buildkit v0.32.2");
  });
});
