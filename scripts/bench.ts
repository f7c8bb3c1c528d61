// `npm run bench [-- --runs N] [--only files,bigfile,touch,log] [--link RTT:MBIT,...] [--json FILE]`: builds dist/, starts
// a local BuildKit runner (the test harness's, with step logs unclipped) and times our CLI against
// buildctl on the same runner, alternating the two clients run by run, then prints a markdown
// table (median seconds, ratio ours/buildctl, peak RSS) and optionally writes it as JSON.
//
// Scenarios: `files` uploads 10,000 small files cold; `bigfile` uploads one 1 GiB file cold;
// `touch` rebuilds the 10,000 files after one file changed, with the previous upload cached;
// `log` runs a step that prints 200,000 lines (--no-cache); `cached` times a whole cached small
// build (start-up, connecting, Solve: what most CI builds on a warm runner are), and `concurrent`
// eight of them at once (the client's CPU on a 2-core machine). "Cold" means the runner's whole
// cache is pruned (`buildctl prune --all`, untimed) before each run of either client, so neither
// client can reuse an earlier transfer: buildctl's session shared key is empty (the same for
// every build), ours is derived from the context's path, so a fresh directory would be cold for
// us but not necessarily for buildctl. The upload Dockerfiles only count the files through a
// bind mount, so the runner's own work stays small and the same for both clients.
//
// Over a wide-area link (`npm run bench:wan`, or `--link 50:100,50:20`: round trip in ms and
// Mbit/s each way): both clients reach the runner through the harness's shaping proxy
// (test/harness/shaping-proxy.ts), one proxy per link, every scenario measured on each link. The
// proxy listens on this machine's non-loopback address, so that our client's upload-compression
// auto judges the link as it would a remote one, by its round trip.
// The WAN scenarios: `tree` uploads a real source tree cold (the first --tree-mib MiB of this
// project's node_modules, package by package), `tree-touch` rebuilds it after one file changed,
// and `output` receives a --output-mib MiB local output (random bytes) of a cached build; `cached`
// is measured there too, where a build's round trips count more than the client's start.
import { dockerfileBuildArgs } from "../test/helpers/buildctl.js";
import { spawn, spawnSync, execFile, type ChildProcess } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  statSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startTestRunner, type TestRunner } from "../test/harness/runner.js";
import {
  buildctlArgsThrough,
  nonLoopbackAddress,
  startShapingProxy,
  type ShapingProxy,
} from "../test/harness/shaping-proxy.js";
import { makeContext, run } from "../test/helpers/contexts.js";
import { BUILDKIT_VERSION } from "../src/version.js";

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
let CLI = join(ROOT, "dist", "cli.mjs");
const TIME = "/usr/bin/time";

type ClientName = "ours" | "buildctl";

interface Scenario {
  name: string;
  title: string;
  /** Creates the context directory (untimed, once). */
  setup(dir: string): string;
  /** Untimed work before each run of either client. */
  beforeRun?(context: string, runner: TestRunner, run: number): Promise<void>;
  /** Untimed work once before the first timed run (e.g. warming the cache). */
  warmUp?(context: string, runner: TestRunner): Promise<void>;
  noCache: boolean;
  /** Each run exports a local output into a fresh directory (removed after the run). */
  localOutput?: boolean;
  /**
   * Where it is measured by default: on loopback, over the --link links, or both (default
   * loopback).
   */
  where?: "loopback" | "wan" | "both";
  /** Builds started at once per run (default 1): the run's time is until the last ends. */
  parallel?: number;
}

interface RunResult {
  client: ClientName;
  seconds: number;
  /** User plus system CPU time of the client process (summed over a parallel run's processes). */
  cpuSeconds: number;
  maxRssMiB: number;
  transferred: string[];
  logLines: number;
  /** Our client's upload compression, from its log. */
  compression: string | undefined;
}

interface ScenarioResult {
  scenario: string;
  title: string;
  runs: { ours: RunResult[]; buildctl: RunResult[] };
  oursMedianSeconds: number;
  buildctlMedianSeconds: number;
  ratio: number;
  oursPeakRssMiB: number;
  buildctlPeakRssMiB: number;
  oursMedianCpuSeconds: number;
  buildctlMedianCpuSeconds: number;
}

// ---- arguments ----

interface Options {
  runs: number;
  only: string[] | undefined;
  json: string | undefined;
  /** Another build of the CLI to measure (e.g. an older one, for before/after); skips npm run build. */
  cli: string | undefined;
  /** Links to measure through the shaping proxy; empty: loopback, no proxy. */
  links: Link[];
  treeMiB: number;
  outputMiB: number;
  /** Extra arguments for our CLI's build (e.g. --upload-compression off). */
  oursArgs: string[];
  /** The node that runs our CLI (e.g. Node 24, the action's runtime); default: this one. */
  node: string;
}

interface Link {
  rttMs: number;
  mbitPerSecond: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    runs: 5,
    only: undefined,
    json: undefined,
    cli: undefined,
    links: [],
    treeMiB: 75,
    outputMiB: 200,
    oursArgs: [],
    node: process.execPath,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    if (flag === "--runs") {
      options.runs = Number(value());
      if (!Number.isInteger(options.runs) || options.runs < 1) usage("--runs must be a positive integer");
    } else if (flag === "--only") options.only = value().split(",").filter(Boolean);
    else if (flag === "--json") options.json = value();
    else if (flag === "--cli") options.cli = value();
    else if (flag === "--link") options.links = value().split(",").map(parseLink);
    else if (flag === "--tree-mib") options.treeMiB = positive(flag, value());
    else if (flag === "--output-mib") options.outputMiB = positive(flag, value());
    else if (flag === "--ours-arg") options.oursArgs.push(value());
    else if (flag === "--node") options.node = value();
    else usage(`unknown argument ${arg}`);
  }
  return options;
}

function positive(flag: string, text: string): number {
  const number = Number(text);
  if (!(number > 0)) usage(`${flag} must be a positive number`);
  return number;
}

function parseLink(text: string): Link {
  const match = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!match || !(Number(match[2]) > 0)) usage(`--link takes RTT_MS:MBIT (e.g. 50:100), not "${text}"`);
  return { rttMs: Number(match[1]), mbitPerSecond: Number(match[2]) };
}

function usage(message: string): never {
  console.error(
    `bench: ${message}\nusage: npm run bench -- [--runs N] [--only ${SCENARIOS.map((s) => s.name).join(",")}] [--link RTT_MS:MBIT,...] [--tree-mib M] [--output-mib M] [--ours-arg ARG]... [--json FILE] [--cli PATH] [--node PATH]`,
  );
  process.exit(2);
}

// ---- contexts ----

const COUNT_FILES_DOCKERFILE = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  `RUN --mount=type=bind,target=/ctx ["/bin/busybox", "sh", "-c", "/bin/busybox find /ctx -type f | /bin/busybox wc -l"]`,
].join("\n");

const SMALL_FILES = 10_000;
const FILES_PER_DIR = 100;

function smallFilePath(i: number): string {
  return `src/d${String(Math.floor(i / FILES_PER_DIR)).padStart(3, "0")}/f${String(i % FILES_PER_DIR).padStart(3, "0")}.txt`;
}

function smallFileContent(i: number, generation: number): string {
  return `file ${i} generation ${generation}\n${"x".repeat(200 + (i % 300))}\n`;
}

function makeSmallFilesContext(): string {
  const dir = makeContext({ Dockerfile: COUNT_FILES_DOCKERFILE });
  for (let d = 0; d < SMALL_FILES / FILES_PER_DIR; d++)
    mkdirSync(join(dir, smallFilePath(d * FILES_PER_DIR), ".."), { recursive: true });
  for (let i = 0; i < SMALL_FILES; i++) writeFileSync(join(dir, smallFilePath(i)), smallFileContent(i, 0));
  return dir;
}

const BIG_FILE_BYTES = 1024 * 1024 * 1024;
const LOG_LINES = 200_000;

async function prune(runner: TestRunner): Promise<void> {
  await execFileAsync(join(runner.binDir, "buildctl"), [...runner.buildctlArgs(), "prune", "--all"], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The first `mib` MiB of this project's node_modules, whole packages in name order; returns the files. */
function copySourceTree(dest: string, mib: number): string[] {
  const modules = join(ROOT, "node_modules");
  const packages = readdirSync(modules)
    .filter((name) => !name.startsWith("."))
    .sort()
    .flatMap((name) =>
      name.startsWith("@")
        ? readdirSync(join(modules, name))
            .sort()
            .map((sub) => `${name}/${sub}`)
        : [name],
    );
  let bytes = 0;
  const files: string[] = [];
  for (const name of packages) {
    if (bytes >= mib * 1024 * 1024) break;
    cpSync(join(modules, name), join(dest, "node_modules", name), {
      recursive: true,
      verbatimSymlinks: true,
    });
    for (const entry of readdirSync(join(dest, "node_modules", name), {
      recursive: true,
      withFileTypes: true,
    })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      bytes += statSync(path).size;
      files.push(path);
    }
  }
  console.error(`  source tree: ${files.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  return files;
}

let treeFiles: string[] = [];

function makeTreeContext(): string {
  const dir = makeContext({ Dockerfile: COUNT_FILES_DOCKERFILE });
  treeFiles = copySourceTree(dir, options.treeMiB);
  return dir;
}

/** A build whose steps are all cached after one run: what most CI builds on a warm runner are. */
function makeSmallBuildContext(): string {
  return makeContext({
    Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("/bin/busybox echo built > /built")].join(
      "\n",
    ),
  });
}

/** How many builds the `concurrent` scenario starts at once on the one runner. */
const CONCURRENT_BUILDS = 8;

const SCENARIOS: Scenario[] = [
  {
    name: "files",
    title: "cold upload, 10,000 small files",
    setup: makeSmallFilesContext,
    beforeRun: (_context, runner) => prune(runner),
    noCache: false,
  },
  {
    name: "bigfile",
    title: "cold upload, one 1 GiB file",
    setup: () => {
      const dir = makeContext({ Dockerfile: COUNT_FILES_DOCKERFILE });
      // Sparse: zeros that both clients read and send in full; the runner writes every byte.
      writeFileSync(join(dir, "big.bin"), "");
      truncateSync(join(dir, "big.bin"), BIG_FILE_BYTES);
      return dir;
    },
    beforeRun: (_context, runner) => prune(runner),
    noCache: false,
  },
  {
    name: "touch",
    title: "warm rebuild, 1 of 10,000 files changed",
    setup: makeSmallFilesContext,
    // Each client's previous upload of this directory is in the runner's cache; one more file
    // changes before every run (so each client sees the same two changed files since its last run).
    warmUp: async () => {},
    beforeRun: async (context, _runner, run) => {
      const i = ((run + 1) * 7919) % SMALL_FILES;
      writeFileSync(join(context, smallFilePath(i)), smallFileContent(i, run + 2));
    },
    noCache: false,
  },
  {
    name: "log",
    title: `RUN printing ${LOG_LINES.toLocaleString("en")} lines (--no-cache)`,
    setup: () =>
      makeContext({
        Dockerfile: [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          run(
            `/bin/busybox awk 'BEGIN { for (i = 1; i <= ${LOG_LINES}; i++) print "benchmark log line " i " of ${LOG_LINES}" }'`,
          ),
        ].join("\n"),
      }),
    noCache: true,
  },
  {
    name: "cached",
    title: "cached small build, whole process",
    setup: makeSmallBuildContext,
    warmUp: async () => {},
    noCache: false,
    // Over a link it is the round trips of a build, not the client's start, that count.
    where: "both",
  },
  {
    name: "concurrent",
    title: `${CONCURRENT_BUILDS} cached small builds at once`,
    setup: makeSmallBuildContext,
    warmUp: async () => {},
    noCache: false,
    parallel: CONCURRENT_BUILDS,
  },
  {
    name: "tree",
    title: "cold upload of a source tree",
    setup: makeTreeContext,
    beforeRun: (_context, runner) => prune(runner),
    noCache: false,
    where: "wan",
  },
  {
    name: "tree-touch",
    title: "rebuild of the source tree after touching one file",
    setup: makeTreeContext,
    warmUp: async () => {},
    beforeRun: async (_context, _runner, run) => {
      const file = treeFiles[((run + 1) * 7919) % treeFiles.length]!;
      appendFileSync(file, `\n// touched ${run}\n`);
    },
    noCache: false,
    where: "wan",
  },
  {
    name: "output",
    title: "local output back (random bytes, cached build)",
    setup: () =>
      makeContext({
        Dockerfile: [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          run(`/bin/busybox head -c ${options.outputMiB * 1024 * 1024} /dev/urandom > /big`),
        ].join("\n"),
      }),
    // One untimed build per client caches the RUN; each timed run is the export.
    warmUp: async () => {},
    noCache: false,
    localOutput: true,
    where: "wan",
  },
];

// ---- clients ----

const children = new Set<ChildProcess>();

/** The address both clients dial: the runner's, or the shaping proxy's in front of it. */
let address: string | undefined;

/** The runner's connection flags, through the proxy when one is in between. */
function connectionArgs(runner: TestRunner): string[] {
  return address === undefined ? runner.buildctlArgs() : buildctlArgsThrough(runner, address);
}

function clientCommand(
  client: ClientName,
  runner: TestRunner,
  context: string,
  noCache: boolean,
  outputDir: string | undefined,
): string[] {
  const flags = [
    "--progress",
    "plain",
    ...(noCache ? ["--no-cache"] : []),
    ...(outputDir !== undefined ? ["--output", `type=local,dest=${outputDir}`] : []),
  ];
  if (client === "ours") {
    return [options.node, CLI, "build", ...connectionArgs(runner), ...flags, ...options.oursArgs, context];
  }
  return [
    join(runner.binDir, "buildctl"),
    ...connectionArgs(runner),
    ...dockerfileBuildArgs(context, ...flags),
  ];
}

/** One client's run of a scenario; `label` names its files in `workDir`. */
interface ClientRun {
  client: ClientName;
  runner: TestRunner;
  context: string;
  scenario: Scenario;
  workDir: string;
  label: string;
}

/**
 * Runs a scenario's build (or its `parallel` builds at once) for one client: wall time until the
 * last ends, CPU summed, the highest peak RSS.
 */
async function runClient(run: ClientRun): Promise<RunResult> {
  const count = run.scenario.parallel ?? 1;
  if (count === 1) return runOne(run);
  const started = process.hrtime.bigint();
  const all = await Promise.all(
    Array.from({ length: count }, (_, i) => runOne({ ...run, label: `${run.label}-${i}` })),
  );
  return {
    ...all[0]!,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    cpuSeconds: all.reduce((sum, r) => sum + r.cpuSeconds, 0),
    maxRssMiB: Math.max(...all.map((r) => r.maxRssMiB)),
  };
}

/** Runs one build under GNU time (for the peak RSS), its output to a file; returns the timing. */
async function runOne({ client, runner, context, scenario, workDir, label }: ClientRun): Promise<RunResult> {
  const outFile = join(workDir, `${label}.log`);
  const timeFile = join(workDir, `${label}.time`);
  const outputDir = scenario.localOutput ? join(workDir, `${label}.out`) : undefined;
  const command = clientCommand(client, runner, context, scenario.noCache, outputDir);
  const out = openSync(outFile, "w");
  const started = process.hrtime.bigint();
  const child = spawn(TIME, ["-f", "%M %U %S", "-o", timeFile, ...command], { stdio: ["ignore", out, out] });
  children.add(child);
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  children.delete(child);
  if (outputDir !== undefined) rmSync(outputDir, { recursive: true, force: true });
  closeSync(out);
  const output = readFileSync(outFile, "utf8");
  if (code !== 0) {
    throw new Error(`${client} failed with exit code ${code}:\n${output.slice(-4000)}`);
  }
  const [maxRssKiB, user, system] = readFileSync(timeFile, "utf8")
    .trim()
    .split("\n")
    .pop()!
    .split(" ")
    .map(Number);
  const transferred = [...output.matchAll(/^#\d+ transferring (?:context|dockerfile): (\S+)/gm)].map(
    (m) => m[1]!,
  );
  const compression = /^Upload compression: (\S+)/m.exec(output)?.[1];
  const logLines = (output.match(/^#\d+ \d+\.\d+ benchmark log line \d+ of /gm) ?? []).length;
  return {
    client,
    seconds,
    cpuSeconds: user! + system!,
    maxRssMiB: maxRssKiB! / 1024,
    transferred,
    logLines,
    compression,
  };
}

// ---- measuring ----

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(
  scenario: Scenario,
  runner: TestRunner,
  runs: number,
  workDir: string,
  link: Link | undefined,
): Promise<ScenarioResult> {
  const title = link
    ? `${scenario.title}, ${link.rttMs} ms RTT, ${link.mbitPerSecond} Mbit/s`
    : scenario.title;
  console.error(`\n== ${scenario.name}: ${title}`);
  const context = scenario.setup(workDir);
  const results: ScenarioResult["runs"] = { ours: [], buildctl: [] };
  try {
    if (scenario.warmUp) {
      // One untimed build per client, so that each has its previous upload of this context cached.
      for (const client of ["ours", "buildctl"] as const) {
        await scenario.beforeRun?.(context, runner, -1);
        await runClient({
          client,
          runner,
          context,
          scenario,
          workDir,
          label: `${scenario.name}-warmup-${client}`,
        });
      }
    }
    for (let i = 0; i < runs; i++) {
      // Alternate which client goes first, so that slow drifts of the machine hit both alike.
      const order: ClientName[] = i % 2 === 0 ? ["ours", "buildctl"] : ["buildctl", "ours"];
      for (const client of order) {
        await scenario.beforeRun?.(context, runner, i * 2 + (client === "ours" ? 0 : 1));
        const result = await runClient({
          client,
          runner,
          context,
          scenario,
          workDir,
          label: `${scenario.name}-${i}-${client}`,
        });
        results[client].push(result);
        console.error(
          `  run ${i + 1}/${runs} ${client.padEnd(8)} ${result.seconds.toFixed(2)} s  CPU ${result.cpuSeconds.toFixed(2)} s  max RSS ${result.maxRssMiB.toFixed(0)} MiB` +
            (result.transferred.length ? `  transferred ${result.transferred.join(", ")}` : "") +
            (result.logLines ? `  log lines ${result.logLines}` : "") +
            (result.compression ? `  upload compression ${result.compression}` : ""),
        );
      }
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  const oursMedian = median(results.ours.map((r) => r.seconds));
  const buildctlMedian = median(results.buildctl.map((r) => r.seconds));
  return {
    scenario: scenario.name,
    title,
    runs: results,
    oursMedianSeconds: oursMedian,
    buildctlMedianSeconds: buildctlMedian,
    ratio: oursMedian / buildctlMedian,
    oursPeakRssMiB: Math.max(...results.ours.map((r) => r.maxRssMiB)),
    buildctlPeakRssMiB: Math.max(...results.buildctl.map((r) => r.maxRssMiB)),
    oursMedianCpuSeconds: median(results.ours.map((r) => r.cpuSeconds)),
    buildctlMedianCpuSeconds: median(results.buildctl.map((r) => r.cpuSeconds)),
  };
}

function table(results: ScenarioResult[]): string {
  const rows = [
    "| scenario | ours median s | buildctl median s | ratio ours/buildctl | our peak RSS MiB | buildctl peak RSS MiB | ours / buildctl median CPU s | ours runs s | buildctl runs s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  for (const r of results) {
    const runs = (list: RunResult[]) => list.map((x) => x.seconds.toFixed(2)).join(", ");
    const cells = [
      `${r.scenario}: ${r.title}`,
      r.oursMedianSeconds.toFixed(2),
      r.buildctlMedianSeconds.toFixed(2),
      r.ratio.toFixed(2),
      r.oursPeakRssMiB.toFixed(0),
      r.buildctlPeakRssMiB.toFixed(0),
      `${r.oursMedianCpuSeconds.toFixed(2)} / ${r.buildctlMedianCpuSeconds.toFixed(2)}`,
      runs(r.runs.ours),
      runs(r.runs.buildctl),
    ];
    rows.push(`| ${cells.join(" | ")} |`);
  }
  return rows.join("\n");
}

// ---- main ----

const options = parseArgs(process.argv.slice(2));
const selected = options.only
  ? SCENARIOS.filter((s) => options.only!.includes(s.name))
  : SCENARIOS.filter((s) =>
      [options.links.length > 0 ? "wan" : "loopback", "both"].includes(s.where ?? "loopback"),
    );
if (options.only && selected.length !== options.only.length)
  usage(`unknown scenario in --only ${options.only.join(",")}`);

if (options.cli) {
  CLI = resolve(options.cli);
  console.error(`Measuring ${CLI} (not building dist/)`);
} else {
  console.error("Building dist/ ...");
  if (spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" }).status !== 0) {
    console.error("bench: npm run build failed");
    process.exit(1);
  }
}

console.error("Starting a local BuildKit runner ...");
const runner = await startTestRunner({
  // Unclipped step logs, so that the log scenario streams every line to the client.
  env: { BUILDKIT_STEP_LOG_MAX_SIZE: "-1", BUILDKIT_STEP_LOG_MAX_SPEED: "-1" },
});
const workDir = mkdtempSync(join(tmpdir(), "rb-bench-"));

let proxy: ShapingProxy | undefined;
let stopping: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  stopping ??= (async () => {
    for (const child of children) child.kill("SIGTERM");
    await proxy?.close();
    await runner.stop();
    rmSync(workDir, { recursive: true, force: true });
  })();
  return stopping;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping the runner`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let exitCode = 0;
const results: ScenarioResult[] = [];
try {
  const workers = await execFileAsync(join(runner.binDir, "buildctl"), [
    ...runner.buildctlArgs(),
    "debug",
    "workers",
  ]);
  console.error(workers.stdout.trim());
  const nodeVersion = spawnSync(options.node, ["--version"], { encoding: "utf8" }).stdout.trim();
  console.error(`Our CLI runs on node ${nodeVersion || `(${options.node} gave no version)`}`);
  for (const link of options.links.length > 0 ? options.links : [undefined]) {
    if (link) {
      proxy = await startShapingProxy({
        target: { host: "127.0.0.1", port: Number(new URL(runner.tcpAddress).port) },
        delayMs: link.rttMs / 2,
        mbitPerSecond: link.mbitPerSecond,
        listenHost: nonLoopbackAddress(),
      });
      address = proxy.address;
      console.error(`\nThrough a shaping proxy: ${link.rttMs} ms RTT, ${link.mbitPerSecond} Mbit/s each way`);
    }
    for (const scenario of selected)
      results.push(await measure(scenario, runner, options.runs, workDir, link));
    await proxy?.close();
    proxy = undefined;
    address = undefined;
  }
  const markdown = table(results);
  console.log(`\n${markdown}\n`);
  if (options.json) {
    writeFileSync(
      options.json,
      `${JSON.stringify(
        {
          runsPerClient: options.runs,
          links: options.links,
          buildkit: `v${BUILDKIT_VERSION}`,
          cli: CLI,
          node: nodeVersion,
          date: new Date().toISOString(),
          results,
        },
        null,
        2,
      )}\n`,
    );
    console.error(`Wrote ${options.json}`);
  }
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await cleanUp();
}
process.exit(exitCode);
