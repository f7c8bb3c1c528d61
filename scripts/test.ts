// `npm test`: unit tests, then integration tests against a real buildkitd started for the run.
// `npm test -- unit` or `npm test -- integration` runs one part; file names after the part
// (`npm test -- integration test/integration/build.test.ts`) run only those files.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runnerEnv, startTestRunner } from "../test/harness/runner.js";
import { registryEnv, startTestRegistry } from "../test/harness/registry.js";

const root = join(import.meta.dirname, "..");
const part = process.argv[2] ?? "all";
const only = process.argv.slice(3);

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".test.ts"))
    .sort()
    .map((name) => join(dir, name))
    .filter((file) => only.length === 0 || only.some((wanted) => file.endsWith(wanted)));
}

const totals = { pass: 0, fail: 0, skipped: 0 };
const tapDir = mkdtempSync(join(tmpdir(), "remote-buildkit-tap-"));

/** Runs node's test runner: spec output for people, TAP to a file for the closing count. */
function runNodeTests(name: string, files: string[], env: Record<string, string> = {}): number {
  const tapFile = join(tapDir, `${name}.tap`);
  const result = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--test",
      "--test-concurrency=1",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=tap",
      `--test-reporter-destination=${tapFile}`,
      ...files,
    ],
    { cwd: root, stdio: "inherit", env: { ...process.env, ...env } },
  );
  const tap = readFileSync(tapFile, "utf8");
  const count = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, "m").exec(tap)?.[1] ?? 0);
  totals.pass += count("pass");
  totals.fail += count("fail") + count("cancelled");
  totals.skipped += count("skipped") + count("todo");
  return result.status ?? 1;
}

let failed = false;
if (part === "all" || part === "unit") {
  failed = runNodeTests("unit", testFiles("test/unit")) !== 0 || failed;
}
if (part === "all" || part === "integration") {
  // The integration tests run the bundles that users run, so build them from the sources first.
  if (spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" }).status !== 0) {
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
      failed = runNodeTests("integration", testFiles("test/integration"), env) !== 0 || failed;
    } finally {
      await runner.stop();
    }
  } finally {
    await registry.stop();
  }
}
console.log(`\ntests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
