// What uploadOutputArtifacts refuses before it reaches the artifact service, and the artifact URL.
// The upload itself is tested against act's artifact server in test/integration/artifacts.test.ts.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../src/errors.js";
import { ArtifactError, artifactUrl, uploadOutputArtifacts } from "../../src/github/artifacts.js";
import { tempDir } from "../helpers/temp.js";

// A job's variables, enough to pass the service check; nothing listens at this URL.
const JOB_ENV = { ACTIONS_RUNTIME_TOKEN: "token", ACTIONS_RESULTS_URL: "http://127.0.0.1:9/" };

function outputDir(): string {
  const dir = tempDir("rb-artifact-unit-");
  mkdirSync(join(dir, "out"));
  writeFileSync(join(dir, "out", "a.txt"), "a");
  return dir;
}

describe("uploadOutputArtifacts", () => {
  it("refuses a name the artifact service refuses, naming the input", async () => {
    const dir = outputDir();
    await assert.rejects(
      uploadOutputArtifacts([{ kind: "dir", path: join(dir, "out") }], {
        name: "a/b",
        nameInput: "input artifact-name",
        env: JOB_ENV,
      }),
      (error: Error) =>
        error instanceof InputError &&
        error.message === 'input artifact-name "a/b" contains a slash, which artifact names may not hold.',
    );
  });

  it("refuses a retention outside 1 to 90 days", async () => {
    await assert.rejects(
      uploadOutputArtifacts([], {
        name: "x",
        retentionDays: 91,
        retentionInput: "input artifact-retention-days",
        env: JOB_ENV,
      }),
      /^InputError: input artifact-retention-days must be a whole number of days from 1 to 90, not 91\.$/,
    );
  });

  it("says in one sentence that there is no artifact service outside a job", async () => {
    const dir = outputDir();
    await assert.rejects(
      uploadOutputArtifacts([{ kind: "dir", path: join(dir, "out") }], { name: "x", env: {} }),
      (error: Error) =>
        error instanceof ArtifactError &&
        /^The artifact service is not available to this step \(ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are not set\): .*\.$/.test(
          error.message,
        ),
    );
  });

  it("refuses GitHub Enterprise Server, which has no v4 artifact service", async () => {
    await assert.rejects(
      uploadOutputArtifacts([], {
        name: "x",
        env: { ...JOB_ENV, GITHUB_SERVER_URL: "https://git.example.com" },
      }),
      /^ArtifactError: GitHub Enterprise Server \(git\.example\.com\) does not offer/,
    );
  });

  it("refuses an output that is not there, and an empty one", async () => {
    const dir = outputDir();
    await assert.rejects(
      uploadOutputArtifacts([{ kind: "file", path: join(dir, "missing.tar") }], { name: "x", env: JOB_ENV }),
      /^ArtifactError: The tar output .*missing\.tar is not a file on this machine\.$/,
    );
    mkdirSync(join(dir, "empty"));
    await assert.rejects(
      uploadOutputArtifacts([{ kind: "dir", path: join(dir, "empty") }], { name: "x", env: JOB_ENV }),
      /^ArtifactError: The outputs at .*empty hold no files to upload\.$/,
    );
  });

  it("refuses a file name the artifact service refuses before uploading anything", async () => {
    const dir = outputDir();
    writeFileSync(join(dir, "out", "a:b"), "");
    await assert.rejects(
      uploadOutputArtifacts([{ kind: "dir", path: join(dir, "out") }], { name: "x", env: JOB_ENV }),
      /^ArtifactError: The output file "a:b" contains a colon, which the artifact service refuses in paths/,
    );
  });

  it("stops at once when aborted", async () => {
    const dir = outputDir();
    await assert.rejects(
      uploadOutputArtifacts([{ kind: "dir", path: join(dir, "out") }], {
        name: "x",
        env: JOB_ENV,
        signal: AbortSignal.abort(),
      }),
      { name: "AbortError" },
    );
  });
});

describe("artifactUrl", () => {
  it("is the artifact's page, as GitHub links it", () => {
    const env = { GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "o/r", GITHUB_RUN_ID: "7" };
    assert.equal(artifactUrl(42, env), "https://github.com/o/r/actions/runs/7/artifacts/42");
  });

  it("is empty when the job's variables do not say where", () => {
    assert.equal(artifactUrl(42, { GITHUB_SERVER_URL: "https://github.com" }), "");
  });
});
