// `npm run bench:fleet [-- --stagger MS] [--max-parallelism N] [--json FILE]`: ordered against
// affinity routing over a fleet of three fresh runners (the test harness's), 20 builds of 5
// projects: four waves, each wave the five projects in a shuffled order (a fixed seed), started
// --stagger apart (default 1500 ms) as CI jobs arrive, each runner declaring --max-parallelism
// (default 2). Each build is routed by the pool (resolvePool, as the action does,
// with the health check's builds in flight) and then built by the CLI on the runner it chose.
// Prints the cache-hit ratio of the projects' expensive step (a RUN that works --step-seconds,
// default 2) and the total time of the 20 builds, per routing. Needs dist/ (`npm run build`).
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEndpoint } from "../src/buildkit/index.js";
import { runnerInputNames } from "../src/job/request.js";
import type { Routing } from "../src/runner/affinity.js";
import { resolvePool, type RunnerCandidate } from "../src/runner/pool.js";
import { startTestRunner, type TestRunner } from "../test/harness/runner.js";
import { makeContext, run } from "../test/helpers/contexts.js";
import { inputsOf } from "../test/helpers/inputs.js";
import { recorder } from "../test/helpers/reporter.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli.mjs");
const PROJECTS = 5;
const WAVES = 4;
/** `--stagger MS` between the builds of a wave, `--max-parallelism N` declared for each runner. */
function numberFlag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}
const STAGGER_MS = numberFlag("--stagger", 1_500);
const MAX_PARALLELISM = numberFlag("--max-parallelism", 2);
/** `--step-seconds S`: how long each project's expensive step works when not cached. */
const STEP_SECONDS = numberFlag("--step-seconds", 2);

interface BuildRecord {
  project: number;
  runner: string;
  cached: boolean;
  seconds: number;
}

/** A small deterministic shuffle (mulberry32), so both routings see the same arrival order. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 300_000,
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stderr }));
  });
}

async function benchmark(
  routing: Routing,
  contexts: string[],
): Promise<{ builds: BuildRecord[]; seconds: number }> {
  const runners: TestRunner[] = await Promise.all([0, 1, 2].map(() => startTestRunner()));
  try {
    const candidates: RunnerCandidate[] = runners.map((runner, index) => ({
      name: `runner-${index}`,
      endpoint: parseEndpoint(runner.unixAddress),
      tls: {},
      maxParallelism: MAX_PARALLELISM,
    }));
    const names = runnerInputNames(await inputsOf({}, { adapter: "cli", command: "build" }));
    const builds: BuildRecord[] = [];
    const started = performance.now();
    for (let wave = 0; wave < WAVES; wave++) {
      const order = shuffled(
        Array.from({ length: PROJECTS }, (_, index) => index),
        wave + 1,
      );
      const inWave = order.map(async (project, position) => {
        await new Promise((resolve) => setTimeout(resolve, position * STAGGER_MS));
        const buildStarted = performance.now();
        const pool = await resolvePool(candidates, {
          connectTimeoutMs: 10_000,
          allowPlaintext: false,
          onVersionMismatch: "error",
          names,
          reporter: recorder(),
          routing,
          affinityKey: `org/project-${project}|Dockerfile|`,
          busyTimeoutMs: 120_000,
          busyPollMs: 500,
        });
        pool.close();
        const chosen = pool.runners.find((runner) => runner.state === "chosen")!;
        const result = await cli(["build", "--addr", chosen.endpoint, contexts[project]!]);
        if (result.code !== 0) throw new Error(`build of project ${project} failed:\n${result.stderr}`);
        builds.push({
          project,
          runner: chosen.name,
          cached: /^#\d+ \[2\/2\] RUN .*\n#\d+ CACHED$/m.test(result.stderr),
          seconds: (performance.now() - buildStarted) / 1000,
        });
      });
      await Promise.all(inWave);
    }
    return { builds, seconds: (performance.now() - started) / 1000 };
  } finally {
    await Promise.all(runners.map((runner) => runner.stop()));
  }
}

async function main(): Promise<void> {
  const jsonIndex = process.argv.indexOf("--json");
  const jsonFile = jsonIndex > 0 ? process.argv[jsonIndex + 1] : undefined;
  // Each project's expensive step: its own output, the same in both routings.
  const contexts = Array.from({ length: PROJECTS }, (_, project) =>
    makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        run(`sleep ${STEP_SECONDS}; echo project ${project} > /built`),
      ].join("\n"),
    }),
  );
  try {
    const results: Record<string, { builds: BuildRecord[]; seconds: number }> = {};
    for (const routing of ["ordered", "affinity"] as const) {
      process.stderr.write(`bench-fleet: ${routing} routing, ${PROJECTS * WAVES} builds…\n`);
      results[routing] = await benchmark(routing, contexts);
    }
    const lines = [
      "| routing | cache hits (RUN step) | total time | builds per runner |",
      "|---|---:|---:|---|",
    ];
    for (const [routing, { builds, seconds }] of Object.entries(results)) {
      const hits = builds.filter((build) => build.cached).length;
      const perRunner = [0, 1, 2].map(
        (index) => builds.filter((build) => build.runner === `runner-${index}`).length,
      );
      lines.push(
        `| ${routing} | ${hits}/${builds.length} (${Math.round((hits / builds.length) * 100)}%) | ${seconds.toFixed(1)} s | ${perRunner.join(" / ")} |`,
      );
    }
    console.log(lines.join("\n"));
    console.log(
      `\nAt most ${PROJECTS * (WAVES - 1)}/${PROJECTS * WAVES} can hit: each project's first build is cold.`,
    );
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify(results, null, 2));
  } finally {
    for (const context of contexts) rmSync(context, { recursive: true, force: true });
  }
}

await main();
