// Runs one build on a resolved runner: the session (health, the local dirs, and the job's
// credentials, secrets and SSH agents), then Solve and Status together, with the log printed
// live and redacted. Closes the session whatever happens.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  authService,
  ContextReadError,
  fileSendService,
  fileSyncService,
  healthService,
  RpcError,
  RunnerGoneError,
  secretsService,
  Session,
  solve,
  sshService,
  type BuildkitClient,
  type CredentialLookup,
  type SessionService,
  type SourceLocation,
  watchLiveness,
} from "../buildkit/index.js";
import { escapeControlCharacters } from "../report/control-characters.js";
import { PlainProgress } from "../report/plain-progress.js";
import type { BuildWarning, LocalSourceLocation, StepSummary } from "../report/build-model.js";
import { formatSourceExcerpt } from "../report/source-excerpt.js";
import { Redactor } from "../report/redact.js";
import type { BuildPlan } from "./plan.js";
import type { SolveRequest } from "./solve-request.js";
import { InputError } from "../errors.js";
import { BuildFailedError } from "./errors.js";

export interface BuildResult {
  exporterResponse: Record<string, string>;
  steps: StepSummary[];
  warnings: LocalBuildWarning[];
}

export interface LocalBuildWarning extends BuildWarning {
  locations: LocalSourceLocation[];
}

export interface BuildOptions {
  /** Where the runner's log goes, already redacted. */
  writeLog: (text: string) => void;
  signal?: AbortSignal;
  /** Registry credentials for the host the runner asks about; anonymous when absent. */
  credentials?: CredentialLookup;
  secrets?: ReadonlyMap<string, Uint8Array>;
  /** SSH agent sockets by id. */
  sshAgents?: ReadonlyMap<string, string>;
  /** Every value to keep out of the log; values learnt during the build are added to it. */
  redactor?: Redactor;
}

/** Stable for the same context on the same machine, so the runner sends only what changed. */
function sharedKey(plan: BuildPlan): string {
  return createHash("sha256").update(`${hostname()}\0${plan.contextDir}`).digest("hex").slice(0, 32);
}

export async function runBuild(
  client: BuildkitClient,
  plan: BuildPlan,
  request: SolveRequest,
  options: BuildOptions,
): Promise<BuildResult> {
  const redactor = options.redactor ?? new Redactor();
  const writeLog = (text: string) => {
    const visible = redactor.push(text);
    if (visible) options.writeLog(escapeControlCharacters(visible));
  };
  const progress = new PlainProgress(writeLog);
  // A credential helper that fails is the user's to fix: keep its sentence, not the runner's.
  let credentialError: unknown;
  // A runner that stops answering (or a connection lost) ends the build through this signal, with
  // the sentence in `runnerGone`; the caller's signal still cancels it.
  const stopOnGone = new AbortController();
  let runnerGone: RunnerGoneError | undefined;
  const liveness = watchLiveness(client, (error) => {
    runnerGone = error;
    stopOnGone.abort();
  });
  const signal = options.signal ? AbortSignal.any([options.signal, stopOnGone.signal]) : stopOnGone.signal;
  const fileSync = fileSyncService(request.localDirs);
  const services: SessionService[] = [healthService(liveness.heard), fileSync];
  if (options.credentials) {
    services.push(authService(options.credentials, { onError: (error) => (credentialError ??= error) }));
  }
  services.push(secretsService(options.secrets ?? new Map()));
  services.push(sshService(options.sshAgents ?? new Map()));
  const outputTargets = request.outputTargets;
  const fileSend = outputTargets.some(Boolean)
    ? fileSendService(outputTargets, {
        signal,
        onWarning: (message) => writeLog(`warning: ${message}\n`),
      })
    : undefined;
  if (fileSend) services.push(fileSend);
  const session = new Session(client, { sharedKey: sharedKey(plan), services, signal });
  const warnings = () =>
    progress.warnings().map((warning) => ({ ...warning, locations: warning.locations.map(withPath(plan)) }));
  try {
    const exporterResponse = await solve(client, {
      sessionId: session.id,
      frontend: request.frontend,
      frontendAttrs: request.frontendAttrs,
      exporters: request.exporters,
      entitlements: request.entitlements,
      onStatus: (status) => {
        liveness.heard();
        progress.update(status);
      },
      signal,
    });
    progress.finish();
    return { exporterResponse, steps: progress.steps(), warnings: warnings() };
  } catch (error) {
    progress.finish();
    const report = progress.failureReport();
    if (report) writeLog(report);
    if (runnerGone && !options.signal?.aborted) throw runnerGone;
    if (error instanceof RunnerGoneError) throw error;
    // A refused or failed output is the reason, whatever words the runner wraps it in.
    const outputFailure = fileSend?.failure();
    if (outputFailure) throw outputFailure;
    // A file of the context we could not read is the user's to fix, in our words.
    const uploadFailure = fileSync.failure();
    if (uploadFailure instanceof ContextReadError) throw new InputError(uploadFailure.message);
    if (!(error instanceof RpcError)) throw error;
    const locations = error.sources.map(withPath(plan));
    for (const location of locations) writeLog(formatSourceExcerpt(location));
    if (credentialError instanceof InputError) throw credentialError;
    throw new BuildFailedError(
      redactor.redact(`The build failed: ${error.details}`),
      locations,
      progress.steps(),
    );
  } finally {
    liveness.stop();
    const rest = redactor.flush();
    if (rest) options.writeLog(escapeControlCharacters(rest));
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
