// The action's main step: resolve the runner, report it, set the outputs.
import * as core from "@actions/core";
import { silenceIpServerNameWarning } from "../buildkit/client.js";
import { describeError } from "../errors.js";
import { runnerOutputs } from "../outputs/runner.js";
import { describeRunner } from "../report/runner-summary.js";
import { parseRunnerOptions } from "../runner/options.js";
import { resolveRunner } from "../runner/resolve.js";
import { ACTION_RUNNER_NAMES, readRunnerInputs } from "./inputs.js";
import { GithubReporter } from "./reporter.js";

export async function runMainStep(): Promise<void> {
  silenceIpServerNameWarning();
  const reporter = new GithubReporter();
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    const options = parseRunnerOptions(readRunnerInputs(), ACTION_RUNNER_NAMES);
    const { client, info } = await reporter.group("Connecting to the BuildKit runner", async () => {
      const resolved = await resolveRunner(options, ACTION_RUNNER_NAMES, reporter, controller.signal);
      for (const line of describeRunner(resolved.info)) reporter.info(line);
      return resolved;
    });
    client.close();
    for (const [name, value] of Object.entries(runnerOutputs(info))) core.setOutput(name, value);
  } catch (error) {
    const described = describeError(error);
    if (described.stack) core.debug(described.stack);
    core.setFailed(described.message);
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
}
