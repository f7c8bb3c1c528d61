// Every input of the program, declared once: the action's input, the CLI's flag, the environment
// variable, the default, the parser and the CLI's help, per row. The field a row fills is its key.
// The GitHub adapter reads action inputs through it, the CLI builds its flags and --help from it,
// and unit tests check action.yml and the README against it. The rows live in rows/, by what they
// are about. Adding an input is a row there, the use of its field, and a test.
import { BUILD_INPUTS } from "./rows/build.js";
import { CACHE_INPUTS } from "./rows/cache.js";
import { COMMAND_INPUTS } from "./rows/command.js";
import { FLEET_INPUTS } from "./rows/fleet.js";
import { IMAGE_INPUTS } from "./rows/image.js";
import { OUTPUT_INPUTS } from "./rows/outputs.js";
import { RUNNER_INPUTS } from "./rows/runner.js";
import { SECRET_INPUTS } from "./rows/secrets.js";

/** In this order: --help lists each section's flags as they come here. */
export const INPUTS = {
  ...RUNNER_INPUTS,
  ...FLEET_INPUTS,
  ...BUILD_INPUTS,
  ...CACHE_INPUTS,
  ...IMAGE_INPUTS,
  ...OUTPUT_INPUTS,
  ...SECRET_INPUTS,
  ...COMMAND_INPUTS,
};
