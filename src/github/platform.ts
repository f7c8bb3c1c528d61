// The job's platform on GitHub Actions: workflow commands for the log, masking, step outputs and the
// job summary, the artifact service for outputs, the tool cache and GitHub's cache for a runner
// started for the job.
import * as core from "./workflow-commands.js";
import type { JobPlatform } from "../job/platform.js";
import { secretPieces } from "../report/redact.js";
import { uploadOutputArtifacts } from "./artifacts.js";
import { actionLocalRunner } from "./local-runner.js";
import { GithubReporter } from "./reporter.js";

export function githubPlatform(signal: AbortSignal): JobPlatform {
  const reporter = new GithubReporter();
  return {
    reporter,
    writeLog: (text) => process.stdout.write(text),
    writeResult: (text) => process.stdout.write(text),
    mask: maskSecret,
    setOutput: (name, value) => core.setOutput(name, value),
    writeSummary: async (markdown) => {
      // A failure to write the summary must not fail the build.
      try {
        await core.appendSummary(markdown);
      } catch (error) {
        reporter.warning(`The job summary could not be written: ${(error as Error).message}`);
      }
    },
    uploadArtifact: (outputs, settings) => uploadOutputArtifacts(outputs, settings),
    localRunner: actionLocalRunner(),
    env: process.env,
    cwd: process.cwd(),
    signal,
  };
}

/** GitHub masks a registered value only where it appears whole; each line of one is registered too. */
export function maskSecret(value: string): void {
  for (const piece of secretPieces(value)) core.setSecret(piece);
}
