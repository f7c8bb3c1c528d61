// The build sequence, once for every adapter: every input checked, the runner resolved (or
// started), the build with its log, then warnings, artifacts, step outputs, the metadata file and
// the job summary, each through the platform. The adapters only read inputs and present errors.
import { checkExporterCount, outputTarget } from "../outputs/exporters.js";
import { writeDotenvFile } from "../outputs/dotenv.js";
import { pingEngine } from "../outputs/docker-engine.js";
import { imageOutputs, writeMetadataFile } from "../outputs/image.js";
import { runnerOutputs } from "../outputs/runner.js";
import { buildSummaryMarkdown, describeWarning, type BuildSummaryInput } from "../report/build-summary.js";
import type { ClosingInput } from "../report/closing.js";
import { writeCodeQualityReport } from "../report/code-quality.js";
import { describePool } from "../report/pool-summary.js";
import { describeRunner } from "../report/runner-summary.js";
import { acquireRunner, type AcquiredRunner } from "../runner/acquire.js";
import { defaultAffinityKey } from "../runner/affinity.js";
import type { StartedRunnerConfig } from "../runner/daemon/config.js";
import type { RunnerOptions } from "../runner/options.js";
import { buildOnAcquired } from "./across-runners.js";
import { RunnerGoneError, RunnerUnresponsiveError, type RunnerInfo } from "../buildkit/index.js";
import { boundedSignal, timedOut } from "../deadline.js";
import { describeError } from "../errors.js";
import { formatDuration } from "../values.js";
import { BuildFailedError, BuildTimeoutError } from "./errors.js";
import type { ReadInputs } from "./inputs/read.js";
import type { JobPlatform, OutputToUpload, StepOutput, UploadedArtifact } from "./platform.js";
import {
  prepareBuild,
  withLocalVcs,
  runnerInputNames,
  runnerOptions,
  startedRunnerConfig,
  type BuildRequest,
} from "./request.js";
import { runFrontendCall, type BuildResult } from "./run.js";
import { presentCall, type CallMethod } from "./call.js";
import { solveRequest } from "./solve-request.js";

/**
 * Runs the build; what it returns is what the adapters close the log with (buildClosingLines).
 * A frontend call (check, outline, targets) presents its own answer and returns nothing.
 */
export async function runBuildJob(
  read: ReadInputs,
  platform: JobPlatform,
): Promise<ClosingInput | undefined> {
  const started = Date.now();
  const { values: inputs } = read;
  const { reporter } = platform;
  // Every output set, for the dotenv report.
  const outputs: Partial<Record<StepOutput, string>> = {};
  const setOutput = (name: StepOutput, value: string) => {
    outputs[name] = value;
    platform.setOutput(name, value);
  };
  // Every input is checked before anything starts on the runner.
  const runner = runnerOptions(read);
  const startConfig = startedRunnerConfig(read);
  const request = prepareBuild(read, platform);
  // Provenance's Git lookup (git processes) runs while the runner is being connected; the build
  // waits for it. Awaited on every path that reaches the runner; a job that fails before must not
  // leave it unhandled.
  const withVcs = withLocalVcs(request, platform.env);
  withVcs.catch(() => {});
  if (request.engineLoad) await pingEngine(request.engineLoad.engine, read.names.load, platform.signal);
  const call: CallMethod = inputs.check ? { name: "lint", format: "text", ignoreStatus: false } : inputs.call;
  if (call.name !== "build") {
    await runCall(read, runner, platform, request, withVcs, call, startConfig);
    return undefined;
  }
  // The deadline covers choosing the runner and every attempt; aborting the Solve cancels the
  // build on the runner.
  const deadline =
    inputs.buildTimeoutMs === undefined ? undefined : boundedSignal(inputs.buildTimeoutMs, platform.signal);
  const signal = deadline?.signal ?? platform.signal;
  let built: Built;
  const chosen: Partial<Omit<Built, "result">> = {};
  try {
    built = await buildWithRetries(read, runner, platform, request, signal, started, chosen, {
      setOutput,
      startConfig,
      withVcs,
    });
  } catch (error) {
    if (!deadline || !timedOut(deadline.signal)) throw error;
    const timeout = new BuildTimeoutError(
      `The build did not finish within ${formatDuration(inputs.buildTimeoutMs!)} (${read.names.buildTimeoutMs}), so it was cancelled on the runner.`,
    );
    if (chosen.info) {
      await writeSummary(platform, inputs.summary, {
        runner: chosen.info,
        pool: chosen.pool,
        runnerReason: chosen.reason,
        steps: [],
        warnings: [],
        failure: timeout.message,
        durationMs: Date.now() - started,
      });
    }
    throw timeout;
  } finally {
    deadline?.clear();
  }
  const { result, info, pool, reason } = built;
  for (const warning of result.warnings) {
    reporter.warning(describeWarning(warning), { title: "Build warning", location: warning.locations[0] });
  }
  const artifact = await uploadOutputs(read, platform, request);
  const image = imageOutputs(result.exporterResponse);
  for (const loaded of request.engineLoad?.loaded ?? []) {
    const names = loaded.names.length > 0 ? loaded.names.join(", ") : "an image without a name";
    reporter.info(
      `Loaded ${names} into the Docker Engine at ${request.engineLoad!.engine.address}: ${loaded.id}`,
    );
    // The engine's id is what `docker image inspect` shows; it is the image id buildx's --load gives.
    if (loaded.id) image.imageid = loaded.id;
  }
  for (const [name, value] of Object.entries(image)) {
    setOutput(name as keyof typeof image, value);
  }
  if (inputs.metadataFile)
    writeMetadataFile(inputs.metadataFile, read.names.metadataFile, result.exporterResponse);
  if (inputs.outputsDotenv) writeDotenvFile(inputs.outputsDotenv, read.names.outputsDotenv, outputs);
  if (inputs.codeQuality) {
    const projectDirs = [platform.env.CI_PROJECT_DIR, platform.cwd].filter((dir): dir is string => !!dir);
    writeCodeQualityReport(inputs.codeQuality, read.names.codeQuality, result.warnings, projectDirs);
  }
  const durationMs = Date.now() - started;
  await writeSummary(platform, inputs.summary, {
    runner: info,
    pool,
    runnerReason: reason,
    ...result,
    image: { names: request.image.names, digest: image.digest, pushed: request.image.push },
    artifact,
    durationMs,
  });
  return {
    runner: info,
    steps: result.steps,
    outputs: request.exporters,
    push: request.image.push,
    digest: image.digest,
    durationMs,
  };
}

/** A frontend call instead of a build (call: check, outline, targets), on the runner the inputs name. */
async function runCall(
  read: ReadInputs,
  runner: RunnerOptions,
  platform: JobPlatform,
  request: BuildRequest,
  withVcs: Promise<BuildRequest>,
  call: Exclude<CallMethod, { name: "build" }>,
  startConfig: StartedRunnerConfig | undefined,
): Promise<void> {
  const { reporter } = platform;
  const acquired = await reporter.group("Connecting to the BuildKit runner", async () => {
    const acquired = await connect(read, runner, platform, platform.signal, request, startConfig);
    for (const line of describeRunner(acquired.info)) reporter.info(line);
    return acquired;
  });
  const { info, reason, release } = acquired;
  reporter.debug(`Runner chosen: ${reason}`);
  platform.setOutput("runner-reason", reason);
  try {
    for (const [name, value] of Object.entries(runnerOutputs(info))) {
      platform.setOutput(name as keyof ReturnType<typeof runnerOutputs>, value);
    }
    const complete = await withVcs;
    const answer = await reporter.group(call.name === "lint" ? "Check" : `Call ${call.name}`, () =>
      runFrontendCall(acquired.client, complete.plan, solveRequest(complete), call.name, {
        ...request.session,
        redactor: request.newRedactor(),
        writeLog: (text) => platform.writeLog(text),
        signal: platform.signal,
      }),
    );
    presentCall(answer, call, request.plan, reporter, (text) => platform.writeResult(text));
  } finally {
    await release();
  }
}

/** A finished build and the runner it ran on, with the pool's report and why that runner. */
interface Built {
  result: BuildResult;
  info: RunnerInfo;
  pool: AcquiredRunner["pool"];
  reason: string;
}

/**
 * The build on the chosen runner; when that runner goes away before the build finished (not when
 * the build fails for its own reasons), the whole build again on another healthy runner of the
 * pool, up to the retries input.
 */
async function buildWithRetries(
  read: ReadInputs,
  runner: RunnerOptions,
  platform: JobPlatform,
  request: BuildRequest,
  signal: AbortSignal,
  started: number,
  /** The runner of the latest attempt, for the summary of a build that ran out of time. */
  chosen: Partial<Omit<Built, "result">>,
  job: {
    setOutput: (name: StepOutput, value: string) => void;
    startConfig: StartedRunnerConfig | undefined;
    /** The request with provenance's vcs attrs, for the Solve. */
    withVcs: Promise<BuildRequest>;
  },
): Promise<Built> {
  const { values: inputs } = read;
  const { reporter } = platform;
  let endpoints = runner.endpoints;
  let retriesLeft = inputs.retries;
  /** Why the runners before this one were left, for runner-reason. */
  let leftBehind: string[] = [];
  let lastGone: RunnerGoneError | undefined;
  for (;;) {
    let acquired: AcquiredRunner;
    try {
      acquired = await reporter.group("Connecting to the BuildKit runner", async () => {
        const options = { ...runner, endpoint: endpoints[0]!, endpoints };
        const acquired = await connect(read, options, platform, signal, request, job.startConfig);
        for (const line of describeRunner(acquired.info)) reporter.info(line);
        for (const line of describePool(acquired.pool ?? [])) reporter.info(line);
        return acquired;
      });
    } catch (error) {
      // No other runner to retry on: the runner that went away is the reason the build failed.
      if (lastGone && !signal.aborted) {
        reporter.warning(`No other runner of the pool could take the build: ${describeError(error).message}`);
        throw lastGone;
      }
      throw error;
    }
    const { info, release, pool } = acquired;
    const reason = [...leftBehind, ...(leftBehind.length > 0 ? [`retried on ${info.endpoint}`] : [])]
      .concat(acquired.reason)
      .join("; ");
    Object.assign(chosen, { info, pool, reason });
    reporter.debug(`Runner chosen: ${reason}`);
    job.setOutput("runner-reason", reason);
    try {
      await checkExporterCount(request.exporters.length, info);
      for (const [name, value] of Object.entries(runnerOutputs(info))) {
        job.setOutput(name as keyof ReturnType<typeof runnerOutputs>, value);
      }
      const complete = await job.withVcs;
      const result = await reporter.group("Build", () =>
        buildOnAcquired(
          acquired,
          complete,
          {
            ...request.session,
            redactor: request.newRedactor(),
            newRedactor: request.newRedactor,
            writeLog: (text) => platform.writeLog(text),
            signal,
          },
          inputs.strictPlatforms,
          reporter,
        ),
      );
      return { result, info, pool, reason };
    } catch (error) {
      const others = endpoints.filter(
        (endpoint) => !(error instanceof RunnerGoneError) || endpoint.address !== error.endpoint,
      );
      const retry =
        error instanceof RunnerGoneError && retriesLeft > 0 && others.length > 0 && !signal.aborted;
      if (!retry) {
        if (error instanceof BuildFailedError) {
          await writeSummary(platform, inputs.summary, {
            runner: info,
            pool,
            runnerReason: reason,
            steps: error.steps,
            warnings: [],
            failure: error.message,
            durationMs: Date.now() - started,
          });
        }
        throw error;
      }
      retriesLeft--;
      lastGone = error;
      leftBehind = [...leftBehind, `${error.endpoint} went away mid-build (${goneHow(error)})`];
      reporter.warning(
        `${error.message.replace(/\.$/, "")}; running the whole build again on another runner of the pool (${inputs.retries - retriesLeft} of ${inputs.retries}).`,
      );
      endpoints = others;
    } finally {
      await release();
    }
  }
}

function goneHow(error: RunnerGoneError): string {
  return error instanceof RunnerUnresponsiveError ? "stopped answering" : "connection lost";
}

/** Connects to the runner the inputs name, for a command that only asks about it (the CLI's info). */
export async function connectToRunner(read: ReadInputs, platform: JobPlatform): Promise<AcquiredRunner> {
  return connect(read, runnerOptions(read), platform, platform.signal);
}

/** The runner (or pool) the inputs name, or one started where the platform keeps it. */
function connect(
  read: ReadInputs,
  runner: RunnerOptions,
  platform: JobPlatform,
  signal: AbortSignal,
  request?: BuildRequest,
  startConfig?: StartedRunnerConfig,
): Promise<AcquiredRunner> {
  const { values: inputs } = read;
  return acquireRunner({
    runner,
    names: runnerInputNames(read),
    platforms: request?.plan.platforms ?? [],
    strictPlatforms: inputs.strictPlatforms,
    start:
      request && platform.localRunner
        ? {
            ...platform.localRunner,
            release: {
              urlPattern: inputs.releaseUrl,
              sha256: inputs.sha256,
              githubToken: inputs.githubToken,
            },
            config: startConfig,
          }
        : undefined,
    reporter: platform.reporter,
    env: platform.env,
    signal,
    routing: {
      mode: inputs.routing,
      affinityKey:
        inputs.affinityKey ??
        (request &&
          defaultAffinityKey({
            env: platform.env,
            cwd: platform.cwd,
            contextDir: request.plan.contextDir,
            dockerfile: `${request.plan.dockerfileDir}/${request.plan.dockerfileName}`,
            target: request.plan.target,
          })),
      busyTimeoutMs: inputs.busyTimeoutMs,
    },
    fallback: inputs.fallback,
  });
}

/** The local and file outputs as one artifact, where the platform has artifacts and the inputs want one. */
async function uploadOutputs(
  read: ReadInputs,
  platform: JobPlatform,
  request: BuildRequest,
): Promise<(UploadedArtifact & { name: string }) | undefined> {
  const { values: inputs, names } = read;
  const received: OutputToUpload[] = request.exporters.flatMap((exporter) => {
    const target = outputTarget(exporter);
    if (!target || target.kind === "stream") return [];
    return [target.kind === "dir" ? { kind: "dir" as const, path: target.dir } : target];
  });
  if (!platform.uploadArtifact || !inputs.uploadArtifact || received.length === 0) return undefined;
  const upload = platform.uploadArtifact.bind(platform);
  const uploaded = await platform.reporter.group("Uploading the outputs as an artifact", () =>
    upload(received, {
      name: inputs.artifactName,
      retentionDays: inputs.artifactRetentionDays,
      nameInput: names.artifactName,
      retentionInput: names.artifactRetentionDays,
      signal: platform.signal,
    }),
  );
  for (const path of uploaded.skipped) {
    platform.reporter.warning(
      `${path} was left out of the artifact: it is not a regular file of the output.`,
    );
  }
  platform.reporter.info(
    `Uploaded artifact ${uploaded.name} (${uploaded.files} files, ${uploaded.size} bytes): ${uploaded.url}`,
  );
  platform.setOutput("artifact-id", String(uploaded.id));
  platform.setOutput("artifact-url", uploaded.url);
  return uploaded;
}

async function writeSummary(platform: JobPlatform, wanted: boolean, input: BuildSummaryInput): Promise<void> {
  if (wanted) await platform.writeSummary?.(buildSummaryMarkdown(input));
}
