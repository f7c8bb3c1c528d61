// A runner started by a user who is not root. As on GitHub's hosted runners (the `runner` user
// with passwordless sudo): buildkitd runs as root through `sudo -n`. Without sudo: rootless, in
// rootlesskit's user namespace. The bundles run as real second users of this machine, and the
// runner's state (files of root, or of the user's subordinate ids) is kept, cleared and tarred
// the same way. Without either, one sentence. Creating the users needs root (CI is root).
import { beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { runnerUnderTest } from "../harness/env.js";
import { ensureTestUsers, type TestUser } from "../harness/users.js";
import { parseFileCommand, REPO_ROOT, runProcess, type ProcessResult } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { buildkitdRunsOn } from "../helpers/processes.js";
import { escapeRegExp } from "../helpers/regex.js";
import { postStepEnv, stepFiles, toolCacheWith } from "../helpers/actions-runner.js";
import { tempDir } from "../helpers/temp.js";
import { BUILDKIT_VERSION } from "../../src/version.js";

const MINUTE = 60_000;
const isRoot = process.getuid?.() === 0;
/** Creating the test users needs root: without it, the tests are skipped. */
const describeAsRoot = isRoot ? describe : describe.skip;

// Each test and hook here has 8 minutes.
jest.setTimeout(8 * MINUTE);

let users: { sudo: TestUser; plain: TestUser };
/** World-readable: the bundles, the harness's binaries, the contexts. */
let shared: string;
let binDir: string;

beforeAll(() => {
  if (!isRoot) return;
  users = ensureTestUsers();
  shared = tempDir("rb-sudo-");
  chmodSync(shared, 0o755);
  // The user cannot read the repo or root's cache dir (mode 0700): copies of what it runs.
  for (const bundle of ["cli.mjs", "cli-program.mjs", "main.mjs", "post.mjs", "github-toolkit.mjs"]) {
    copyFileSync(join(REPO_ROOT, "dist", bundle), join(shared, bundle));
  }
  binDir = join(shared, "bin");
  mkdirSync(binDir);
  for (const binary of ["buildkitd", "buildctl"]) {
    copyFileSync(join(runnerUnderTest().binDir, binary), join(binDir, binary));
  }
  execFileSync("chmod", ["-R", "a+rX", shared]);
});

/** A fresh home (with its cache dir) for one test, owned by the user. */
function freshHome(user: TestUser): string {
  const home = mkdtempSync(join(shared, `home-${user.name}-`));
  chownSync(home, user.uid, user.gid);
  return home;
}

/** A context the users can read. */
function sharedContext(files: Record<string, string>): string {
  const dir = makeContext(files);
  const copy = mkdtempSync(join(shared, "context-"));
  cpSync(dir, copy, { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  execFileSync("chmod", ["-R", "a+rX", copy]);
  return copy;
}

/** Runs node with `args` as `user`, with exactly `env` (runuser would keep ours). */
function runAs(
  user: TestUser,
  args: string[],
  env: Record<string, string>,
  cwd = shared,
): Promise<ProcessResult> {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return runProcess(
    "runuser",
    ["-u", user.name, "--", "env", "-i", ...assignments, process.execPath, ...args],
    {
      cwd,
      timeoutMs: 3 * MINUTE,
    },
  );
}

/** The real uid of a process, from /proc. */
function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("Uid:"))!;
  return Number(line.split(/\s+/)[1]);
}

const PATH = (dir: string) => `${dir}:/usr/sbin:/usr/bin:/sbin:/bin`;

interface Way {
  user: () => TestUser;
  /** How the log says buildkitd was started. */
  started: string;
  /** The owner of buildkitd's files (root through sudo; the user itself, rootless). */
  stateOwner: () => number;
  /** The saved pid's process: buildkitd itself through sudo, rootlesskit rootless. */
  process: { command: string; uid: () => number };
}

const WAYS: Record<string, Way> = {
  "through sudo": {
    user: () => users.sudo,
    started: "through sudo",
    stateOwner: () => 0,
    process: { command: "buildkitd", uid: () => 0 },
  },
  "rootless, without sudo": {
    user: () => users.plain,
    started: "rootless (rootlesskit)",
    stateOwner: () => users.plain.uid,
    process: { command: "rootlesskit", uid: () => users.plain.uid },
  },
};

describeAsRoot("a runner started by a user who is not root", () => {
  for (const [name, way] of Object.entries(WAYS)) {
    it(`${name}: the CLI starts buildkitd, builds, stops it, builds from its kept cache, and starts afresh on a broken one`, async () => {
      const user = way.user();
      const home = freshHome(user);
      const env = { HOME: home, PATH: PATH(binDir) };
      const context = sharedContext({
        Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo built")].join("\n"),
      });
      const build = () => runAs(user, [join(shared, "cli.mjs"), "build", context], env);

      const first = await build();
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, new RegExp(`Started buildkitd ${escapeRegExp(way.started)} \\(pid \\d+\\)`));
      assert.match(first.stderr, /^#\d+ \d+\.\d+ built$/m);
      const stateDir = join(home, ".cache", "remote-buildkit", "state", `buildkit-v${BUILDKIT_VERSION}`);
      assert.equal(statSync(join(stateDir, "cache.db")).uid, way.stateOwner());
      assert.equal(buildkitdRunsOn(stateDir), false, "the started buildkitd is stopped after the command");

      const second = await build();
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /^#\d+ \[2\/2\] RUN .*\n#\d+ CACHED$/m);
      assert.equal(buildkitdRunsOn(stateDir), false);

      // A state buildkitd cannot start on (its snapshots directory is a file): cleared, with the
      // directories buildkitd made in it (root's, mode 0700, through sudo), and started afresh.
      const snapshots = join(stateDir, "runc-overlayfs", "snapshots");
      rmSync(snapshots, { recursive: true, force: true });
      writeFileSync(snapshots, "not a directory");
      const third = await build();
      assert.equal(third.code, 0, third.stderr);
      assert.match(
        third.stderr,
        /^warning: buildkitd did not start on its state in .*; starting with an empty cache\.$/m,
      );
      assert.match(third.stderr, /^#\d+ \d+\.\d+ built$/m, "built again, not from the broken cache");
      assert.equal(buildkitdRunsOn(stateDir), false);
      assert.equal(statSync(snapshots).isDirectory(), true, "the broken state was cleared");
    });

    it(`${name}: the action's main step starts buildkitd; the post step stops it and tars its state`, async () => {
      const user = way.user();
      const home = freshHome(user);
      const toolCache = toolCacheWith(binDir, BUILDKIT_VERSION, join(home, "toolcache"));
      const workspace = join(home, "workspace");
      cpSync(join(REPO_ROOT, "examples", "hello"), join(workspace, "hello"), { recursive: true });
      const runnerTemp = join(home, "temp");
      mkdirSync(runnerTemp);
      const files = stepFiles(home);
      execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, home]);
      const env: Record<string, string> = {
        HOME: home,
        PATH: PATH("/nonexistent"),
        ...files.env,
        GITHUB_WORKSPACE: workspace,
        GITHUB_ACTIONS: "true",
        RUNNER_TOOL_CACHE: toolCache,
        RUNNER_TEMP: runnerTemp,
        INPUT_CONTEXT: "hello",
        "INPUT_BUILDKIT-VERSION": `v${BUILDKIT_VERSION}`,
      };

      const main = await runAs(user, [join(shared, "main.mjs")], env, workspace);
      assert.equal(main.code, 0, main.stdout);
      assert.match(main.stdout, new RegExp(`Started buildkitd ${escapeRegExp(way.started)}`));
      assert.match(main.stdout, /^#\d+ \[1\/1\] COPY hello.txt \/hello.txt$/m);
      const state = parseFileCommand(readFileSync(files.state, "utf8"));
      const pid = Number(state["runner-pid"]);
      assert.equal(readFileSync(`/proc/${pid}/comm`, "utf8").trim(), way.process.command);
      assert.equal(uidOf(pid), way.process.uid());

      const post = await runAs(user, [join(shared, "post.mjs")], postStepEnv(env, files.state), workspace);
      assert.equal(post.code, 0, post.stdout);
      assert.match(
        post.stdout,
        new RegExp(`Stopped the BuildKit runner the main step started \\(pid ${pid}\\)`),
      );
      assert.equal(existsSync(`/proc/${pid}`), false, "the post step stopped the runner");
      assert.equal(buildkitdRunsOn(join(runnerTemp, "remote-buildkit-state")), false);
      assert.equal(existsSync(state["runner-runtime-dir"]!), false);
      // GitHub's cache service cannot run here: the tarball is made (as root), and then the
      // upload fails for want of the service, not for want of permissions.
      assert.match(post.stdout, /^::warning::The runner's cache was not saved: GitHub's cache service/m);
      assert.doesNotMatch(post.stdout, /Saved the runner's cache|cannot be saved to|Permission denied/);
    });
  }

  /** The CLI's build as the plain user with only `dirs` on PATH; asserts a refusal before any start. */
  async function refusedBuild(dirs: string[]): Promise<string> {
    const user = users.plain;
    const context = sharedContext({ Dockerfile: "FROM scratch\n" });
    const result = await runAs(user, [join(shared, "cli.mjs"), "build", context], {
      HOME: freshHome(user),
      PATH: dirs.join(":"),
    });
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    // Refused before looking for buildkitd or touching a state dir.
    assert.doesNotMatch(result.stderr, /^warning:|Using buildkitd/m);
    return result.stderr;
  }

  it("a user without root, sudo or rootlesskit gets one sentence saying what is needed", async () => {
    // Only the release's binaries on PATH: no sudo, no rootlesskit.
    assert.match(
      await refusedBuild([binDir]),
      /^error: Starting a BuildKit runner needs root, passwordless sudo \(sudo -n\) or rootlesskit with user namespaces, and rootlesskit is not on PATH; run as root, allow sudo, install rootlesskit and uidmap, or give a runner endpoint\.$/m,
    );
  });

  it("a rootlesskit that cannot run (no newuidmap) is named with its reason", async () => {
    const onlyRootlesskit = mkdtempSync(join(shared, "only-rootlesskit-"));
    symlinkSync(
      execFileSync("sh", ["-c", "command -v rootlesskit"]).toString().trim(),
      join(onlyRootlesskit, "rootlesskit"),
    );
    chmodSync(onlyRootlesskit, 0o755);
    assert.match(
      await refusedBuild([onlyRootlesskit, binDir]),
      /^error: Starting a BuildKit runner needs root, passwordless sudo \(sudo -n\) or rootlesskit with user namespaces, and rootlesskit cannot run here \(.*newuidmap.*\); run as root, allow sudo, install rootlesskit and uidmap, or give a runner endpoint\.$/m,
    );
  });
});
