// `remote-buildkit info`: connect to a runner and print its version, workers and platforms.
import { describeRunner } from "../../report/runner-summary.js";
import { InputError } from "../../errors.js";
import { connectFromFlags, CONNECTION_HELP, CONNECTION_OPTIONS, parseFlags } from "../args.js";
import type { CommandContext } from "../context.js";

export const INFO_HELP = `Usage: remote-buildkit info [flags]

Connects to a BuildKit runner, checks its health and version pin, and prints its BuildKit
version, workers and platforms.

      --format text|json        output format (default text)
${CONNECTION_HELP}`;

const OPTIONS = { ...CONNECTION_OPTIONS, format: { type: "string" } } as const;

export async function infoCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseFlags("info", args, OPTIONS);
  if (values.help) {
    context.stdout(`${INFO_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) {
    throw new InputError(`info takes no arguments, but got "${positionals.join(" ")}".`);
  }
  const format = values.format ?? "text";
  if (format !== "text" && format !== "json") {
    throw new InputError(`--format is "${format}"; use text or json.`);
  }
  const { info, release } = await connectFromFlags(values, context);
  await release();
  const text = format === "json" ? JSON.stringify(info, null, 2) : describeRunner(info).join("\n");
  context.stdout(`${text}\n`);
  return 0;
}
