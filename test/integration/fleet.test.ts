// A fleet of three dedicated runners: affinity routing sends a project to the same runner every
// time (its second build is all cache), spreads projects over the runners, and moves only a lost
// runner's projects; a runner with a build in flight at max-parallelism 1 is passed over; every
// runner busy → a bounded wait; every runner down with fallback local → a local runner builds it;
// info and the job summary list every runner with its load.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { parseEndpoint } from "../../src/buildkit/index.js";
import { runnerInputNames } from "../../src/job/request.js";
import { buildSummaryMarkdown } from "../../src/report/build-summary.js";
import { defaultAffinityKey, rankByAffinity } from "../../src/runner/affinity.js";
import { resolvePool, type PoolOptions, type RunnerCandidate } from "../../src/runner/pool.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { postStepEnv, stepFiles, toolCacheWith } from "../helpers/actions-runner.js";
import { cleanEnv, parseFileCommand, REPO_ROOT, runCli, runProcess } from "../helpers/cli.js";
import { holdBuild, waitForBuildsInFlight } from "../helpers/held-build.js";
import { makeContext, run } from "../helpers/contexts.js";
import { inputsOf } from "../helpers/inputs.js";
import { buildkitdRunsOn } from "../helpers/processes.js";
import { recorder } from "../helpers/reporter.js";
import { tempDir } from "../helpers/temp.js";

// Each test and hook here has 5 minutes.
jest.setTimeout(5 * 60_000);

const NAMES = ["runner-a", "runner-b", "runner-c"];
/** The runner inputs' names as the CLI's sentences say them. */
const INPUT_NAMES = runnerInputNames(await inputsOf({}, { adapter: "cli", command: "build" }));
let runners: TestRunner[] = [];

beforeAll(async () => {
  runners = await Promise.all(NAMES.map(() => startTestRunner()));
});
afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.stop()));
});

/** The three runners by name (over their unix sockets: no TLS to set up per runner). */
function candidates(maxParallelism?: number): RunnerCandidate[] {
  return runners.map((runner, index) => ({
    name: NAMES[index],
    endpoint: parseEndpoint(runner.unixAddress),
    tls: {},
    ...(maxParallelism !== undefined ? { maxParallelism } : {}),
  }));
}

function poolOptions(extra: Partial<PoolOptions> = {}): PoolOptions {
  return {
    connectTimeoutMs: 10_000,
    allowPlaintext: false,
    onVersionMismatch: "error",
    names: INPUT_NAMES,
    reporter: recorder(),
    signal: AbortSignal.timeout(120_000),
    ...extra,
  };
}

/** The runner a key goes to, through the real health check and routing; connections closed. */
async function ownerOf(key: string, pool: RunnerCandidate[]): Promise<string> {
  const resolved = await resolvePool(pool, poolOptions({ affinityKey: key }));
  resolved.close();
  const chosen = resolved.runners.find((runner) => runner.state === "chosen")!;
  return chosen.name;
}

describe("affinity routing", () => {
  it("sends a project to the same runner twice, where its second build is all cache", async () => {
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo project ${Math.random()}`)].join(
        "\n",
      ),
    });
    const addresses = runners.map((runner) => runner.unixAddress);
    // The default key: no repository in the environment, so the context's path and the Dockerfile.
    const key = defaultAffinityKey({
      env: {},
      cwd: REPO_ROOT,
      contextDir: context,
      dockerfile: join(context, "Dockerfile"),
    });
    const expected = rankByAffinity(key, addresses, (address) => address)[0]!;
    const flags = addresses.flatMap((address) => ["--addr", address]);
    const chosen = /Chose (unix:\/\/\S+) for its default platform \(linux\/amd64\): first of 3 by affinity\./;

    const first = await runCli(["build", ...flags, context]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(chosen.exec(first.stderr)?.[1], expected);
    assert.match(first.stderr, /^#\d+ \[2\/2\] RUN .*\n(#\d+ .*\n)*#\d+ DONE/m);

    const second = await runCli(["build", ...flags, context]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(chosen.exec(second.stderr)?.[1], expected);
    assert.match(second.stderr, /^#\d+ \[2\/2\] RUN .*\n#\d+ CACHED$/m);
    assert.match(second.stderr, /^#\d+ \[1\/2\] COPY busybox \/bin\/busybox\n#\d+ CACHED$/m);
  });

  it("spreads five projects over the runners, the same way every time, and moves only a lost runner's", async () => {
    const projects = ["org/api", "org/web", "org/worker", "org/docs", "org/cli"].map(
      (repository) => `${repository}|Dockerfile|`,
    );
    const owners = await Promise.all(projects.map((key) => ownerOf(key, candidates())));
    // What rendezvous hashing predicts, and what the pool did, agree; and again on a second run.
    assert.deepEqual(
      owners,
      projects.map((key) => rankByAffinity(key, NAMES, (name) => name)[0]),
    );
    assert.deepEqual(await Promise.all(projects.map((key) => ownerOf(key, candidates()))), owners);
    assert.ok(new Set(owners).size >= 2, `five projects all went to ${owners[0]}`);

    // The runner with the most projects goes down (its socket answers nothing).
    const lost = NAMES.reduce((a, b) =>
      owners.filter((owner) => owner === a).length >= owners.filter((owner) => owner === b).length ? a : b,
    );
    const withLost = candidates().map((candidate) =>
      candidate.name === lost
        ? { ...candidate, endpoint: parseEndpoint(`unix://${join(tempDir("rb-fleet-gone-"), "gone.sock")}`) }
        : candidate,
    );
    const after = await Promise.all(projects.map((key) => ownerOf(key, withLost)));
    projects.forEach((key, index) => {
      if (owners[index] === lost) assert.notEqual(after[index], lost, `${key} stayed on the lost runner`);
      else assert.equal(after[index], owners[index], `${key} moved although its runner is up`);
    });
  });
});

describe("load awareness", () => {
  it("passes over a runner at max-parallelism 1 with a build in flight, and waits when all are busy", async () => {
    const key = "org/busy|Dockerfile|";
    const ranking = rankByAffinity(key, NAMES, (name) => name);
    const top = runners[NAMES.indexOf(ranking[0]!)]!;
    const held = holdBuild(top.unixAddress);
    try {
      await waitForBuildsInFlight(top.unixAddress, 1);

      // The first in rank is busy: the second takes it, and says why.
      const pool = await resolvePool(candidates(1), poolOptions({ affinityKey: key }));
      pool.close();
      const chosen = pool.runners.find((runner) => runner.state === "chosen")!;
      assert.equal(chosen.name, ranking[1]);
      assert.match(
        pool.summary,
        /: 2nd of 3 by affinity \(passed over unix:\/\/\S+: busy \(1 build in flight, max-parallelism 1\)\)/,
      );
      const busy = pool.runners.find((runner) => runner.name === ranking[0])!;
      assert.equal(busy.state, "busy");
      assert.equal(busy.load?.buildsInFlight, 1);
      // Without a limit declared, the same runner takes it: nothing is known to be full.
      const unlimited = await resolvePool(candidates(), poolOptions({ affinityKey: key }));
      unlimited.close();
      assert.equal(unlimited.runners.find((runner) => runner.state === "chosen")!.name, ranking[0]);

      // Only the busy runner in the pool: a bounded wait, then it takes the build anyway, said so.
      const only = candidates(1).filter((candidate) => candidate.name === ranking[0]);
      const reporter = recorder();
      const overloaded = await resolvePool(
        only,
        poolOptions({ affinityKey: key, busyTimeoutMs: 1_500, busyPollMs: 500, reporter }),
      );
      overloaded.close();
      assert.ok(
        reporter.lines.some((line) =>
          /^info: Every runner for its default platform is at its max-parallelism .*; waiting up to 2 s/.test(
            line,
          ),
        ),
        reporter.lines.join("\n"),
      );
      assert.ok(
        reporter.lines.some((line) =>
          /^warning: Every runner for its default platform is still at its max-parallelism after \d+ s/.test(
            line,
          ),
        ),
        reporter.lines.join("\n"),
      );
      assert.match(overloaded.summary, /although busy: every runner stayed at its max-parallelism/);

      // Waiting with room to: the pool takes the runner once the held build is cancelled.
      const waiting = resolvePool(
        only,
        poolOptions({ affinityKey: key, busyTimeoutMs: 120_000, busyPollMs: 250 }),
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await held.stop();
      const freed = await waiting;
      freed.close();
      assert.match(freed.summary, /first by affinity, after waiting \d+ s for a free runner/);
    } finally {
      await held.stop();
    }
  });
});

describe("fallback", () => {
  it("starts the pinned local runner when no runner of the pool answers, with fallback local", async () => {
    // The CLI's cache dir, holding the harness's binaries as a download would (no internet here).
    const cacheRoot = tempDir("rb-fleet-cache-");
    mkdirSync(join(cacheRoot, `buildkit-v${BUILDKIT_VERSION}`));
    symlinkSync(runners[0]!.binDir, join(cacheRoot, `buildkit-v${BUILDKIT_VERSION}`, "bin"));
    const env = cleanEnv({ REMOTE_BUILDKIT_CACHE: cacheRoot, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
    const gone = tempDir("rb-fleet-gone-");
    const flags = ["--addr", `unix://${gone}/a.sock`, "--addr", `unix://${gone}/b.sock`];
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo built by the fallback")].join("\n"),
    });

    // Without it: the pool's failure, exit 1.
    const without = await runCli(["build", ...flags, context], env);
    assert.equal(without.code, 1, without.stderr);
    assert.match(without.stderr, /No runner of unix:\/\/.*a\.sock, unix:\/\/.*b\.sock is usable/);

    const result = await runCli(["build", ...flags, "--fallback", "local", context], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /No runner given answers \(No runner of .* is usable: .*\); starting the pinned local runner instead, as fallback: local asks\./,
    );
    assert.match(result.stderr, /^#\d+ \d+\.\d+ built by the fallback$/m);
    const stateDir = join(cacheRoot, "state", `buildkit-v${BUILDKIT_VERSION}`);
    assert.equal(buildkitdRunsOn(stateDir), false, "the started buildkitd is stopped after the command");
  });
});

describe("what the user sees", () => {
  it("info --format json and the job summary list every runner with version, load and cache size", async () => {
    const flags = runners.flatMap((runner) => ["--addr", runner.unixAddress]);
    const info = await runCli(["info", ...flags, "--format", "json"]);
    assert.equal(info.code, 0, info.stderr);
    const parsed = JSON.parse(info.stdout) as {
      endpoint: string;
      pool: Array<{
        endpoint: string;
        state: string;
        info: { version: { version: string }; platforms: string[] };
        load: { buildsInFlight: number; roundTripMs: number; cacheBytes: number };
      }>;
    };
    assert.deepEqual(
      parsed.pool.map((runner) => runner.endpoint),
      runners.map((runner) => runner.unixAddress),
    );
    for (const runner of parsed.pool) {
      assert.equal(runner.info.version.version, `v${BUILDKIT_VERSION}`);
      assert.ok(runner.info.platforms.includes("linux/amd64"));
      assert.equal(runner.load.buildsInFlight, 0);
      assert.ok(runner.load.roundTripMs >= 0 && runner.load.roundTripMs < 10_000);
      assert.ok(runner.load.cacheBytes >= 0);
    }
    // Earlier tests built on some runner: its cache is not empty.
    assert.ok(parsed.pool.some((runner) => runner.load.cacheBytes > 0));

    const pool = await resolvePool(candidates(2), poolOptions({ affinityKey: "org/summary|Dockerfile|" }));
    pool.close();
    const chosen = pool.assignments[0]!.runner;
    const markdown = buildSummaryMarkdown({
      runner: chosen.info,
      pool: pool.runners,
      runnerReason: pool.summary,
      steps: [],
      warnings: [],
      durationMs: 1_000,
    });
    for (const [index, runner] of runners.entries()) {
      const row = markdown
        .split("\n")
        .find((line) => line.startsWith("| ") && line.includes(`\`${runner.unixAddress}\``));
      assert.ok(row, `no row for ${NAMES[index]}`);
      assert.match(
        row,
        new RegExp(
          `^\\| ${NAMES[index]} .*\\| v${BUILDKIT_VERSION.replace(/\./g, "\\.")} \\| linux/amd64.* \\| 0 of 2 \\| \\d+ ms \\| [\\d.]+ (B|KiB|MiB|GiB) \\|`,
        ),
      );
    }
    assert.equal(markdown.split("\n").filter((line) => line.includes("**chosen**")).length, 1);
  });
});

/** The action's main step (dist/main.mjs) as GitHub's runner runs it, in `workspace`. */
async function runAction(workspace: string, env: Record<string, string>) {
  const files = stepFiles(tempDir("rb-fleet-action-"));
  const stepEnv = cleanEnv({ ...files.env, GITHUB_WORKSPACE: workspace, GITHUB_ACTIONS: "true", ...env });
  const result = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "main.mjs")], {
    env: stepEnv,
    cwd: workspace,
  });
  return {
    ...result,
    env: stepEnv,
    stateFile: files.state,
    outputs: parseFileCommand(readFileSync(files.output, "utf8")),
    summary: readFileSync(files.summary, "utf8"),
  };
}

describe("the action with a fleet", () => {
  it("routes the repository by affinity and lists all three runners in the job summary", async () => {
    const workspace = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(`echo action ${Math.random()}`)].join(
        "\n",
      ),
    });
    const addresses = runners.map((runner) => runner.unixAddress);
    // The default key: the repository, the Dockerfile relative to the workspace, no target.
    const expected = rankByAffinity("org/fleet-action|Dockerfile|", addresses, (address) => address)[0]!;
    const result = await runAction(workspace, {
      INPUT_ENDPOINT: addresses.join("\n"),
      INPUT_CONTEXT: ".",
      GITHUB_REPOSITORY: "org/fleet-action",
    });
    assert.equal(result.code, 0, result.stdout);
    assert.equal(
      result.outputs["runner-reason"],
      `chose ${expected} for its default platform (linux/amd64): first of 3 by affinity`,
    );
    const rows = result.summary.split("\n").filter((line) => line.startsWith("| `unix://"));
    assert.deepEqual(
      rows.map((row) => /^\| `([^`]+)`/.exec(row)![1]),
      addresses,
    );
    const chosen = rows.filter((row) => row.includes("**chosen**"));
    assert.equal(chosen.length, 1);
    assert.ok(chosen[0]!.startsWith(`| \`${expected}\``), chosen[0]);
    assert.match(chosen[0]!, /for its default platform \(linux\/amd64\): first of 3 by affinity \|$/);
    assert.equal(rows.filter((row) => row.includes("| ready |")).length, 2);
    // The log has the same, one line per runner.
    assert.equal(result.stdout.match(/^Pool: {7}unix:\/\/\S+: (chosen|ready), BuildKit v/gm)?.length, 3);
  });

  it("falls back to a local runner when no runner answers, says so everywhere, and the post step stops it", async () => {
    const gone = tempDir("rb-fleet-gone-");
    const result = await runAction(REPO_ROOT, {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      RUNNER_TOOL_CACHE: toolCacheWith(runners[0]!.binDir, BUILDKIT_VERSION),
      RUNNER_TEMP: tempDir("rb-runner-temp-"),
      INPUT_ENDPOINT: `unix://${gone}/a.sock\nunix://${gone}/b.sock`,
      INPUT_FALLBACK: "local",
      INPUT_CONTEXT: "examples/hello",
    });
    assert.equal(result.code, 0, result.stdout);
    assert.match(
      result.stdout,
      /^::warning::No runner given answers \(No runner of unix:\/\/.* is usable: .*\); starting the pinned local runner instead, as fallback: local asks\.$/m,
    );
    assert.match(
      result.outputs["runner-reason"]!,
      new RegExp(
        `^fallback to a local runner, as no runner given answered \\(.*\\): started buildkitd v${BUILDKIT_VERSION.replace(/\./g, "\\.")} \\(cache\\)`,
      ),
    );
    assert.match(result.summary, /^Runner: fallback to a local runner, as no runner given answered/m);
    const state = parseFileCommand(readFileSync(result.stateFile, "utf8"));
    const pid = Number(state["runner-pid"]);
    assert.ok(pid > 0, JSON.stringify(state));
    const post = await runProcess(process.execPath, [join(REPO_ROOT, "dist", "post.mjs")], {
      env: postStepEnv(result.env, result.stateFile),
    });
    assert.equal(post.code, 0, post.stdout);
    assert.throws(() => process.kill(pid, 0), "the post step stopped the runner");
    assert.equal(existsSync(state["runner-runtime-dir"]!), false);
  });
});
