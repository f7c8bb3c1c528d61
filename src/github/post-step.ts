// The action's post step: stop the runner the main step started, if it started one, and save its
// cache. A failure here only warns, never fails the job.
import { describeError } from "../errors.js";
import { stopActionRunner } from "./local-runner.js";
import { GithubReporter } from "./reporter.js";

export async function runPostStep(): Promise<void> {
  const reporter = new GithubReporter();
  try {
    await stopActionRunner(reporter);
  } catch (error) {
    reporter.warning(`Cleanup failed: ${describeError(error).message}`);
  }
}
