// The action's inputs, read through the input table from the environment (workflow-commands.ts):
// list inputs one item per line (docker/build-push-action's syntax), switches strictly true or
// false.
import * as core from "./workflow-commands.js";
import { InputError } from "../errors.js";
import { BUILD_PUSH_ACTION_INPUTS, refusedBuildPushActionInput } from "../job/inputs/build-push-action.js";
import { readInputs, type InputSource, type ReadInputs } from "../job/inputs/read.js";

const actionSource: InputSource = {
  adapter: "action",
  text: (row) => core.getInput(row.action!) || undefined,
  list: (row) => core.getMultilineInput(row.action!),
  switch: (row) => core.getInput(row.action!) || undefined,
};

/** Every input, checked; `mask` hides secret values in the job's log the moment they are read. */
export function readActionInputs(mask: (value: string) => void): Promise<ReadInputs> {
  refuseForeignInputs(process.env);
  return readInputs(actionSource, { env: process.env, cwd: process.cwd(), mask });
}

/** A build-push-action input we do not take, given anyway: GitHub would only warn, so we refuse it. */
function refuseForeignInputs(env: NodeJS.ProcessEnv): void {
  for (const name of BUILD_PUSH_ACTION_INPUTS) {
    const given = env[`INPUT_${name.toUpperCase()}`];
    // `load: false` and the like are build-push-action's defaults: nothing is asked for.
    if (given === undefined || given.trim() === "" || given.trim() === "false") continue;
    const refusal = refusedBuildPushActionInput(name);
    if (refusal) throw new InputError(refusal);
  }
}
