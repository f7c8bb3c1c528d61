// The job's side of a Git context: `git` and {{defaultContext}} as the job's commit on GitHub and
// GitLab, the token given only for the job's Git host (and never over the user's own secret), and
// the Solve request: the URL and vcs attrs for the frontend, no local directory to upload.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { InputError } from "../../src/errors.js";
import { contextInput, gitAuthSecrets, jobCommitUrl } from "../../src/job/git-context.js";
import { planBuild } from "../../src/job/plan.js";
import { solveRequest } from "../../src/job/solve-request.js";
import { inputsOf, type GivenInputs } from "../helpers/inputs.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const GITHUB = {
  GITHUB_SERVER_URL: "https://github.com",
  GITHUB_REPOSITORY: "owner/app",
  GITHUB_SHA: SHA,
};
const GITLAB = {
  CI_SERVER_URL: "https://gitlab.example.test",
  CI_REPOSITORY_URL: "https://gitlab-ci-token:job-token-value@gitlab.example.test/group/app.git",
  CI_COMMIT_SHA: SHA,
  CI_JOB_TOKEN: "job-token-value",
};

async function planned(given: GivenInputs, env: NodeJS.ProcessEnv) {
  const read = await inputsOf(given, { env });
  return planBuild(read.values, read.names, process.cwd());
}

describe("the job's commit as a Git context", () => {
  it("is GitHub's SERVER/REPOSITORY.git#SHA, else GitLab's repository URL without its token", () => {
    assert.equal(jobCommitUrl(GITHUB), `https://github.com/owner/app.git#${SHA}`);
    assert.equal(jobCommitUrl(GITLAB), `https://gitlab.example.test/group/app.git#${SHA}`);
    assert.equal(jobCommitUrl({}), undefined);
  });

  it("takes `git`, {{defaultContext}} with a subdir, and a Git URL; anything else is a directory", () => {
    assert.deepEqual(contextInput("git", GITHUB, "input context"), {
      kind: "git",
      url: `https://github.com/owner/app.git#${SHA}`,
    });
    assert.deepEqual(contextInput("{{ defaultContext }}:docker", GITHUB, "input context"), {
      kind: "git",
      url: `https://github.com/owner/app.git#${SHA}:docker`,
    });
    assert.deepEqual(contextInput("git@example.test:o/r.git#main", {}, "input context"), {
      kind: "git",
      url: "git@example.test:o/r.git#main",
    });
    assert.deepEqual(contextInput("./app", GITHUB, "input context"), { kind: "dir", path: "./app" });
    assert.throws(
      () => contextInput("git", {}, "input context"),
      (error: Error) =>
        error instanceof InputError && /^input context "git" means the job's own commit/.test(error.message),
    );
  });
});

describe("the token for the job's Git host", () => {
  const given = new Set<string>();
  it("goes as GIT_AUTH_TOKEN.<host> only when a Git URL of the build is on GITHUB_SERVER_URL's host", () => {
    const urls = [`https://github.com/owner/app.git#${SHA}`, "https://other.test/x.git"];
    assert.deepEqual(
      [...gitAuthSecrets(urls, { env: GITHUB, githubToken: "ghs_x", given })],
      [["GIT_AUTH_TOKEN.github.com", "ghs_x"]],
    );
    assert.equal(
      gitAuthSecrets(["https://other.test/x.git"], { env: GITHUB, githubToken: "ghs_x", given }).size,
      0,
    );
    assert.equal(
      gitAuthSecrets(["./dir", "docker-image://alpine"], { env: GITHUB, githubToken: "t", given }).size,
      0,
    );
  });

  it("leaves a secret of that id the user gave alone", () => {
    const urls = [`https://github.com/owner/app.git#${SHA}`];
    const own = new Set(["GIT_AUTH_TOKEN.github.com"]);
    assert.equal(gitAuthSecrets(urls, { env: GITHUB, githubToken: "ghs_x", given: own }).size, 0);
  });

  it("on GitLab is the job token as gitlab-ci-token, in GIT_AUTH_HEADER.<host>", () => {
    const secrets = gitAuthSecrets([jobCommitUrl(GITLAB)!], { env: GITLAB, given });
    const basic = Buffer.from("gitlab-ci-token:job-token-value").toString("base64");
    assert.deepEqual([...secrets], [["GIT_AUTH_HEADER.gitlab.example.test", `basic ${basic}`]]);
  });
});

describe("the Solve request of a Git context", () => {
  it("sends the URL, the Dockerfile's path in it and vcs attrs, and no local directory", async () => {
    const plan = await planned({ context: "{{defaultContext}}:app", file: "./docker/Dockerfile" }, GITHUB);
    const request = solveRequest({
      plan,
      exporters: [],
      attestations: {},
      cache: { imports: [], exports: [] },
    });
    assert.deepEqual(request.localDirs, {});
    assert.equal(request.frontendAttrs.context, `https://github.com/owner/app.git#${SHA}:app`);
    assert.equal(request.frontendAttrs.filename, "docker/Dockerfile");
    assert.equal(request.frontendAttrs["vcs:source"], "https://github.com/owner/app.git");
    assert.equal(request.frontendAttrs["vcs:revision"], SHA);
  });

  it("has no vcs:revision for a branch, and never a token in an attr", async () => {
    const plan = await planned({ context: "https://example.test/o/r.git#main" }, GITHUB);
    const attrs = solveRequest({
      plan,
      exporters: [],
      attestations: {},
      cache: { imports: [], exports: [] },
    }).frontendAttrs;
    assert.equal(attrs["vcs:source"], "https://example.test/o/r.git");
    assert.equal(attrs["vcs:revision"], undefined);
  });

  it("refuses a Dockerfile outside the repository and a URL with credentials", async () => {
    await assert.rejects(
      () => planned({ context: "git", file: "../Dockerfile" }, GITHUB),
      /must be a path inside the Git context/,
    );
    await assert.rejects(
      () => planned({ context: "https://user:secret-pass@example.test/o/r.git" }, GITHUB),
      (error: Error) => error instanceof InputError && !error.message.includes("secret-pass"),
    );
  });
});
