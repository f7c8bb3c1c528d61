// The runner layer's failures that are not the user's input.
import { BuildkitError } from "../buildkit/errors.js";

/** Starting, downloading or stopping a local runner failed; the message is one sentence. */
export class RunnerStartError extends BuildkitError {
  override name = "RunnerStartError";
}
