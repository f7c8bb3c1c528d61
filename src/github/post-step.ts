// The action's post step: stop the runner the main step started, if it started one, and save its
// cache. A failure here only warns, never fails the job.
import * as core from "@actions/core";
import { describeError } from "../errors.js";
import { stopJobRunner } from "./runner-start.js";

export async function runPostStep(): Promise<void> {
  try {
    await stopJobRunner();
  } catch (error) {
    core.warning(`Cleanup failed: ${describeError(error).message}`);
  }
}
