// Runs one build on a resolved runner: the session (health and the local dirs), then Solve and
// Status together, with the log printed live. Closes the session whatever happens.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import type { BuildkitClient } from "../buildkit/client.js";
import { Session } from "../buildkit/session/tunnel.js";
import { healthService } from "../buildkit/session/health.js";
import { fileSyncService } from "../buildkit/session/filesync.js";
import { solve } from "../buildkit/solve.js";
import type { SourceLocation } from "../buildkit/error-details.js";
import { PlainProgress, type BuildWarning, type StepSummary } from "../report/progress.js";
import { formatSourceExcerpt } from "../report/source-excerpt.js";
import { entitlements, frontendAttrs, localDirs, type BuildPlan } from "./plan.js";
import { BuildFailedError, type LocalSourceLocation } from "../errors.js";
import { RpcError } from "../buildkit/errors.js";

export interface BuildResult {
  exporterResponse: Record<string, string>;
  steps: StepSummary[];
  warnings: LocalBuildWarning[];
}

export interface LocalBuildWarning extends BuildWarning {
  locations: LocalSourceLocation[];
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
    services: [healthService(), fileSyncService(localDirs(plan))],
    signal,
  });
  const warnings = () =>
    progress.warnings().map((warning) => ({ ...warning, locations: warning.locations.map(withPath(plan)) }));
  try {
    const exporterResponse = await solve(client, {
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: frontendAttrs(plan),
      exporters: [],
      entitlements: entitlements(plan),
      onStatus: (status) => progress.update(status),
      signal,
    });
    return { exporterResponse, steps: progress.steps(), warnings: warnings() };
  } catch (error) {
    const report = progress.failureReport();
    if (report) writeLog(report);
    if (!(error instanceof RpcError)) throw error;
    const locations = error.sources.map(withPath(plan));
    for (const location of locations) writeLog(formatSourceExcerpt(location));
    throw new BuildFailedError(`The build failed: ${error.details}`, locations, progress.steps());
  } finally {
    session.close();
  }
}

/** BuildKit names the Dockerfile by the name we sent; point it back at the file on this machine. */
function withPath(plan: BuildPlan): (location: SourceLocation) => LocalSourceLocation {
  return (location) =>
    location.filename === plan.dockerfileName
      ? { ...location, path: join(plan.dockerfileDir, plan.dockerfileName) }
      : location;
}
