// `remote-buildkit info`: connect to a runner and print its version, workers and platforms; for a
// pool, also each runner's state, builds in flight, round-trip time and cache size.
import { InputError } from "../../errors.js";
import { connectToRunner } from "../../job/build-job.js";
import { describePool } from "../../report/pool-summary.js";
import { describeRunner } from "../../report/runner-summary.js";
import type { CommandContext } from "../context.js";
import { parseFlags, readFlags } from "../flags.js";
import { flagsHelp } from "../help.js";
import { cliPlatform } from "../platform.js";

export function infoHelp(program: string): string {
  return `Usage: ${program} info [flags]

Connects to a BuildKit runner, checks its health and version pin, and prints its BuildKit
version, workers and platforms. With no runner given, it asks the one on the default socket.
Given several runners (a pool), it checks them all and also prints each one's builds in flight,
round-trip time and cache size.

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
  const read = await readFlags(flags, context.env);
  const { info, pool, release } = await connectToRunner(read, cliPlatform(context, read.values.debug));
  await release();
  const text =
    read.values.format === "json"
      ? JSON.stringify(pool ? { ...info, pool } : info, null, 2)
      : [...describeRunner(info), ...describePool(pool ?? [])].join("\n");
  context.stdout(`${text}\n`);
  return 0;
}
