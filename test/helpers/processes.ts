// What runs on this machine, for tests that check that nothing was left running.
import { execFileSync } from "node:child_process";

/** Whether a process whose command line contains `text` runs (pgrep -f, not this test's own). */
export function processRunsWith(text: string): boolean {
  try {
    // `--` so that a text starting with a dash is the pattern, not an option of pgrep.
    return execFileSync("pgrep", ["-f", "--", text]).toString().trim() !== "";
  } catch (error) {
    // pgrep exits 1 when nothing matches; anything else is a broken check, not "nothing runs".
    if ((error as { status?: number }).status === 1) return false;
    throw error;
  }
}

/** Whether a buildkitd with this state dir (--root) runs. */
export function buildkitdRunsOn(stateDir: string): boolean {
  return processRunsWith(`--root ${stateDir}`);
}
