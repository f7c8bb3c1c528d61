// Runs one build on a resolved runner: the session (health, the local dirs, and the job's
// credentials, secrets and SSH agents), then Solve and Status together, with the log printed
// live and redacted. Closes the session whatever happens.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  authService,
  callFrontend,
  contentStoreService,
  chooseUploadCompression,
  ContextReadError,
  describeGitFetchFailure,
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
  type FrontendCall,
  type FrontendCallResult,
  type SessionService,
  type SourceLocation,
  type UploadCompressionMode,
  watchLiveness,
  type LivenessWatch,
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
import { recordLocalExports } from "./cache.js";

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
  /** Whether to gzip the upload; default auto. */
  uploadCompression?: UploadCompressionMode;
}

/** The log of a build or a call: redacted, and control characters escaped before any terminal. */
function redactedLog(options: BuildOptions) {
  const redactor = options.redactor ?? new Redactor();
  const writeLog = (text: string) => {
    const visible = redactor.push(text);
    if (visible) options.writeLog(escapeControlCharacters(visible));
  };
  const flushLog = () => {
    const rest = redactor.flush();
    if (rest) options.writeLog(escapeControlCharacters(rest));
  };
  return { redactor, writeLog, flushLog };
}

/** Stable for the same context on the same machine, so the runner sends only what changed. */
function sharedKey(plan: BuildPlan): string {
  const context = plan.git?.url ?? plan.contextDir;
  return createHash("sha256").update(`${hostname()}\0${context}`).digest("hex").slice(0, 32);
}

export async function runBuild(
  client: BuildkitClient,
  plan: BuildPlan,
  request: SolveRequest,
  options: BuildOptions,
): Promise<BuildResult> {
  const { redactor, writeLog, flushLog } = redactedLog(options);
  const progress = new PlainProgress(writeLog);
  const { session, fileSync, fileSend, credentialError, liveness, signal, wentAway } = openSession(
    client,
    plan,
    request,
    options,
    writeLog,
  );
  const warnings = () =>
    progress.warnings().map((warning) => ({ ...warning, locations: warning.locations.map(withPath(plan)) }));
  try {
    const exporterResponse = await solve(client, {
      sessionId: session.id,
      frontend: request.frontend,
      frontendAttrs: request.frontendAttrs,
      exporters: request.exporters,
      entitlements: request.entitlements,
      cacheImports: request.cacheImports,
      cacheExports: request.cacheExports,
      onStatus: (status) => {
        liveness.heard();
        progress.update(status);
      },
      signal,
    });
    progress.finish();
    recordLocalExports(request.cacheExports, exporterResponse["cache.manifest"]);
    return {
      exporterResponse,
      steps: progress.steps(),
      warnings: [...warnings(), ...ignoredFailures(progress.steps())],
    };
  } catch (error) {
    progress.finish();
    const report = progress.failureReport();
    if (report) writeLog(report);
    const gone = wentAway(error);
    if (gone) throw gone;
    // A refused or failed output is the reason, whatever words the runner wraps it in.
    const outputFailure = fileSend?.failure();
    if (outputFailure) throw outputFailure;
    // A file of the context we could not read is the user's to fix, in our words.
    const uploadFailure = fileSync.failure();
    if (uploadFailure instanceof ContextReadError) throw new InputError(uploadFailure.message);
    if (!(error instanceof RpcError)) throw error;
    const locations = error.sources.map(withPath(plan));
    for (const location of locations) writeLog(formatSourceExcerpt(location));
    if (credentialError() instanceof InputError) throw credentialError();
    // A Git context the runner could not fetch: one sentence (git's stderr holds no token).
    const gitFailure = plan.git && describeGitFetchFailure(error.details);
    throw new BuildFailedError(
      redactor.redact(gitFailure ?? `The build failed: ${error.details}`),
      locations,
      progress.steps(),
    );
  } finally {
    liveness.stop();
    flushLog();
    session.close();
  }
}

/**
 * The build's session: health, the local dirs, the job's credentials, secrets and SSH agents,
 * and the outputs that come back to this machine. A credential helper that fails is the user's to
 * fix: its sentence is kept, not the runner's.
 */
function openSession(
  client: BuildkitClient,
  plan: BuildPlan,
  request: Pick<
    SolveRequest,
    "localDirs" | "standIns" | "outputTargets" | "cacheStores" | "skippedCacheImports"
  >,
  options: BuildOptions,
  writeLog: (text: string) => void,
) {
  let credentialError: unknown;
  // A runner that stops answering (or a connection lost) ends the build through this signal, with
  // the sentence in `runnerGone`; the caller's signal still cancels it.
  const stopOnGone = new AbortController();
  let runnerGone: RunnerGoneError | undefined;
  const liveness: LivenessWatch = watchLiveness(client, (error) => {
    runnerGone = error;
    stopOnGone.abort();
  });
  const signal = options.signal ? AbortSignal.any([options.signal, stopOnGone.signal]) : stopOnGone.signal;
  const fileSync = fileSyncService(request.localDirs, request.standIns);
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
  // Local cache directories, read and written by the runner through the session's content store.
  if (Object.keys(request.cacheStores).length > 0) services.push(contentStoreService(request.cacheStores));
  for (const reason of request.skippedCacheImports) writeLog(`warning: ${reason}\n`);
  // Gzip on the session's upload when the link is slower than the CPU compresses (upload-compression).
  const compression = chooseUploadCompression(
    options.uploadCompression ?? "auto",
    client.endpoint,
    client.roundTripMs,
  );
  writeLog(`Upload compression: ${compression.compress ? "gzip" : "none"} (${compression.reason}).\n`);
  const session = new Session(client, {
    sharedKey: sharedKey(plan),
    services,
    signal,
    compress: compression.compress,
  });
  return {
    session,
    fileSync,
    fileSend,
    credentialError: () => credentialError,
    liveness,
    signal,
    /**
     * The runner going away, when that is why the call failed, whatever the calls it cut short
     * said; an answer of the runner's own (an RpcError) says it was there.
     */
    wentAway: (error: unknown): RunnerGoneError | undefined => {
      if (runnerGone && !options.signal?.aborted && !(error instanceof RpcError)) return runnerGone;
      return error instanceof RunnerGoneError ? error : undefined;
    },
  };
}

/**
 * A frontend call instead of a build (buildx's --call check|outline|targets): the same session
 * and attrs, no exporters; the log printed as for a build. The frontend's answer, or the
 * failure's sentence as for a build.
 */
export async function runFrontendCall(
  client: BuildkitClient,
  plan: BuildPlan,
  request: SolveRequest,
  call: FrontendCall,
  options: BuildOptions,
): Promise<FrontendCallResult> {
  const { redactor, writeLog, flushLog } = redactedLog(options);
  const progress = new PlainProgress(writeLog);
  const { session, fileSync, credentialError, liveness, signal, wentAway } = openSession(
    client,
    plan,
    {
      localDirs: request.localDirs,
      standIns: request.standIns,
      outputTargets: [],
      cacheStores: request.cacheStores,
      skippedCacheImports: request.skippedCacheImports,
    },
    options,
    writeLog,
  );
  try {
    const result = await callFrontend(client, {
      call,
      sessionId: session.id,
      frontend: request.frontend,
      frontendAttrs: request.frontendAttrs,
      onStatus: (status) => {
        liveness.heard();
        progress.update(status);
      },
      signal,
    });
    progress.finish();
    return result;
  } catch (error) {
    progress.finish();
    const gone = wentAway(error);
    if (gone) throw gone;
    const uploadFailure = fileSync.failure();
    if (uploadFailure instanceof ContextReadError) throw new InputError(uploadFailure.message);
    if (credentialError() instanceof InputError) throw credentialError();
    if (!(error instanceof RpcError)) throw error;
    const gitFailure = plan.git && describeGitFetchFailure(error.details);
    throw new BuildFailedError(
      redactor.redact(gitFailure ?? `The ${call === "lint" ? "check" : call} failed: ${error.details}`),
      error.sources.map(withPath(plan)),
      progress.steps(),
    );
  } finally {
    liveness.stop();
    flushLog();
    session.close();
  }
}

/**
 * Steps that failed in a build that succeeded: a cache export with ignore-error=true (the runner
 * reports its error on the step and goes on, moby/buildkit #2492). Each is a warning.
 */
function ignoredFailures(steps: StepSummary[]): LocalBuildWarning[] {
  return steps
    .filter((step) => step.error !== "")
    .map((step) => ({
      message: `${step.name} failed and was ignored (ignore-error=true): ${step.error}`,
      locations: [],
      url: "",
    }));
}

/** BuildKit names the Dockerfile by the name we sent; point it back at the file on this machine. */
export function withPath(plan: BuildPlan): (location: SourceLocation) => LocalSourceLocation {
  return (location) =>
    location.filename === plan.dockerfileName && !plan.git
      ? { ...location, path: join(plan.dockerfileDir, plan.dockerfileName) }
      : location;
}
