// The CLI's flags, built from the input table on node:util's parseArgs, with the sentences and
// exit code 2 that a usage error deserves; and the table's reading of what they gave.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../errors.js";
import { listItems } from "../values.js";
import { readInputs, type InputSource, type ReadInputs } from "../job/inputs/read.js";
import { isFlag, takes, type Command, type Row } from "../job/inputs/row.js";
import { INPUTS } from "../job/inputs/table.js";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedFlags {
  command: Command;
  values: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
}

/** The command's flags, as parseArgs takes them: every table row with a flag for the command. */
export function flagOptions(command: Command): OptionSpec {
  const options: OptionSpec = {};
  for (const row of Object.values(INPUTS) as Row[]) {
    if (!takes(row, "cli", command) || !isFlag(row.cli)) continue;
    const short = row.cli.short === undefined ? {} : { short: row.cli.short };
    options[row.cli.flag] =
      row.kind === "switch"
        ? { type: "boolean", ...short }
        : { type: "string", multiple: row.kind === "list", ...short };
  }
  return options;
}

/** Reads the command line's shape only (flags and arguments); the values are checked by readFlags. */
export function parseFlags(command: Command, args: string[], program: string): ParsedFlags {
  try {
    const { values, positionals } = parseArgs({
      args: withInlinePem(command, args),
      options: flagOptions(command),
      allowPositionals: true,
      strict: true,
    });
    return { command, values: values as ParsedFlags["values"], positionals };
  } catch (error) {
    const see = `see "${program} ${command} --help"`;
    throw new InputError(`${rephrase((error as Error).message, command)} (${see}).`);
  }
}

/**
 * A flag's value that is PEM text starts with dashes ("-----BEGIN"), which parseArgs takes for a
 * flag and refuses; the help offers PEM text as a value, so such a value is joined to its flag.
 */
function withInlinePem(command: Command, args: string[]): string[] {
  const options = flagOptions(command);
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const flag = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    if (flag !== undefined && options[flag]?.type === "string" && next?.startsWith("-----BEGIN ")) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** parseArgs' messages are long and mention things a user does not need; keep the first clause. */
function rephrase(message: string, command: Command): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) {
    const near = nearestFlag(unknown[1]!, Object.keys(flagOptions(command)));
    return `Unknown flag ${unknown[1]}${near ? `; did you mean --${near}?` : ""}`;
  }
  const missing = /Option '([^']+)' argument missing/.exec(message);
  if (missing) return `Flag ${missing[1]!.replace(/^-\w, /, "").replace(/ <value>$/, "")} needs a value`;
  return message.split(". ")[0]!.replace(/\.$/, "");
}

/** The flag a misspelling most likely meant: the closest within two edits (--taget, --tags). */
export function nearestFlag(given: string, flags: string[]): string | undefined {
  const name = given.replace(/^-+/, "").split("=")[0]!;
  let best: { flag: string; distance: number } | undefined;
  for (const flag of flags) {
    const distance = editDistance(name, flag);
    if (distance <= Math.min(2, Math.floor(flag.length / 3)) && (!best || distance < best.distance)) {
      best = { flag, distance };
    }
  }
  return best?.flag;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/** Every input of the command, checked through the table; the CLI has no masking service. */
export function readFlags(flags: ParsedFlags, env: NodeJS.ProcessEnv): Promise<ReadInputs> {
  const value = (row: Row) => (isFlag(row.cli) ? flags.values[row.cli.flag] : flags.positionals[0]);
  const source: InputSource = {
    adapter: "cli",
    command: flags.command,
    text: (row) => value(row) as string | undefined,
    list: (row) => {
      const given = (value(row) as string[] | undefined) ?? [];
      // A repeated flag given nothing (often an empty variable) is refused, as buildx refuses it.
      const empty = given.find(
        (item) => listItems([item], row.kind === "list" ? row.separator : undefined).length === 0,
      );
      if (empty !== undefined && isFlag(row.cli)) {
        throw new InputError(
          `--${row.cli.flag} is given ${JSON.stringify(empty)}, which has no value in it; give one or leave the flag out.`,
        );
      }
      return given;
    },
    switch: (row) => value(row) as boolean | undefined,
  };
  return readInputs(source, { env, cwd: process.cwd(), mask: () => {} });
}
