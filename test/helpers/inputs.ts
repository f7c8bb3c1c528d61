// The job's inputs read through the input table as an adapter reads them, without @actions/core
// or a command line: values given by field, as the action's inputs (text, lines, true/false) or
// as the CLI's flags would give them.
import { readInputs, type InputField, type ReadInputs } from "../../src/job/inputs/read.js";
import type { Adapter, Command } from "../../src/job/inputs/row.js";

export type GivenInputs = Partial<Record<InputField, string | string[] | boolean>>;

export interface ReadOptions {
  adapter?: Adapter;
  command?: Command;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  mask?: (value: string) => void;
}

export function inputsOf(given: GivenInputs, options: ReadOptions = {}): Promise<ReadInputs> {
  const value = (field: InputField) => given[field];
  return readInputs(
    {
      adapter: options.adapter ?? "action",
      command: options.command ?? "build",
      text: (_row, field) => {
        const text = value(field);
        return typeof text === "string" ? text.trim() || undefined : undefined;
      },
      list: (_row, field) => {
        const items = value(field);
        if (items === undefined || typeof items === "boolean") return [];
        return (Array.isArray(items) ? items : items.split("\n")).map((item) => item.trim()).filter(Boolean);
      },
      switch: (_row, field) => {
        const on = value(field);
        return typeof on === "boolean" && options.adapter !== "cli" ? String(on) : (on as string | boolean);
      },
    },
    { cwd: options.cwd ?? process.cwd(), env: options.env ?? {}, mask: options.mask ?? (() => {}) },
  );
}
