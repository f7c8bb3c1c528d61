// The action's post step: cleanup. Nothing the main step starts needs stopping yet; a
// failure here only warns, never fails the job.
import * as core from "@actions/core";
import { describeError } from "../errors.js";

export async function runPostStep(): Promise<void> {
  try {
    core.debug("remote-buildkit post step: nothing to clean up");
  } catch (error) {
    core.warning(`Cleanup failed: ${describeError(error).message}`);
  }
}
