// `remote-buildkit build [flags] CONTEXT`: the flags of `docker buildx build` where the meaning
// is the same, and the connection flags of `info`.
import { InputError } from "../../errors.js";
import { runBuildJob } from "../../job/build-job.js";
import { buildClosingLines } from "../../report/closing.js";
import type { CommandContext } from "../context.js";
import { parseFlags, readFlags } from "../flags.js";
import { flagsHelp } from "../help.js";
import { cliPlatform } from "../platform.js";

export function buildHelp(program: string): string {
  return `Usage: ${program} build [flags] CONTEXT

Builds the Dockerfile in CONTEXT on a BuildKit runner and prints the runner's log as it comes.
CONTEXT is a directory, a Git URL the runner fetches (nothing is uploaded), or git for the
job's own commit in GitHub Actions or GitLab CI.

${flagsHelp("build")}

With no runner given and none answering on the default socket (or with --buildkitd-config,
--buildkitd-config-inline or --buildkitd-flags given), build starts the pinned
buildkitd (from PATH, ~/.cache/remote-buildkit, or a download whose sha256 GitHub's API gives;
GITHUB_TOKEN, when set, lifts that API's limit for anonymous callers) for the command and stops it
after; its cache is kept in ~/.cache/remote-buildkit/state between builds. It runs as root:
directly, through passwordless sudo, or rootless through rootlesskit.`;
}

export async function buildCommand(args: string[], context: CommandContext): Promise<number> {
  const flags = parseFlags("build", args, context.program);
  if (flags.values.help) {
    context.stdout(`${buildHelp(context.program)}\n`);
    return 0;
  }
  if (flags.positionals.length !== 1) {
    throw new InputError(
      flags.positionals.length === 0
        ? `build needs a CONTEXT directory, as in "${context.program} build ."`
        : `build takes one CONTEXT, but got ${flags.positionals.length}: ${flags.positionals.join(" ")}.`,
    );
  }
  const read = await readFlags(flags, context.env);
  const outcome = await runBuildJob(read, cliPlatform(context, read.values.debug));
  if (outcome) context.stderr(`${buildClosingLines(outcome).join("\n")}\n`);
  return 0;
}
