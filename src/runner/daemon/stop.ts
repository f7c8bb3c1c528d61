// Stopping buildkitd: SIGTERM, then SIGKILL after a grace period, as our child or by its pid.
import type { ChildProcess } from "node:child_process";
import { RunnerStartError } from "../errors.js";
import { isAlive, signalProcess } from "../privilege.js";

/** buildkitd unmounts its snapshots on SIGTERM; give it that long before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 15_000;

export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const exited = () => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve();
    };
    child.once("exit", exited);
    const term = setTimeout(() => child.kill("SIGKILL"), graceMs);
    // After SIGKILL the exit is immediate; this only guards against an unkillable process.
    const kill = setTimeout(() => {
      child.off("exit", exited);
      resolve();
    }, graceMs + 10_000);
    child.kill("SIGTERM");
  });
}

/**
 * Stops a buildkitd this program started in an earlier process (the action's post step): SIGTERM,
 * then SIGKILL after the grace period. Resolves once the pid is gone.
 */
export async function stopProcessById(pid: number, graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<void> {
  if (!(await signalProcess(pid, "SIGTERM"))) return;
  if (await waitForExit(pid, graceMs)) return;
  await signalProcess(pid, "SIGKILL");
  if (!(await waitForExit(pid, 10_000))) {
    throw new RunnerStartError(`buildkitd (pid ${pid}) did not exit after SIGKILL.`);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isAlive(pid);
}
