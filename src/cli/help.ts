// The flags part of each command's --help, from the input table: one block per section, each flag
// with its value's placeholder and its help, aligned as docker's and buildctl's help are.
import { isFlag, takes, HELP_SECTIONS, type Command, type HelpSection, type Row } from "../job/inputs/row.js";
import { INPUTS } from "../job/inputs/table.js";

const TITLES: Record<HelpSection, string | undefined> = {
  command: undefined,
  build: "Build:",
  image: "Image:",
  outputs: "Outputs (repeatable; the runner streams them back here):",
  secrets: "Secrets and credentials (values are never printed; the log shows *** instead):",
  connection: "Runner connection:",
  general: "General:",
};

/** Where a flag's help starts; a flag with its value longer than this leaves two spaces, else wraps. */
const HELP_COLUMN = 34;

export function flagsHelp(command: Command): string {
  const rows = Object.values(INPUTS) as Row[];
  const blocks: string[] = [];
  for (const section of HELP_SECTIONS) {
    const lines: string[] = [];
    for (const row of rows) {
      if (!takes(row, "cli", command) || !isFlag(row.cli) || row.cli.section !== section) continue;
      const { flag, short, value, help } = row.cli;
      const left = `  ${short ? `-${short}, ` : "    "}--${flag}${value ? ` ${value}` : ""}`;
      const [first = "", ...rest] = help;
      if (left.length <= HELP_COLUMN - 2) lines.push(`${left.padEnd(HELP_COLUMN)}${first}`);
      else lines.push(left, `${" ".repeat(HELP_COLUMN)}${first}`);
      for (const line of rest) lines.push(`${" ".repeat(HELP_COLUMN)}${line}`);
    }
    if (lines.length === 0) continue;
    const title = TITLES[section];
    blocks.push([...(title ? [title] : []), ...lines].join("\n"));
  }
  return blocks.join("\n\n");
}
