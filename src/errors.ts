// The errors a person reads, and the one place where any error becomes what the adapters show:
// a user error is one sentence and an exit code; the client library's errors (BuildkitError) are
// translated here; anything else is a bug and keeps its stack for the debug log.
import { BuildkitError, EndpointError, TlsConfigError } from "./buildkit/index.js";

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The root of the errors whose message is a sentence for the user; the exit code says which kind. */
export class UserError extends Error {
  override name = "UserError";
  /** 1: the job failed; 2: the command line or an input is wrong. */
  readonly exitCode: number = EXIT_FAILED;
}

/** A value the user gave is malformed or inconsistent. The message names the input. */
export class InputError extends UserError {
  override name = "InputError";
  override readonly exitCode: number = EXIT_USAGE;
}

/** A check the user asked for did not pass (a version pin, say). */
export class PolicyError extends UserError {
  override name = "PolicyError";
}

export interface DescribedError {
  message: string;
  exitCode: number;
  /** Set for unexpected errors: the stack, for the debug log. */
  stack?: string;
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof UserError) return { message: error.message, exitCode: error.exitCode };
  // An endpoint or TLS material the library cannot use came from the user's input.
  if (error instanceof EndpointError || error instanceof TlsConfigError) {
    return { message: error.message, exitCode: EXIT_USAGE };
  }
  if (error instanceof BuildkitError) return { message: error.message, exitCode: EXIT_FAILED };
  const asError = error instanceof Error ? error : new Error(String(error));
  return {
    message: `Unexpected error: ${asError.message}`,
    exitCode: EXIT_FAILED,
    stack: asError.stack,
  };
}
