// The action's inputs, read through the input table with @actions/core: list inputs one item per
// line (docker/build-push-action's syntax), switches strictly true or false.
import * as core from "@actions/core";
import { readInputs, type InputSource, type ReadInputs } from "../job/inputs/read.js";

const actionSource: InputSource = {
  adapter: "action",
  text: (row) => core.getInput(row.action!) || undefined,
  list: (row) => core.getMultilineInput(row.action!),
  switch: (row) => core.getInput(row.action!) || undefined,
};

/** Every input, checked; `mask` hides secret values in the job's log the moment they are read. */
export function readActionInputs(mask: (value: string) => void): ReadInputs {
  return readInputs(actionSource, { env: process.env, cwd: process.cwd(), mask });
}
