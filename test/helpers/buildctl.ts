// buildctl, BuildKit's reference client: tests build the same Dockerfile with it to compare our client against it.
import { join } from "node:path";
import { connectionFlags, type RunnerUnderTest } from "../harness/env.js";
import { runProcess, type ProcessResult } from "./cli.js";

/** buildctl's arguments for a dockerfile.v0 build of `context` (Dockerfile at its root), then `args`. */
export function dockerfileBuildArgs(context: string, ...args: string[]): string[] {
  return [
    "build",
    "--frontend",
    "dockerfile.v0",
    "--local",
    `context=${context}`,
    "--local",
    `dockerfile=${context}`,
    ...args,
  ];
}

/** Runs buildctl's dockerfile.v0 build of `context` on the test runner over mTLS; never rejects on a failed build. */
export function buildctlBuild(
  runner: RunnerUnderTest,
  context: string,
  args: string[] = [],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessResult> {
  return runProcess(
    join(runner.binDir, "buildctl"),
    [...connectionFlags(runner), ...dockerfileBuildArgs(context, ...args)],
    { timeoutMs: options.timeoutMs ?? 3 * 60_000, env: options.env },
  );
}
