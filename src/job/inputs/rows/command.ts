// The input table's rows for one CLI command's own flags.
import { parseChoice } from "../../../values.js";
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
    parse: (value, { name }) => parseChoice(value!, name, ["text", "json"]),
  }),
};
