// The runner layer's failures that are not the user's input.
import { InputError, UserError } from "../errors.js";

/** Starting, downloading or stopping a local runner failed; the message is one sentence. */
export class RunnerStartError extends UserError {
  override name = "RunnerStartError";
}

/** Nothing was given, nothing answers on the default socket, and this command starts no runner. */
export class NoRunnerError extends UserError {
  override name = "NoRunnerError";
}

/** buildkitd refused the configuration it was given (buildkitd-config, buildkitd-flags) at start. */
export class DaemonConfigError extends InputError {
  override name = "DaemonConfigError";
}
