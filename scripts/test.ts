// `npm test`: unit tests, then a build of dist/, then integration tests against a registry and a
// BuildKit runner started once for the whole run; jest runs the tests (jest.config.js). `npm test
// -- unit` or `npm test -- integration` runs one part; file names after the part (`npm test --
// integration test/integration/build.test.ts`) run only those files. RB_TEST_DIST_FRESH=1 says
// that dist/ was just built from these sources (.ci/run checks it), so it is not built again.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { runnerEnv, startTestRunner } from "../test/harness/runner.js";
import { registryEnv, startTestRegistry } from "../test/harness/registry.js";

const root = join(import.meta.dirname, "..");
const part = process.argv[2] ?? "all";
const only = process.argv.slice(3);
if (!["all", "unit", "integration"].includes(part)) {
  console.error(`usage: npm test -- [unit|integration [FILE...]] (not ${part})`);
  process.exit(2);
}

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".test.ts"))
    .sort()
    .map((name) => join(dir, name))
    .filter((file) => only.length === 0 || only.some((wanted) => file.endsWith(wanted)));
}

const totals = { passed: 0, failed: 0, skipped: 0 };
let running: ChildProcess | undefined;
let interrupted = false;
// Ctrl-C (or SIGTERM, passed on to jest) ends the jest that runs and skips what follows; the runner
// and the registry are still stopped.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    interrupted = true;
    running?.kill(signal);
  });
}

/** The counts of jest's --json results that the closing line adds up. */
interface JestResults {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  /** Files that failed before or outside their tests (an import error, a throwing hook). */
  numRuntimeErrorTestSuites: number;
}

/**
 * Runs one jest project over `files`, one file after another: spec output for people, the counts
 * in a results file (next to jest's cache) for the closing line. Resolves to whether all passed.
 */
async function runJest(project: string, files: string[], env: Record<string, string> = {}): Promise<boolean> {
  if (files.length === 0 || interrupted) return !interrupted;
  const resultsFile = join(root, "node_modules", ".cache", "jest", `results-${project}.json`);
  mkdirSync(dirname(resultsFile), { recursive: true });
  rmSync(resultsFile, { force: true });
  running = spawn(
    process.execPath,
    [
      // Jest's ESM support runs on node's vm modules, still experimental in Node 24.
      "--experimental-vm-modules",
      "--disable-warning=ExperimentalWarning",
      join(root, "node_modules", "jest", "bin", "jest.js"),
      "--selectProjects",
      project,
      "--runInBand",
      "--json",
      `--outputFile=${resultsFile}`,
      // Without names, the project's own files (its testMatch): the same ones, and a shorter report.
      ...(only.length > 0 ? ["--runTestsByPath", ...files] : []),
    ],
    { cwd: root, stdio: "inherit", env: { ...process.env, ...env } },
  );
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    running!.once("close", (...ended) => resolve(ended)),
  );
  running = undefined;
  let results: JestResults;
  try {
    results = JSON.parse(readFileSync(resultsFile, "utf8")) as JestResults;
  } catch {
    console.error(`jest (${project}) ended (${signal ?? `exit code ${code}`}) before writing its results.`);
    totals.failed += 1;
    return false;
  }
  totals.passed += results.numPassedTests;
  // A file that failed to run counts once, as node's test runner counted it.
  totals.failed += results.numFailedTests + results.numRuntimeErrorTestSuites;
  totals.skipped += results.numPendingTests + results.numTodoTests;
  return code === 0;
}

let passed = true;
if (part === "all" || part === "unit") {
  passed = (await runJest("unit", testFiles("test/unit"))) && passed;
}
const integrationFiles = part === "all" || part === "integration" ? testFiles("test/integration") : [];
if (integrationFiles.length > 0 && !interrupted) {
  // The integration tests run the bundles that users run, so build them from the sources first.
  if (process.env.RB_TEST_DIST_FRESH === "1") {
    console.log("dist/ is fresh (RB_TEST_DIST_FRESH=1): not building it again.");
  } else if (spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" }).status !== 0) {
    throw new Error("npm run build failed");
  }
  // The registry first: the runner's buildkitd is started trusting its CA.
  console.log("Starting a registry and a BuildKit runner for the integration tests...");
  const registry = await startTestRegistry();
  console.log(`Registry at ${registry.address} (TLS, htpasswd); log ${registry.logFile}`);
  try {
    const runner = await startTestRunner({ config: registry.buildkitdConfig() });
    console.log(`Runner at ${runner.tcpAddress} (mTLS) and ${runner.unixAddress}; log ${runner.logFile}`);
    try {
      const env = { ...runnerEnv(runner), ...registryEnv(registry) };
      passed = (await runJest("integration", integrationFiles, env)) && passed;
    } finally {
      await runner.stop();
    }
  } finally {
    await registry.stop();
  }
}
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(passed && !interrupted ? 0 : 1);
