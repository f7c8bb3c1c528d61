// The shape of a row of the input table (table.ts): for one input, the action's name, the CLI's
// flag, the environment variable, the default, the parser and the help, side by side.

/** The program's two front ends: the GitHub Action and the CLI (GitLab CI, CircleCI, a shell). */
export type Adapter = "action" | "cli";

/** The CLI's commands that take flags. */
export type Command = "build" | "info";

/** The commands of a flag that both take, and of one only build takes. */
export const BOTH: readonly Command[] = ["build", "info"];
export const BUILD: readonly Command[] = ["build"];

/** The blocks of the CLI's --help, in the order they are printed. */
export const HELP_SECTIONS = [
  "command",
  "build",
  "image",
  "outputs",
  "secrets",
  "connection",
  "general",
] as const;
export type HelpSection = (typeof HELP_SECTIONS)[number];

/** Where a value came from: the input or flag itself, its environment variable, or the default. */
export type Source = "given" | "env" | "default";

export interface ParseContext {
  /** The input as the user knows it here: `input build-args`, `--build-arg`, `BUILDKIT_HOST`. */
  name: string;
  adapter: Adapter;
  source: Source;
  env: NodeJS.ProcessEnv;
  /** Relative paths in values are relative to this. */
  cwd: string;
  /** Registers a secret value before anything can print it (the action masks it in the log). */
  mask: (value: string) => void;
}

export interface CliFlag {
  /** The long flag, without its dashes. */
  flag: string;
  short?: string;
  /** The value's placeholder in --help (PATH, NAME=VALUE); absent for a switch. */
  value?: string;
  commands: readonly Command[];
  section: HelpSection;
  /** The lines --help prints after the flag. */
  help: readonly string[];
}

export interface CliPositional {
  /** The argument's placeholder in the usage line, such as CONTEXT. */
  positional: string;
  commands: readonly Command[];
}

/** A parser, or one per adapter where the action and the CLI take different syntaxes. */
type Parser<R, T> =
  ((raw: R, context: ParseContext) => T) | Record<Adapter, (raw: R, context: ParseContext) => T>;

interface RowBase {
  /** The action's input; absent where the action has none. */
  action?: string;
  /** The CLI's flag or positional argument; absent where the CLI has none. */
  cli?: CliFlag | CliPositional;
  /**
   * What the CLI's sentences call the input when that is not its flag: the positional argument,
   * or an input the CLI takes through another flag.
   */
  cliName?: string;
  /** An environment variable read when the input is not given, and the adapters that read it. */
  env?: { name: string; adapters: readonly Adapter[] };
  /**
   * The value when nothing is given, as a user writes it; action.yml declares the same. A CLI
   * switch has none: it is off unless given.
   */
  default?: string;
}

/**
 * A text input (one value), a list (the action: one item per line; the CLI: a repeated flag;
 * each item split further on `separator` where the input takes commas), or a switch (the action:
 * true or false; the CLI: a flag without a value).
 */
export type Row<T = unknown> =
  | (RowBase & { kind: "text"; parse: Parser<string | undefined, T> })
  | (RowBase & { kind: "list"; separator?: RegExp | string; parse: Parser<string[], T> })
  | (RowBase & { kind: "switch"; parse: Parser<boolean, T> });

export const text = <T>(row: Omit<Extract<Row<T>, { kind: "text" }>, "kind">): Row<T> => ({
  kind: "text",
  ...row,
});
export const list = <T>(row: Omit<Extract<Row<T>, { kind: "list" }>, "kind">): Row<T> => ({
  kind: "list",
  ...row,
});
export const toggle = <T = boolean>(
  row: Omit<Extract<Row<T>, { kind: "switch" }>, "kind" | "parse"> & {
    parse?: Parser<boolean, T>;
  },
): Row<T> => ({ kind: "switch", parse: (value: boolean) => value as T, ...row }) as Row<T>;

export type ValueOf<R> = R extends Row<infer T> ? T : never;

export function isFlag(cli: CliFlag | CliPositional | undefined): cli is CliFlag {
  return cli !== undefined && "flag" in cli;
}

/** Whether the adapter (and the CLI's command) takes this input. */
export function takes(row: Row, adapter: Adapter, command?: Command): boolean {
  if (adapter === "action") return row.action !== undefined;
  return row.cli !== undefined && command !== undefined && row.cli.commands.includes(command);
}

/** The input as the adapter's sentences name it. */
export function inputName(row: Row, adapter: Adapter): string {
  const action = row.action && `input ${row.action}`;
  const cli = row.cliName ?? (isFlag(row.cli) ? `--${row.cli.flag}` : undefined);
  return (adapter === "action" ? (action ?? cli) : (cli ?? action)) ?? "";
}

export function parserFor<R, T>(parse: Parser<R, T>, adapter: Adapter): (raw: R, context: ParseContext) => T {
  return typeof parse === "function" ? parse : parse[adapter];
}
