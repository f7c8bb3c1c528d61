// `remote-buildkit info`: connect to a runner and print its version, workers and platforms.
import { InputError } from "../../errors.js";
import { connectToRunner } from "../../job/build-job.js";
import { describeRunner } from "../../report/runner-summary.js";
import type { CommandContext } from "../context.js";
import { parseFlags, readFlags } from "../flags.js";
import { flagsHelp } from "../help.js";
import { cliPlatform } from "../platform.js";

export function infoHelp(program: string): string {
  return `Usage: ${program} info [flags]

Connects to a BuildKit runner, checks its health and version pin, and prints its BuildKit
version, workers and platforms. With no runner given, it asks the one on the default socket.

${flagsHelp("info")}`;
}

export async function infoCommand(args: string[], context: CommandContext): Promise<number> {
  const flags = parseFlags("info", args, context.program);
  if (flags.values.help) {
    context.stdout(`${infoHelp(context.program)}\n`);
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new InputError(`info takes no arguments, but got "${flags.positionals.join(" ")}".`);
  }
  const read = readFlags(flags, context.env);
  const { info, release } = await connectToRunner(read, cliPlatform(context, read.values.debug));
  await release();
  const text =
    read.values.format === "json" ? JSON.stringify(info, null, 2) : describeRunner(info).join("\n");
  context.stdout(`${text}\n`);
  return 0;
}
