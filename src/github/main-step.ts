// The action's main step: validate every input, resolve the runner, run the build with its log
// in the job, then annotations, the job summary and the outputs.
import * as core from "@actions/core";
import { silenceIpServerNameWarning, type RunnerInfo } from "../buildkit/client.js";
import { parseBuildPlan } from "../job/plan.js";
import type { BuildResult } from "../job/run.js";
import { buildOnAcquired } from "../job/across-runners.js";
import { describeError } from "../errors.js";
import { BuildFailedError } from "../job/errors.js";
import type { LocalSourceLocation } from "../report/build-model.js";
import { runnerOutputs } from "../outputs/runner.js";
import { annotationFile, buildSummaryMarkdown, describeWarning } from "../report/build-summary.js";
import { describeRunner } from "../report/runner-summary.js";
import { parseRunnerOptions } from "../runner/options.js";
import { acquireRunner } from "../runner/acquire.js";
import { startForJob } from "./runner-start.js";
import {
  ACTION_BUILD_NAMES,
  ACTION_JOB_NAMES,
  ACTION_RUNNER_NAMES,
  maskMultiline,
  readBuildInputs,
  readJobInputs,
  readArtifactInputs,
  readPoolInputs,
  INPUT,
  readRunnerInputs,
} from "./inputs.js";
import { prepareJob } from "../job/prepare.js";
import { imageOutputs } from "../outputs/image.js";
import { checkExporterCount } from "../outputs/exporters.js";
import { uploadOutputArtifacts } from "../outputs/artifacts.js";
import { GithubReporter } from "./reporter.js";

export async function runMainStep(): Promise<void> {
  silenceIpServerNameWarning();
  const reporter = new GithubReporter();
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  let runner: RunnerInfo | undefined;
  const started = Date.now();
  try {
    // Every input is checked before anything starts on the runner.
    const options = parseRunnerOptions(readRunnerInputs(), ACTION_RUNNER_NAMES);
    const plan = parseBuildPlan(readBuildInputs(), ACTION_BUILD_NAMES);
    const artifacts = readArtifactInputs();
    const job = prepareJob(readJobInputs(), ACTION_JOB_NAMES, {
      cwd: process.cwd(),
      env: process.env,
      onSecret: maskMultiline,
    });
    const pool = readPoolInputs();
    const acquired = await reporter.group("Connecting to the BuildKit runner", async () => {
      const acquired = await acquireRunner({
        runner: options,
        names: ACTION_RUNNER_NAMES,
        platforms: plan.platforms,
        strictPlatforms: pool.strictPlatforms,
        start: startForJob(pool),
        reporter,
        env: process.env,
        signal: controller.signal,
      });
      for (const line of describeRunner(acquired.info)) reporter.info(line);
      return acquired;
    });
    const { info, reason, release } = acquired;
    runner = info;
    core.setOutput("runner-reason", reason);
    checkExporterCount(job.buildOptions.exporters?.length ?? 0, info);
    for (const [name, value] of Object.entries(runnerOutputs(info))) core.setOutput(name, value);
    let result: BuildResult;
    try {
      result = await reporter.group("Build", () =>
        buildOnAcquired(
          acquired,
          plan,
          {
            ...job.buildOptions,
            newRedactor: job.newRedactor,
            writeLog: (text) => process.stdout.write(text),
            signal: controller.signal,
          },
          pool.strictPlatforms,
          reporter,
        ),
      );
    } finally {
      await release();
    }
    for (const warning of result.warnings) {
      core.warning(describeWarning(warning), annotationAt(warning.locations[0], "Build warning"));
    }
    const received = job.outputTargets.flatMap((target) =>
      target ? [target.kind === "dir" ? { kind: "dir" as const, path: target.dir } : target] : [],
    );
    let artifact: { id: number; url: string } | undefined;
    if (artifacts.upload && received.length > 0) {
      const uploaded = await reporter.group("Uploading the outputs as an artifact", () =>
        uploadOutputArtifacts(received, {
          name: artifacts.name,
          retentionDays: artifacts.retentionDays,
          nameInput: `input ${INPUT.artifactName}`,
          retentionInput: `input ${INPUT.artifactRetentionDays}`,
          signal: controller.signal,
        }),
      );
      for (const path of uploaded.skipped)
        core.warning(`${path} was left out of the artifact: it is not a regular file of the output.`);
      core.info(
        `Uploaded artifact ${uploaded.name} (${uploaded.files} files, ${uploaded.size} bytes): ${uploaded.url}`,
      );
      core.setOutput("artifact-id", String(uploaded.id));
      core.setOutput("artifact-url", uploaded.url);
      artifact = uploaded;
    }
    const image = imageOutputs(result.exporterResponse);
    for (const [name, value] of Object.entries(image)) core.setOutput(name, value);
    const names = job.image.exporterAttrs?.name?.split(",") ?? [];
    await writeJobSummary({
      runner: info,
      ...result,
      image: { names, digest: image.digest, pushed: job.image.exporterAttrs?.push === "true" },
      artifact: artifact && { name: artifacts.name, ...artifact },
      durationMs: Date.now() - started,
    });
  } catch (error) {
    const described = describeError(error);
    if (described.stack) core.debug(described.stack);
    if (error instanceof BuildFailedError) {
      // One annotation on the Dockerfile line BuildKit names, instead of setFailed's bare one.
      core.error(described.message, annotationAt(error.locations[0], "Build failed"));
      process.exitCode = described.exitCode;
      if (runner) {
        await writeJobSummary({
          runner,
          steps: error.steps,
          warnings: [],
          failure: error.message,
          durationMs: Date.now() - started,
        });
      }
    } else {
      core.setFailed(described.message);
    }
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
}

function annotationAt(location: LocalSourceLocation | undefined, title: string): core.AnnotationProperties {
  if (!location) return { title };
  return {
    title,
    file: annotationFile(location, process.env.GITHUB_WORKSPACE ?? process.cwd()),
    startLine: location.startLine,
    endLine: location.endLine,
  };
}

/** Only where the runner gives a summary file; a failure to write it must not fail the build. */
async function writeJobSummary(input: Parameters<typeof buildSummaryMarkdown>[0]): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  try {
    await core.summary.addRaw(buildSummaryMarkdown(input)).write();
  } catch (error) {
    core.warning(`The job summary could not be written: ${(error as Error).message}`);
  }
}
