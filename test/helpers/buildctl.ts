// buildctl, BuildKit's reference client: tests build the same Dockerfile with it to compare our client against it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { connectionFlags, type RunnerUnderTest } from "../harness/env.js";
import { runProcess, type ProcessResult } from "./cli.js";

/** buildctl's arguments for a dockerfile.v0 build of `context` (Dockerfile at its root), then `args`. */
export function dockerfileBuildArgs(context: string, ...args: string[]): string[] {
  return dockerfileBuildArgsFrom(context, context, ...args);
}

/** The same with the Dockerfile's directory elsewhere: `dockerfileDir`. */
export function dockerfileBuildArgsFrom(context: string, dockerfileDir: string, ...args: string[]): string[] {
  return [
    "build",
    "--frontend",
    "dockerfile.v0",
    "--local",
    `context=${context}`,
    "--local",
    `dockerfile=${dockerfileDir}`,
    ...args,
  ];
}

/**
 * Runs buildctl's dockerfile.v0 build of `context` (its Dockerfile in `options.dockerfileDir`, or
 * at its root) on the test runner over mTLS; never rejects on a failed build.
 */
export function buildctlBuild(
  runner: RunnerUnderTest,
  context: string,
  args: string[] = [],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; dockerfileDir?: string } = {},
): Promise<ProcessResult> {
  return runProcess(
    join(runner.binDir, "buildctl"),
    [
      ...connectionFlags(runner),
      ...dockerfileBuildArgsFrom(context, options.dockerfileDir ?? context, ...args),
    ],
    { timeoutMs: options.timeoutMs ?? 3 * 60_000, env: options.env },
  );
}

/** The runner's build records that have not completed, as buildctl (the reference client) lists them. */
export async function unfinishedBuilds(runner: RunnerUnderTest): Promise<string[]> {
  const result = await runProcess(join(runner.binDir, "buildctl"), [
    ...connectionFlags(runner),
    "debug",
    "histories",
    "--format",
    "{{.Record.Ref}} {{if .Record.CompletedAt}}completed{{else}}unfinished{{end}}",
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout
    .split("\n")
    .filter((line) => line.endsWith(" unfinished"))
    .map((line) => line.split(" ")[0]!);
}

/** unfinishedBuilds once the runner has had up to 10 s to finish cancelling what was cancelled. */
export async function unfinishedBuildsAfterCancel(runner: RunnerUnderTest): Promise<string[]> {
  let unfinished = await unfinishedBuilds(runner);
  for (let i = 0; i < 50 && unfinished.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    unfinished = await unfinishedBuilds(runner);
  }
  return unfinished;
}
