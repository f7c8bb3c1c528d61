// Waiting for a started buildkitd to answer, and what its log says when it does not.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BuildkitClient, type Endpoint } from "../../buildkit/index.js";
import { RunnerStartError } from "../errors.js";

export async function waitUntilAnswering(
  runner: { endpoint: Endpoint; runtimeDir: string },
  child: ChildProcess,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new RunnerStartError(`buildkitd exited during start (${child.exitCode ?? child.signalCode})`);
    }
    if (signal?.aborted) throw new RunnerStartError("Starting buildkitd was cancelled.");
    if (existsSync(join(runner.runtimeDir, "buildkitd.sock"))) {
      const client = new BuildkitClient({ endpoint: runner.endpoint, tls: {}, connectTimeoutMs: 2_000 });
      try {
        const info = await client.probe(signal);
        if (info.workers.length > 0) return;
      } catch {
        // Not answering yet.
      } finally {
        client.close();
      }
    }
    if (Date.now() > deadline) {
      throw new RunnerStartError(
        `buildkitd did not answer on ${runner.endpoint.address} within ${timeoutMs / 1000} s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The last meaningful line of buildkitd's log, for the error sentence. */
export function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, "utf8").trim().split("\n").reverse();
    // buildkitd's own last word when it exits on an error ("buildkitd: toml: ..."), before a stack.
    const own = lines.find((line) => line.startsWith("buildkitd: "));
    if (own !== undefined) return own.trim().slice(0, 500);
    const fatal = lines.find((line) => /level=(fatal|error)|^buildkitd:|error/i.test(line));
    return (fatal ?? lines[0] ?? "").trim().slice(0, 500);
  } catch {
    return "";
  }
}
