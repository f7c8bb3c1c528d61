// The input table's rows for one CLI command's own flags.
import { InputError } from "../../../errors.js";
import { text } from "../row.js";

export const COMMAND_INPUTS = {
  format: text({
    cli: {
      flag: "format",
      value: "text|json",
      commands: ["info"],
      section: "command",
      help: ["output format (default text)"],
    },
    default: "text",
    parse: (value, { name }) => {
      if (value !== "text" && value !== "json")
        throw new InputError(`${name} is "${value}"; use text or json.`);
      return value;
    },
  }),
};
