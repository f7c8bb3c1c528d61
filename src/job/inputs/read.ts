// Reading the input table: what an adapter was given for each row (or the row's environment
// variable, or its default) through the row's parser, into one typed object of the job's inputs,
// with each input's name as the user knows it for later sentences.
import { listItems, parseBoolean } from "../../values.js";
import {
  inputName,
  parserFor,
  takes,
  type Adapter,
  type Command,
  type ParseContext,
  type Row,
  type Source,
  type ValueOf,
} from "./row.js";
import { INPUTS } from "./table.js";

export type InputField = keyof typeof INPUTS;

/** Every input of a job, typed: one field per row of the table. */
export type JobInputs = { [K in InputField]: Awaited<ValueOf<(typeof INPUTS)[K]>> };

/** Each input as the adapter's sentences name it: `input build-args`, `--build-arg`. */
export type InputNames = Record<InputField, string>;

/** What an adapter was given, row by row: undefined, an empty list or false where it was not. */
export interface InputSource {
  adapter: Adapter;
  /** The CLI's command; the action has one. */
  command?: Command;
  /** A text input, or undefined. */
  text(row: Row, field: InputField): string | undefined;
  /** A list's items as given (lines, or a repeated flag's values). */
  list(row: Row, field: InputField): string[];
  /** A switch: the action's text (read strictly), or whether the CLI's flag is there. */
  switch(row: Row, field: InputField): string | boolean | undefined;
}

export interface ReadInputs {
  values: JobInputs;
  names: InputNames;
  /** Where each value came from; a TLS file from --tlsdir gives way to the flag, not to the variable. */
  sources: Record<InputField, Source>;
}

export interface ReadContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Registers a secret value with the platform's masking before anything can print it. */
  mask: (value: string) => void;
}

/**
 * Reads and parses every input, in the table's order. A parser may return a promise: those that
 * need a library few runs use (src/libraries.ts) load it first.
 */
export async function readInputs(source: InputSource, context: ReadContext): Promise<ReadInputs> {
  const values = {} as Record<InputField, unknown>;
  const names = {} as InputNames;
  const sources = {} as Record<InputField, Source>;
  for (const field of Object.keys(INPUTS) as InputField[]) {
    const row: Row = INPUTS[field];
    names[field] = inputName(row, source.adapter);
    const read = readRow(row, field, source, context.env);
    sources[field] = read.source;
    const parseContext: ParseContext = {
      name: read.source === "env" ? row.env!.name : names[field],
      adapter: source.adapter,
      source: read.source,
      env: context.env,
      cwd: context.cwd,
      mask: context.mask,
    };
    const parse = parserFor(row.parse as Parameters<typeof parserFor<unknown, unknown>>[0], source.adapter);
    values[field] = await parse(read.raw, parseContext);
  }
  return { values: values as JobInputs, names, sources };
}

function readRow(
  row: Row,
  field: InputField,
  source: InputSource,
  env: NodeJS.ProcessEnv,
): { raw: string | string[] | boolean | undefined; source: Source } {
  const taken = takes(row, source.adapter, source.command);
  const name = inputName(row, source.adapter);
  const fromEnv = row.env?.adapters.includes(source.adapter) ? env[row.env.name] : undefined;
  const hasEnv = fromEnv !== undefined && fromEnv.trim() !== "";
  if (row.kind === "text") {
    const given = taken ? source.text(row, field) : undefined;
    if (given !== undefined && given !== "") return { raw: given, source: "given" };
    if (hasEnv) return { raw: fromEnv, source: "env" };
    return { raw: row.default, source: "default" };
  }
  if (row.kind === "list") {
    const given = listItems(taken ? source.list(row, field) : [], row.separator);
    if (given.length > 0) return { raw: given, source: "given" };
    if (hasEnv) return { raw: listItems(fromEnv.split(/\r?\n/), row.separator), source: "env" };
    return {
      raw: listItems(row.default === undefined ? [] : [row.default], row.separator),
      source: "default",
    };
  }
  const given = taken ? source.switch(row, field) : undefined;
  if (typeof given === "boolean" && given) return { raw: true, source: "given" };
  if (typeof given === "string" && given.trim() !== "") {
    return { raw: parseBoolean(given, name, false), source: "given" };
  }
  if (hasEnv) return { raw: parseBoolean(fromEnv, row.env!.name, false), source: "env" };
  // A CLI switch is off unless given; the action's has the default action.yml declares.
  if (source.adapter === "cli") return { raw: false, source: "default" };
  return { raw: parseBoolean(row.default, name, false), source: "default" };
}
