// The build sequence, once for every adapter: every input checked, the runner resolved (or
// started), the build with its log, then warnings, artifacts, step outputs, the metadata file and
// the job summary, each through the platform. The adapters only read inputs and present errors.
import { checkExporterCount, outputTarget } from "../outputs/exporters.js";
import { writeDotenvFile } from "../outputs/dotenv.js";
import { imageOutputs, writeMetadataFile } from "../outputs/image.js";
import { runnerOutputs } from "../outputs/runner.js";
import { buildSummaryMarkdown, describeWarning, type BuildSummaryInput } from "../report/build-summary.js";
import type { ClosingInput } from "../report/closing.js";
import { writeCodeQualityReport } from "../report/code-quality.js";
import { describeRunner } from "../report/runner-summary.js";
import { acquireRunner, type AcquiredRunner } from "../runner/acquire.js";
import type { StartedRunnerConfig } from "../runner/daemon/config.js";
import type { RunnerOptions } from "../runner/options.js";
import { buildOnAcquired } from "./across-runners.js";
import { BuildFailedError } from "./errors.js";
import type { ReadInputs } from "./inputs/read.js";
import type { JobPlatform, OutputToUpload, StepOutput, UploadedArtifact } from "./platform.js";
import {
  prepareBuild,
  runnerInputNames,
  runnerOptions,
  startedRunnerConfig,
  type BuildRequest,
} from "./request.js";
import type { BuildResult } from "./run.js";

/** Runs the build; what it returns is what the adapters close the log with (buildClosingLines). */
export async function runBuildJob(read: ReadInputs, platform: JobPlatform): Promise<ClosingInput> {
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
  const acquired = await reporter.group("Connecting to the BuildKit runner", async () => {
    const acquired = await connect(read, runner, platform, request, startConfig);
    for (const line of describeRunner(acquired.info)) reporter.info(line);
    return acquired;
  });
  const { info, reason, release } = acquired;
  reporter.debug(`Runner chosen: ${reason}`);
  setOutput("runner-reason", reason);
  let result: BuildResult;
  try {
    checkExporterCount(request.exporters.length, info);
    for (const [name, value] of Object.entries(runnerOutputs(info))) {
      setOutput(name as keyof ReturnType<typeof runnerOutputs>, value);
    }
    result = await reporter.group("Build", () =>
      buildOnAcquired(
        acquired,
        request,
        {
          ...request.session,
          redactor: request.newRedactor(),
          newRedactor: request.newRedactor,
          writeLog: (text) => platform.writeLog(text),
          signal: platform.signal,
        },
        inputs.strictPlatforms,
        reporter,
      ),
    );
  } catch (error) {
    if (error instanceof BuildFailedError) {
      await writeSummary(platform, {
        runner: info,
        steps: error.steps,
        warnings: [],
        failure: error.message,
        durationMs: Date.now() - started,
      });
    }
    throw error;
  } finally {
    await release();
  }
  for (const warning of result.warnings) {
    reporter.warning(describeWarning(warning), { title: "Build warning", location: warning.locations[0] });
  }
  const artifact = await uploadOutputs(read, platform, request);
  const image = imageOutputs(result.exporterResponse);
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
  await writeSummary(platform, {
    runner: info,
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

/** Connects to the runner the inputs name, for a command that only asks about it (the CLI's info). */
export async function connectToRunner(read: ReadInputs, platform: JobPlatform): Promise<AcquiredRunner> {
  return connect(read, runnerOptions(read), platform);
}

/** The runner (or pool) the inputs name, or one started where the platform keeps it. */
function connect(
  read: ReadInputs,
  runner: RunnerOptions,
  platform: JobPlatform,
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
    signal: platform.signal,
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
    if (!target) return [];
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

async function writeSummary(platform: JobPlatform, input: BuildSummaryInput): Promise<void> {
  await platform.writeSummary?.(buildSummaryMarkdown(input));
}
