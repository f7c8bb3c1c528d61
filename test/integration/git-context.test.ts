// Git contexts against the real runner, served on loopback (test/harness/git-server.ts): the runner
// fetches the repository itself (no FileSync in our session, so nothing can be uploaded), from
// git daemon, and from git http-backend with the token given by our Secrets service as
// GIT_AUTH_TOKEN.<host:port>; a wrong token fails with a sentence that does not contain it.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { git } from "../helpers/git.js";
import { tempDir } from "../helpers/temp.js";
import {
  describeGitFetchFailure,
  gitAuthSecretIds,
  gitContextAttrs,
  RpcError,
  type BuildkitClient,
} from "../../src/buildkit/index.js";
import { healthService } from "../../src/buildkit/session/health.js";
import { secretsService } from "../../src/buildkit/session/secrets.js";
import { Session } from "../../src/buildkit/session/tunnel.js";
import { solve } from "../../src/buildkit/solve.js";
import { connectionFlags, runnerUnderTest } from "../harness/env.js";
import {
  startGitDaemon,
  startGitHttpServer,
  type GitServer,
  type HttpGitServer,
} from "../harness/git-server.js";
import { cleanEnv, isOneSentence, runCli } from "../helpers/cli.js";
import { testRunnerClient } from "../helpers/client.js";
import { BUSYBOX, makeContext, run } from "../helpers/contexts.js";

const TOKEN = `tok-${randomBytes(12).toString("hex")}`;

let client: BuildkitClient;
let daemon: GitServer;
let http: HttpGitServer;
let commit: string;

/** A repository whose app/ holds a Dockerfile and busybox; the build prints a marker. */
function repositoryFiles(marker: string): Record<string, string | Buffer> {
  return {
    "app/Dockerfile": ["FROM scratch", "COPY busybox /bin/busybox", run(`echo ${marker}`)].join("\n"),
    "app/busybox": readFileSync(BUSYBOX),
    "README.md": "not part of the app/ context\n",
  };
}

beforeAll(async () => {
  client = testRunnerClient(runnerUnderTest());
  daemon = await startGitDaemon();
  http = await startGitHttpServer(TOKEN);
  commit = daemon.addRepository("repo.git", repositoryFiles("built-from-git-daemon"));
  http.addRepository("repo.git", repositoryFiles("built-from-http-backend"));
});
afterAll(async () => {
  client?.close();
  await daemon?.stop();
  await http?.stop();
});

interface Outcome {
  log: string;
  vertices: string[];
  requestedSecrets: string[];
  error?: Error;
}

/** Builds the Git context `url` with a session that has no FileSync: only health and secrets. */
async function buildFromGit(url: string, secrets: Map<string, Uint8Array>): Promise<Outcome> {
  const signal = AbortSignal.timeout(3 * 60_000);
  const requestedSecrets: string[] = [];
  const session = new Session(client, {
    sharedKey: "git-context-test",
    services: [healthService(), secretsService(secrets, { onRequest: (id) => requestedSecrets.push(id) })],
    signal,
  });
  const outcome: Outcome = { log: "", vertices: [], requestedSecrets };
  try {
    await solve(client, {
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: { ...gitContextAttrs(url), "no-cache": "" },
      exporters: [],
      onStatus: (status) => {
        for (const vertex of status.vertexes) outcome.vertices.push(vertex.name);
        for (const entry of status.logs) outcome.log += Buffer.from(entry.msg).toString("utf8");
      },
      signal,
    });
  } catch (error) {
    outcome.error = error as Error;
  } finally {
    session.close();
  }
  return outcome;
}

/** Nothing of ours was transferred: no local source, no "transferring" line. */
function assertNothingUploaded(outcome: Outcome): void {
  assert.ok(
    !outcome.vertices.some((name) => /load build context|\[internal\] load build definition/.test(name)),
  );
  assert.doesNotMatch(outcome.log, /transferring/);
}

/** A local output's provenance.json (SLSA provenance v1, as the runner writes it by default): its text and vcs. */
function provenanceVcs(outputDir: string): { text: string; vcs?: Record<string, string> } {
  const text = readFileSync(join(outputDir, "provenance.json"), "utf8");
  const provenance = JSON.parse(text) as {
    predicate: { runDetails: { metadata: { buildkit_metadata?: { vcs?: Record<string, string> } } } };
  };
  return { text, vcs: provenance.predicate.runDetails.metadata.buildkit_metadata?.vcs };
}

describe("Git context from git daemon", () => {
  it("builds app/ at main without uploading anything", async () => {
    const url = `${daemon.baseUrl}/repo.git#main:app`;
    const outcome = await buildFromGit(url, new Map());
    assert.equal(outcome.error, undefined, outcome.log);
    assert.ok(
      outcome.vertices.some((name) => name.includes(`load git source ${daemon.baseUrl}/repo.git#main:app`)),
      outcome.vertices.join("\n"),
    );
    assert.match(outcome.log, /built-from-git-daemon/);
    assertNothingUploaded(outcome);
  });

  it("builds a pinned commit", async () => {
    const outcome = await buildFromGit(`${daemon.baseUrl}/repo.git#${commit}:app`, new Map());
    assert.equal(outcome.error, undefined, outcome.log);
    assert.match(outcome.log, /built-from-git-daemon/);
  });
});

describe("Git context from git http-backend with a token", () => {
  it("gets the token from our Secrets service as GIT_AUTH_TOKEN.<host:port>, after NotFound for the header", async () => {
    const url = `${http.baseUrl}/repo.git#main:app`;
    const ids = gitAuthSecretIds(url);
    assert.deepEqual(ids, {
      token: `GIT_AUTH_TOKEN.${http.hostPort}`,
      header: `GIT_AUTH_HEADER.${http.hostPort}`,
    });
    http.requests.length = 0;
    const outcome = await buildFromGit(url, new Map([[ids.token, new TextEncoder().encode(TOKEN)]]));
    assert.equal(outcome.error, undefined, outcome.log);
    assert.match(outcome.log, /built-from-http-backend/);
    assertNothingUploaded(outcome);
    // The runner asks for the host's header first (we answer NotFound), then the host's token.
    const asked = [...new Set(outcome.requestedSecrets)];
    assert.deepEqual(asked.slice(0, 2), [ids.header, ids.token], asked.join(", "));
    // The server saw the token, as x-access-token, on every request it answered.
    const answered = http.requests.filter((request) => request.tokenMatched);
    assert.ok(answered.length > 0);
    assert.ok(answered.every((request) => request.user === "x-access-token"));
  });

  it("a wrong token fails with one sentence that names the host and does not contain the token", async () => {
    const wrong = `wrong-${randomBytes(12).toString("hex")}`;
    const url = `${http.baseUrl}/repo.git#main:app`;
    const outcome = await buildFromGit(
      url,
      new Map([[gitAuthSecretIds(url).token, new TextEncoder().encode(wrong)]]),
    );
    assert.ok(outcome.error instanceof RpcError, `${outcome.error?.name}: ${outcome.error?.message}`);
    assert.ok(!outcome.error.message.includes(wrong), "the runner's message holds no token");
    assert.ok(!outcome.log.includes(wrong), "the log holds no token");
    const sentence = describeGitFetchFailure(outcome.error.message);
    assert.equal(
      sentence,
      `The runner could not fetch the Git context from ${http.baseUrl}/repo.git: the server refused it without valid credentials; give a token for ${http.hostPort} (the secret GIT_AUTH_TOKEN.${http.hostPort}) that can read the repository.`,
    );
    assert.ok(http.requests.some((request) => request.user === "x-access-token" && !request.tokenMatched));
  });

  it("refuses a Git URL with the token in it before sending anything", () => {
    const url = `http://x-access-token:${TOKEN}@${http.hostPort}/repo.git#main:app`;
    assert.throws(
      () => gitContextAttrs(url),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`^The Git URL for ${http.hostPort} carries credentials; give the token as a secret`),
        );
        assert.ok(!error.message.includes(TOKEN));
        return true;
      },
    );
  });
});

describe("the CLI with a Git context", () => {
  let jobCommit: string;
  beforeAll(() => {
    // The job's own repository, as GitHub names it: SERVER/OWNER/REPO.git at the job's commit.
    jobCommit = http.addRepository("owner/app.git", {
      ...repositoryFiles("built-from-the-jobs-commit"),
      Dockerfile: ["FROM scratch", "COPY app/busybox /bin/busybox", run("echo built-from-the-root")].join(
        "\n",
      ),
    });
    http.addRepository("owner/extra.git", { "extra.txt": "from-the-extra-repository\n" });
  });

  /** The variables of a GitHub job whose repository is owner/app on the HTTP server. */
  const jobEnv = (token: string, repository = "owner/app", sha = jobCommit) =>
    cleanEnv({
      GITHUB_SERVER_URL: http.baseUrl,
      GITHUB_REPOSITORY: repository,
      GITHUB_SHA: sha,
      GITHUB_TOKEN: token,
    });
  const build = (args: string[], env: NodeJS.ProcessEnv) =>
    runCli(["build", ...connectionFlags(runnerUnderTest()), "--no-cache", ...args], env);

  /** Nothing of this machine went to the runner: no local context was loaded or transferred. */
  const assertNothingSent = (log: string) => {
    assert.doesNotMatch(log, /load build context|load build definition from Dockerfile|transferring/);
  };

  it("builds {{defaultContext}}:app, the job's commit, with the job's token and nothing uploaded", async () => {
    http.requests.length = 0;
    const result = await build(["{{defaultContext}}:app"], jobEnv(TOKEN));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /built-from-the-jobs-commit/);
    assert.ok(result.stderr.includes(`load git source ${http.baseUrl}/owner/app.git#${jobCommit}:app`));
    assertNothingSent(result.stderr);
    assert.ok(!result.stderr.includes(TOKEN));
    const answered = http.requests.filter((request) => request.tokenMatched);
    assert.ok(answered.length > 0 && answered.every((request) => request.user === "x-access-token"));
  });

  it("records the repository and the commit in the provenance", async () => {
    const out = tempDir("rb-git-provenance-");
    const result = await build(
      ["--provenance", "mode=max", "-o", `type=local,dest=${out}`, "{{defaultContext}}:app"],
      jobEnv(TOKEN),
    );
    assert.equal(result.code, 0, result.stderr);
    const { text, vcs } = provenanceVcs(out);
    assert.equal(vcs?.source, `${http.baseUrl}/owner/app.git`);
    assert.equal(vcs?.revision, jobCommit);
    assert.ok(!text.includes(TOKEN));
  });

  it("in GitLab CI builds `git` with the job token as user gitlab-ci-token, not from the URL", async () => {
    // A repository the runner has not fetched yet, so that the fetch happens.
    const commit = http.addRepository("group/gitlab-app.git", repositoryFiles("built-in-gitlab-ci"));
    http.requests.length = 0;
    const result = await build(
      ["{{defaultContext}}:app"],
      cleanEnv({
        GITLAB_CI: "true",
        CI_SERVER_URL: http.baseUrl,
        // GitLab puts the job token in this URL; it must not reach the runner from there.
        CI_REPOSITORY_URL: `http://gitlab-ci-token:${TOKEN}@${http.hostPort}/group/gitlab-app.git`,
        CI_COMMIT_SHA: commit,
        CI_JOB_TOKEN: TOKEN,
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /built-in-gitlab-ci/);
    assert.ok(!result.stderr.includes(TOKEN));
    const answered = http.requests.filter((request) => request.tokenMatched);
    assert.ok(answered.length > 0 && answered.every((request) => request.user === "gitlab-ci-token"));
  });

  it("builds `git` with a Dockerfile path in the repository", async () => {
    const result = await build(["-f", "Dockerfile", "git"], jobEnv(TOKEN));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /built-from-the-root/);
    assertNothingSent(result.stderr);
  });

  it("gives the token to a Git URL of build-contexts on the job's host too", async () => {
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        "COPY --from=extra extra.txt /",
        run("cat /extra.txt"),
      ].join("\n"),
    });
    const result = await build(
      ["--build-context", `extra=${http.baseUrl}/owner/extra.git#main`, context],
      jobEnv(TOKEN),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /from-the-extra-repository/);
  });

  it("builds a git:// URL that needs no token", async () => {
    const result = await build([`${daemon.baseUrl}/repo.git#main:app`], cleanEnv());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /built-from-git-daemon/);
    assertNothingSent(result.stderr);
  });

  it("fails with a wrong token in one sentence that names the host and not the token", async () => {
    const wrong = `wrong-${randomBytes(12).toString("hex")}`;
    // A repository the runner never fetched, so that nothing cached stands in for the fetch.
    const commit = http.addRepository("owner/unfetched.git", repositoryFiles("never-built"));
    const result = await build(["git"], jobEnv(wrong, "owner/unfetched", commit));
    assert.equal(result.code, 1, result.stderr);
    const last = result.stderr.trim().split("\n").at(-1)!;
    assert.equal(
      last,
      `error: The runner could not fetch the Git context from ${http.baseUrl}/owner/unfetched.git: the server refused it without valid credentials; give a token for ${http.hostPort} (the secret GIT_AUTH_TOKEN.${http.hostPort}) that can read the repository.`,
    );
    assert.ok(!result.stderr.includes(wrong));
  });

  it("refuses `git` outside a CI job, and a URL with a token in it, before connecting", async () => {
    const outside = await build(["git"], cleanEnv());
    assert.equal(outside.code, 2);
    assert.ok(isOneSentence(outside.stderr), outside.stderr);
    assert.match(outside.stderr, /^error: The context "git" means the job's own commit, but/);
    const withToken = await build(
      [`http://x-access-token:${TOKEN}@${http.hostPort}/owner/app.git#main`],
      cleanEnv(),
    );
    assert.equal(withToken.code, 2);
    assert.ok(isOneSentence(withToken.stderr), withToken.stderr);
    assert.ok(!withToken.stderr.includes(TOKEN));
  });
});

describe("the CLI with a local context in a Git checkout", () => {
  it("records the checkout's remote and commit in the provenance, as buildx does", async () => {
    const root = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo from-a-checkout")].join("\n"),
    });
    git(root, "init", "-q", "-b", "main");
    git(root, "add", "-A");
    git(root, "commit", "-q", "-m", "c");
    git(root, "remote", "add", "origin", `https://x-access-token:${TOKEN}@example.test/o/r.git`);
    const commit = git(root, "rev-parse", "HEAD");
    const out = tempDir("rb-checkout-provenance-");
    const result = await runCli(
      [
        "build",
        ...connectionFlags(runnerUnderTest()),
        "--provenance",
        "mode=max",
        "-o",
        `type=local,dest=${out}`,
        root,
      ],
      cleanEnv({}),
    );
    assert.equal(result.code, 0, result.stderr);
    const { text, vcs } = provenanceVcs(out);
    assert.equal(vcs?.source, "https://example.test/o/r.git");
    assert.equal(vcs?.revision, commit);
    assert.ok(!text.includes(TOKEN));
  });
});
