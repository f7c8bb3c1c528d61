// `npx tsx scripts/bench-outputs.ts [--runs N] [--mib M]`: times receiving build outputs, our CLI
// (`node dist/cli.mjs build -o type=local|tar,dest=…`, build dist/ first) against buildctl on the
// same local runner (the test harness's): a local output and a tar output of one M MiB file
// (default 1024). The build itself is cached first, so each timed run is the export alone. Both
// run under /usr/bin/time, for wall time and peak RSS. The two clients alternate which goes first,
// and the page cache's dirty data is written back (sync) before each timed run, so that no run
// pays for the gigabyte the one before it left to write.
import { dockerfileBuildArgs } from "../test/helpers/buildctl.js";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startTestRunner, type TestRunner } from "../test/harness/runner.js";
import { makeContext, run } from "../test/helpers/contexts.js";

const execFileAsync = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "dist", "cli.mjs");
const TIME = "/usr/bin/time";
const MINUTE = 60_000;

type Kind = "local" | "tar";

interface Sample {
  seconds: number;
  maxRssMiB: number;
}

await main();

async function main(): Promise<void> {
  const runs = Number(option("--runs") ?? 3);
  const mib = Number(option("--mib") ?? 1024);
  const context = makeContext({
    Dockerfile: [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      run(`/bin/busybox head -c ${mib * 1024 * 1024} /dev/urandom > /big`),
    ].join("\n"),
  });
  const runner = await startTestRunner();
  try {
    // Cache the build: the timed runs measure the export only.
    await buildctl(runner, context, []);
    const samples: Record<string, Sample[]> = {};
    for (let index = 0; index < runs; index++) {
      for (const kind of ["local", "tar"] as const) {
        const order = index % 2 === 0 ? (["ours", "buildctl"] as const) : (["buildctl", "ours"] as const);
        for (const client of order) {
          const out = mkdtempSync(join(tmpdir(), "rb-bench-out-"));
          execFileSync("sync");
          const dest = kind === "local" ? join(out, "dir") : join(out, "out.tar");
          const sample =
            client === "ours"
              ? await timeOurs(runner, kind, context, dest)
              : await timeBuildctl(runner, kind, context, dest);
          rmSync(out, { recursive: true, force: true });
          (samples[`${kind} ${client}`] ??= []).push(sample);
          console.error(`${kind} ${client} run ${index + 1}: ${JSON.stringify(sample)}`);
        }
      }
    }
    console.log(`\n${mib} MiB output, ${runs} runs each, median:\n`);
    console.log(
      "| output | ours (s) | buildctl (s) | ratio | our peak RSS (MiB) | buildctl peak RSS (MiB) |",
    );
    console.log("| --- | --- | --- | --- | --- | --- |");
    for (const kind of ["local", "tar"] as const) {
      const ours = samples[`${kind} ours`]!;
      const theirs = samples[`${kind} buildctl`]!;
      const oursSeconds = median(ours.map((s) => s.seconds));
      const theirSeconds = median(theirs.map((s) => s.seconds));
      console.log(
        `| ${kind} | ${oursSeconds.toFixed(2)} | ${theirSeconds.toFixed(2)} | ${(oursSeconds / theirSeconds).toFixed(2)} | ${Math.max(...ours.map((s) => s.maxRssMiB))} | ${Math.max(...theirs.map((s) => s.maxRssMiB))} |`,
      );
    }
  } finally {
    await runner.stop();
    rmSync(context, { recursive: true, force: true });
  }
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs `command` under /usr/bin/time; returns its stdout and the wall seconds and peak RSS. */
async function timed(command: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; sample: Sample }> {
  const { stdout, stderr } = await execFileAsync(TIME, ["-f", "TIME %e %M", ...command], {
    env,
    timeout: 10 * MINUTE,
    maxBuffer: 64 * 1024 * 1024,
  });
  const match = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  if (!match) throw new Error(`no timing in: ${stderr}`);
  return { stdout, sample: { seconds: Number(match[1]), maxRssMiB: Math.round(Number(match[2]) / 1024) } };
}

function buildctlArgs(runner: TestRunner, context: string, output: string[]): string[] {
  return [
    join(runner.binDir, "buildctl"),
    ...runner.buildctlArgs(),
    ...dockerfileBuildArgs(context, ...output),
  ];
}

async function buildctl(runner: TestRunner, context: string, output: string[]): Promise<void> {
  const [command, ...args] = buildctlArgs(runner, context, output);
  await execFileAsync(command!, args, { timeout: 10 * MINUTE, maxBuffer: 64 * 1024 * 1024 });
}

async function timeBuildctl(runner: TestRunner, kind: Kind, context: string, dest: string): Promise<Sample> {
  const { sample } = await timed(
    buildctlArgs(runner, context, ["--output", `type=${kind},dest=${dest}`]),
    process.env,
  );
  return sample;
}

async function timeOurs(runner: TestRunner, kind: Kind, context: string, dest: string): Promise<Sample> {
  const { sample } = await timed(
    [process.execPath, CLI, "build", ...runner.buildctlArgs(), "-o", `type=${kind},dest=${dest}`, context],
    process.env,
  );
  return sample;
}
