// The boundary between errors and what a person sees: user errors become one sentence and an
// exit code; anything else is a bug and keeps its stack for the debug log.
import { BuildkitError, EndpointError, TlsConfigError } from "./buildkit/errors.js";
import type { LocalSourceLocation, StepSummary } from "./report/build-model.js";

/** A value the user gave is malformed or inconsistent. The message names the input. */
export class InputError extends Error {
  override name = "InputError";
}

/** A check the user asked for did not pass (a version pin, say). */
export class PolicyError extends Error {
  override name = "PolicyError";
}

/** Outputs could not become a workflow artifact: no artifact service, a refused name, a failed upload. */
export class ArtifactError extends Error {
  override name = "ArtifactError";
}

/** The runner ran the build and it failed (a RUN step, a Dockerfile error): BuildKit's message. */
export class BuildFailedError extends Error {
  override name = "BuildFailedError";
  constructor(
    message: string,
    /** Where in the Dockerfile BuildKit says the failure is, with the local file when known. */
    readonly locations: LocalSourceLocation[] = [],
    /** The steps as far as they went, for the job summary. */
    readonly steps: StepSummary[] = [],
  ) {
    super(message);
  }
}

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface DescribedError {
  message: string;
  exitCode: number;
  /** Set for unexpected errors: the stack, for the debug log. */
  stack?: string;
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof InputError || error instanceof EndpointError || error instanceof TlsConfigError) {
    return { message: error.message, exitCode: EXIT_USAGE };
  }
  if (
    error instanceof BuildkitError ||
    error instanceof PolicyError ||
    error instanceof BuildFailedError ||
    error instanceof ArtifactError
  ) {
    return { message: error.message, exitCode: EXIT_FAILED };
  }
  const asError = error instanceof Error ? error : new Error(String(error));
  return {
    message: `Unexpected error: ${asError.message}`,
    exitCode: EXIT_FAILED,
    stack: asError.stack,
  };
}
