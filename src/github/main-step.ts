// The action's main step: the inputs through the input table, then the build job; a failure is one
// error annotation (on the Dockerfile line BuildKit names, for a failed build) and a failed step.
import * as core from "./workflow-commands.js";
import { describeError, EXIT_FAILED } from "../errors.js";
import { runBuildJob } from "../job/build-job.js";
import { BuildFailedError } from "../job/errors.js";
import { startProcess } from "../job/process.js";
import { buildClosingLines } from "../report/closing.js";
import { readActionInputs } from "./inputs.js";
import { githubPlatform, maskSecret } from "./platform.js";

export async function runMainStep(): Promise<void> {
  const { signal, end } = startProcess();
  const platform = githubPlatform(signal);
  try {
    const outcome = await runBuildJob(await readActionInputs(maskSecret), platform);
    if (outcome) for (const line of buildClosingLines(outcome)) platform.reporter.info(line);
  } catch (error) {
    const described = describeError(error);
    if (described.stack) core.debug(described.stack);
    platform.reporter.error(
      described.message,
      error instanceof BuildFailedError ? { title: "Build failed", location: error.locations[0] } : undefined,
    );
    process.exitCode = EXIT_FAILED;
  } finally {
    end();
  }
}
