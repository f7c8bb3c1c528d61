import type { SourceLocation } from "./error-details.js";

// Typed errors of the BuildKit client. Each carries a complete sentence for a person: the
// adapters print `message` as it is and never a stack trace for these.

/** The base of every error that the client library raises on purpose. */
export class BuildkitError extends Error {
  override name = "BuildkitError";
}

/** An endpoint that cannot be parsed or uses a scheme we do not speak. */
export class EndpointError extends BuildkitError {
  override name = "EndpointError";
}

/** TLS material that is missing, unreadable, malformed or inconsistent. */
export class TlsConfigError extends BuildkitError {
  override name = "TlsConfigError";
}

/** The runner could not be reached, did not answer in time, or refused the connection. */
export class ConnectionError extends BuildkitError {
  override name = "ConnectionError";
  constructor(
    message: string,
    readonly endpoint: string,
  ) {
    super(message);
  }
}

/**
 * The runner went away while a build was running on it: the connection dropped, or the runner
 * stopped answering. The build itself did not fail, so it may be run again on another runner.
 */
export class RunnerGoneError extends ConnectionError {
  override name = "RunnerGoneError";
}

/** The connection to the runner closed or was reset mid-build. */
export class ConnectionLostError extends RunnerGoneError {
  override name = "ConnectionLostError";
}

/** The runner (or the link to it) stopped answering mid-build: frozen, or packets black-holed. */
export class RunnerUnresponsiveError extends RunnerGoneError {
  override name = "RunnerUnresponsiveError";
}

/** The runner answered a call with an error status. */
export class RpcError extends BuildkitError {
  override name = "RpcError";
  constructor(
    message: string,
    readonly code: number,
    readonly details: string,
    /** Where in the Dockerfile BuildKit says the failure is, when it says. */
    readonly sources: SourceLocation[] = [],
  ) {
    super(message);
  }
}

/** The operation was cancelled through its AbortSignal. */
export class CancelledError extends BuildkitError {
  override name = "CancelledError";
}

/** A build output could not be received. */
export class FileSendError extends BuildkitError {
  override name = "FileSendError";
}

/** The runner sent a path that would land outside the destination; nothing was written there. */
export class UnsafeOutputPathError extends FileSendError {
  override name = "UnsafeOutputPathError";
  constructor(
    readonly path: string,
    readonly destination: string,
    reason: string,
  ) {
    super(`Refused the output path ${JSON.stringify(path)} from the runner: ${reason} ${destination}.`);
  }
}
