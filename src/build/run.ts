// Runs one build on a resolved runner: the session (health and the local dirs), then Solve and
// Status together, with the log printed live. Closes the session whatever happens.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { BuildkitClient } from "../buildkit/client.js";
import { Session } from "../buildkit/session/tunnel.js";
import { healthService } from "../buildkit/session/health.js";
import { fileSyncService } from "../buildkit/session/filesync.js";
import { solve } from "../buildkit/solve.js";
import { PlainProgress, type StepSummary } from "../report/progress.js";
import { frontendAttrs, type BuildPlan } from "./plan.js";
import { BuildFailedError } from "../errors.js";
import { RpcError } from "../buildkit/errors.js";

export interface BuildResult {
  exporterResponse: Record<string, string>;
  steps: StepSummary[];
}

/** Stable for the same context on the same machine, so the runner sends only what changed. */
function sharedKey(plan: BuildPlan): string {
  return createHash("sha256").update(`${hostname()}\0${plan.contextDir}`).digest("hex").slice(0, 32);
}

export async function runBuild(
  client: BuildkitClient,
  plan: BuildPlan,
  writeLog: (text: string) => void,
  signal?: AbortSignal,
): Promise<BuildResult> {
  const progress = new PlainProgress(writeLog);
  const session = new Session(client, {
    sharedKey: sharedKey(plan),
    services: [
      healthService(),
      fileSyncService({ context: plan.contextDir, dockerfile: plan.dockerfileDir }),
    ],
    signal,
  });
  try {
    const exporterResponse = await solve(client, {
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: frontendAttrs(plan),
      exporters: [],
      onStatus: (status) => progress.update(status),
      signal,
    });
    return { exporterResponse, steps: progress.steps() };
  } catch (error) {
    const report = progress.failureReport();
    if (report) writeLog(report);
    throw error instanceof RpcError ? new BuildFailedError(`The build failed: ${error.details}`) : error;
  } finally {
    session.close();
  }
}
