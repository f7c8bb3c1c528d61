// The input table is the one declaration of every input: its rows are consistent, and the README's
// input tables and the CLI flags it names are the table's.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { flagOptions } from "../../src/cli/flags.js";
import { buildHelp } from "../../src/cli/commands/build.js";
import { infoHelp } from "../../src/cli/commands/info.js";
import { isFlag, type Command, type Row } from "../../src/job/inputs/row.js";
import { INPUTS } from "../../src/job/inputs/table.js";
import { STEP_OUTPUTS } from "../../src/job/platform.js";

const ROWS = Object.values(INPUTS) as Row[];
const README = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
const COMMANDS: Command[] = ["build", "info"];

/** A level-2 section of the README, by its title. */
function section(title: string): string {
  return new RegExp(`^## ${title}\\n([\\s\\S]*?)(?=^## |$(?![\\s\\S]))`, "m").exec(README)?.[1] ?? "";
}

/** The names in the first column of the section's tables whose first header cell is `header`. */
function tableNames(text: string, header: string): string[] {
  const names: string[] = [];
  for (const table of text.split(/\n(?!\|)/)) {
    const lines = table.split("\n").filter((line) => line.startsWith("|"));
    if (lines.length < 2 || lines[0]!.split("|")[1]!.trim() !== header) continue;
    for (const line of lines.slice(2)) {
      names.push(...[...line.split("|")[1]!.matchAll(/`([a-z0-9-]+)`/g)].map((match) => match[1]!));
    }
  }
  return names;
}

describe("the input table", () => {
  it("names each action input, CLI flag and short flag once per command", () => {
    const actions = ROWS.flatMap((row) => (row.action ? [row.action] : []));
    assert.equal(new Set(actions).size, actions.length);
    for (const command of COMMANDS) {
      const flags = ROWS.filter((row) => isFlag(row.cli) && row.cli.commands.includes(command));
      const longs = flags.map((row) => (isFlag(row.cli) ? row.cli.flag : ""));
      const shorts = flags.flatMap((row) => (isFlag(row.cli) && row.cli.short ? [row.cli.short] : []));
      assert.equal(new Set(longs).size, longs.length, command);
      assert.equal(new Set(shorts).size, shorts.length, command);
    }
  });

  it("gives every CLI flag a line of help, and --help shows each flag of the command", () => {
    for (const [command, help] of [
      ["build", buildHelp("remote-buildkit")],
      ["info", infoHelp("remote-buildkit")],
    ] as const) {
      for (const flag of Object.keys(flagOptions(command))) {
        assert.match(
          help,
          new RegExp(`^ {2}(-\\w, | {4})--${flag}\\b`, "m"),
          `--${flag} in ${command} --help`,
        );
      }
    }
    for (const row of ROWS) if (isFlag(row.cli)) assert.ok(row.cli.help.length > 0, row.cli.flag);
  });

  it("has an input or a flag in every row, and a way in for every environment variable it reads", () => {
    for (const row of ROWS) {
      assert.ok(row.action !== undefined || row.cli !== undefined || row.cliName !== undefined);
      for (const adapter of row.env?.adapters ?? []) {
        assert.ok(adapter === "action" ? row.action : (row.cli ?? row.action), row.env!.name);
      }
    }
  });
});

describe("the README", () => {
  it("lists exactly the action's inputs in its input tables", () => {
    const listed = tableNames(section("The GitHub Action"), "input");
    assert.deepEqual([...listed].sort(), ROWS.flatMap((row) => (row.action ? [row.action] : [])).sort());
  });

  it("lists exactly the step outputs the job sets", () => {
    assert.deepEqual(tableNames(section("The GitHub Action"), "output").sort(), [...STEP_OUTPUTS].sort());
  });

  it("names only flags the CLI has", () => {
    const known = new Set(COMMANDS.flatMap((command) => Object.keys(flagOptions(command))));
    known.add("version"); // the program's own flag, before any command (src/cli/run.ts)
    const named = [...section("The CLI").matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((match) => match[1]!);
    assert.ok(named.length > 0);
    for (const flag of named) assert.ok(known.has(flag), `--${flag}`);
  });
});
