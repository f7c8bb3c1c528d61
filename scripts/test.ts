// `npm test`: unit tests, then integration tests against a real buildkitd started for the run.
// `npm test -- unit` or `npm test -- integration` runs one part.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runnerEnv, startTestRunner } from "../test/harness/runner.js";

const root = join(import.meta.dirname, "..");
const part = process.argv[2] ?? "all";

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".test.ts"))
    .sort()
    .map((name) => join(dir, name));
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
  console.log("Starting a BuildKit runner for the integration tests...");
  const runner = await startTestRunner();
  console.log(`Runner at ${runner.tcpAddress} (mTLS) and ${runner.unixAddress}; log ${runner.logFile}`);
  try {
    failed = runNodeTests("integration", testFiles("test/integration"), runnerEnv(runner)) !== 0 || failed;
  } finally {
    await runner.stop();
  }
}
console.log(`\ntests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
