// `npm run bench:cache [-- --runs N] [--seconds S]`: what a registry cache saves a cold
// runner. One runner (the test harness's, with the harness's registry) builds a Dockerfile whose
// RUN takes S seconds (default 10) and exports the cache with mode=max; then a second runner,
// wiped before each timed build (buildctl prune --all), builds it without and with cache-from
// that cache. Prints the wall time of each (our CLI, `node dist/cli.mjs`: build dist/ first).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startTestRegistry, type TestRegistry } from "../test/harness/registry.js";
import { startTestRunner, type TestRunner } from "../test/harness/runner.js";
import { makeContext, run } from "../test/helpers/contexts.js";

const execFileAsync = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "dist", "cli.mjs");
const MINUTE = 60_000;

await main();

async function main(): Promise<void> {
  const runs = Number(option("--runs") ?? 3);
  const seconds = Number(option("--seconds") ?? 10);
  const registry = await startTestRegistry();
  const runners: TestRunner[] = [];
  const configDir = mkdtempSync(join(tmpdir(), "rb-bench-docker-config-"));
  // makeContext's directories are removed here: a script has no test environment to do it.
  const contexts: string[] = [];
  try {
    const config = registry.buildkitdConfig();
    const exporter = await startTestRunner({ config });
    runners.push(exporter);
    const cold = await startTestRunner({ config });
    runners.push(cold);
    const auth = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
    writeFileSync(
      join(configDir, "config.json"),
      JSON.stringify({ auths: { [registry.address]: { auth } } }),
    );
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: configDir };
    const samples: Record<"without" | "with", number[]> = { without: [], with: [] };
    for (let index = 0; index < runs; index++) {
      // A new RUN each round, so that no runner has it but through the cache.
      const context = makeContext({
        Dockerfile: [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          run(`/bin/busybox sleep ${seconds}; echo ${randomBytes(6).toString("hex")} > /stamp`),
          "",
        ].join("\n"),
      });
      contexts.push(context);
      const ref = cacheRef(registry);
      await cli(
        ["build", "--addr", exporter.unixAddress, "--cache-to", `type=registry,ref=${ref},mode=max`, context],
        env,
      );
      for (const kind of ["without", "with"] as const) {
        await prune(cold);
        const flags = kind === "with" ? ["--cache-from", ref] : [];
        const started = process.hrtime.bigint();
        await cli(["build", "--addr", cold.unixAddress, ...flags, context], env);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        samples[kind].push(elapsed);
        console.error(`run ${index + 1}, ${kind} cache-from: ${elapsed.toFixed(2)} s`);
      }
    }
    console.log(`\nA cold runner, a RUN of ${seconds} s, ${runs} runs, median wall time:\n`);
    console.log(`| build | seconds |\n|---|---:|`);
    console.log(`| without cache-from | ${median(samples.without).toFixed(2)} |`);
    console.log(`| with cache-from a registry cache | ${median(samples.with).toFixed(2)} |`);
  } finally {
    for (const runner of runners) await runner.stop();
    await registry.stop();
    for (const dir of [configDir, ...contexts]) rmSync(dir, { recursive: true, force: true });
  }
}

function cacheRef(registry: TestRegistry): string {
  return `${registry.address}/bench/cache:${randomBytes(4).toString("hex")}`;
}

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await execFileAsync(process.execPath, [CLI, ...args], {
    env: { ...env, NODE_EXTRA_CA_CERTS: undefined },
    timeout: 10 * MINUTE,
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function prune(runner: TestRunner): Promise<void> {
  await execFileAsync(join(runner.binDir, "buildctl"), [...runner.buildctlArgs(), "prune", "--all"], {
    timeout: 2 * MINUTE,
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}
