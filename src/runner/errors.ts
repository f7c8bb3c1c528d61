// The runner layer's failures that are not the user's input.
import { UserError } from "../errors.js";

/** Starting, downloading or stopping a local runner failed; the message is one sentence. */
export class RunnerStartError extends UserError {
  override name = "RunnerStartError";
}
