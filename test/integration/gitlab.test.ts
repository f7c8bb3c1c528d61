// GitLab for real: the README's .gitlab-ci.yml run by gitlab-ci-local (npm, installed by
// test/harness/install-gitlab-ci-local.sh) with the shell executor, in a Git repository of its
// own, against the test runner: BUILDKIT_HOST as a variable and the TLS material as File-type
// variables, the log's collapsible sections, the local output as an artifact, the dotenv report
// handed to the next job, and the Dockerfile's check findings as a Code Quality report.
import { beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { CLI_BUNDLE, REPO_ROOT, runProcess } from "../helpers/cli.js";
import { BUSYBOX, run } from "../helpers/contexts.js";
import { tempDir } from "../helpers/temp.js";

const execFileAsync = promisify(execFile);

// Installing gitlab-ci-local the first time takes a while; the pipeline itself seconds.
jest.setTimeout(5 * 60_000);

let runner: RunnerUnderTest;
let gitlabCiLocal: string;

beforeAll(async () => {
  runner = runnerUnderTest();
  const { stdout } = await execFileAsync(
    "bash",
    [join(REPO_ROOT, "test", "harness", "install-gitlab-ci-local.sh")],
    {
      timeout: 4 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  gitlabCiLocal = stdout.trim().split("\n").pop()!;
});

const FILE_VARIABLES = "gitlab-ci-local-file-variables-";

/** The dirs of File-type variables gitlab-ci-local left in the temp dir. */
function fileVariableDirs(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((entry) => entry.startsWith(FILE_VARIABLES)));
}

/**
 * Runs gitlab-ci-local in the project with the shell executor, each job in a copy of the project
 * (--shell-isolation, as a GitLab runner checks out), GITLAB_CI=true as in GitLab. It writes
 * File-type variables (the TLS key among them) under /tmp and leaves them: those of this run are
 * removed.
 */
async function runPipeline(dir: string): Promise<string> {
  const before = fileVariableDirs();
  try {
    const result = await runProcess(
      process.execPath,
      [
        gitlabCiLocal,
        "--force-shell-executor",
        "--shell-isolation",
        "--variable",
        "GITLAB_CI=true",
        "--no-color",
      ],
      {
        // It works in its current directory (--cwd takes relative paths only).
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, GCL_IGNORE_PREDEFINED_VARS: "GITLAB_CI" },
        timeoutMs: 4 * 60_000,
      },
    );
    const log = result.stdout + result.stderr;
    assert.equal(result.code, 0, log);
    return log;
  } finally {
    for (const entry of fileVariableDirs()) {
      if (!before.has(entry)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    }
  }
}

/** The README's GitLab CI example, as the test runs it. */
function readmeGitlabCi(): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const example = /GitLab CI \(the shell executor[^\n]*\n\n```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(example, "the README has a GitLab CI example");
  // The published package is not reachable here (no registry but npm's own, and this version is
  // not published from this machine): the job runs the same bundle from the project instead.
  // test/integration/package.test.ts runs `npx remote-buildkit` from the packed tarball.
  assert.match(example[1]!, /npx remote-buildkit@0 build /);
  return example[1]!.replaceAll("npx remote-buildkit@0 build ", "node dist/cli.mjs build ");
}

/** A Git repository, as a GitLab project: the example's pipeline, the CLI, a Dockerfile and busybox. */
function project(): string {
  const dir = join(tempDir("rb-gitlab-"), "rb-gitlab-project");
  mkdirSync(join(dir, "dist"), { recursive: true });
  writeFileSync(join(dir, ".gitlab-ci.yml"), readmeGitlabCi());
  copyFileSync(CLI_BUNDLE, join(dir, "dist", "cli.mjs"));
  copyFileSync(BUSYBOX, join(dir, "busybox"));
  writeFileSync(
    join(dir, "Dockerfile"),
    [
      // FromAsCasing: the check finding of the Code Quality report, on line 1.
      "FROM scratch as base",
      "COPY busybox /bin/busybox",
      run("echo built in gitlab > /built.txt"),
      "",
    ].join("\n"),
  );
  // The CI/CD variables: the TLS material as File-type ones, whose values are the PEM text.
  const file = (path: string) => ({ type: "file", values: { "*": readFileSync(path, "utf8") } });
  writeFileSync(
    join(dir, ".gitlab-ci-local-variables.yml"),
    stringify({
      BUILDKIT_HOST: runner.tcpAddress,
      BUILDKIT_TLS_CACERT: file(runner.certs.caCert),
      BUILDKIT_TLS_CERT: file(runner.certs.clientCert),
      BUILDKIT_TLS_KEY: file(runner.certs.clientKey),
    }),
  );
  writeFileSync(join(dir, ".gitignore"), ".gitlab-ci-local/\n.gitlab-ci-local-variables.yml\n");
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.invalid", ...args], {
      cwd: dir,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("commit", "-q", "-m", "the project");
  return dir;
}

describe("GitLab CI through gitlab-ci-local", () => {
  it("runs the README's pipeline: sections, the local output as an artifact, dotenv and Code Quality reports", async () => {
    const dir = project();
    await runPipeline(dir);

    // The CLI's groups as GitLab sections: gitlab-ci-local shows a well-formed start marker as
    // NAME_started and its end as "NAME took Nms".
    const buildLog = readFileSync(join(dir, ".gitlab-ci-local", "output", "build.log"), "utf8");
    for (const section of ["remote_buildkit_1", "remote_buildkit_2"]) {
      assert.match(buildLog, new RegExp(`^${section}_started$`, "m"), buildLog);
      assert.match(buildLog, new RegExp(`^${section} took \\d+ms$`, "m"), buildLog);
    }
    assert.match(buildLog, /^#\d+ \[2\/2\] RUN .*built in gitlab/m);

    // The local output, an artifact of the build job, is in the deploy job's directory and back here.
    assert.equal(readFileSync(join(dir, "out", "built.txt"), "utf8"), "built in gitlab\n");

    // The dotenv report reached the next job as variables.
    const deployLog = readFileSync(join(dir, ".gitlab-ci-local", "output", "deploy.log"), "utf8");
    assert.match(deployLog, new RegExp(`built on ${runner.tcpAddress} by BuildKit v\\d+\\.\\d+\\.\\d+`));
    const dotenv = readFileSync(join(dir, "build.env"), "utf8");
    assert.match(dotenv, new RegExp(`^ENDPOINT=${runner.tcpAddress}$`, "m"));
    assert.match(dotenv, /^WORKERS=\[\{"id":/m);
    assert.doesNotMatch(dotenv, /^METADATA=/m);

    // The Dockerfile's check finding as a Code Quality issue on its file and line (gitlab-ci-local
    // keeps the report where the job wrote it: it does not collect Code Quality reports).
    const issues = JSON.parse(
      readFileSync(join(dir, ".gitlab-ci-local", "builds", "build", "gl-code-quality-report.json"), "utf8"),
    ) as Array<{
      check_name: string;
      description: string;
      fingerprint: string;
      severity: string;
      location: { path: string; lines: { begin: number } };
    }>;
    const finding = issues.find((issue) => issue.check_name === "FromAsCasing");
    assert.ok(finding, JSON.stringify(issues));
    assert.deepEqual(finding.location, { path: "Dockerfile", lines: { begin: 1 } });
    assert.equal(finding.severity, "minor");
    assert.match(finding.fingerprint, /^[a-f0-9]{64}$/);
  });
});
