// The build's own failure, as the job reports it.
import type { LocalSourceLocation, StepSummary } from "../report/build-model.js";
import { UserError } from "../errors.js";

/** The runner ran the build and it failed (a RUN step, a Dockerfile error): BuildKit's message. */
export class BuildFailedError extends UserError {
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

/** The build's deadline (the timeout input) passed; the build was cancelled on the runner. */
export class BuildTimeoutError extends UserError {
  override name = "BuildTimeoutError";
}
