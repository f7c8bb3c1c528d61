// `remote-buildkit build [flags] CONTEXT`: the flags of `docker buildx build` where the meaning
// is the same, and the connection flags of `info`.
import { parseBuildPlan, type BuildInputNames } from "../../build/plan.js";
import { runBuild } from "../../build/run.js";
import { InputError } from "../../errors.js";
import { describeRunner } from "../../report/runner-summary.js";
import { connectFromFlags, CONNECTION_HELP, CONNECTION_OPTIONS, parseFlags } from "../args.js";
import type { CommandContext } from "../context.js";

export const BUILD_HELP = `Usage: remote-buildkit build [flags] CONTEXT

Builds the Dockerfile in CONTEXT on a BuildKit runner and prints the runner's log as it comes.

Build:
  -f, --file PATH               the Dockerfile (default CONTEXT/Dockerfile)
      --target STAGE            the stage to build
      --build-arg NAME=VALUE    a build argument; a bare NAME takes its value from the environment
      --label NAME=VALUE        a label for the image
      --platform OS/ARCH        target platforms, comma-separated or repeated
      --no-cache                build without the runner's cache
      --no-cache-filter STAGE   build these stages without cache
      --progress plain          the log format (plain is the only one)
${CONNECTION_HELP}`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  file: { type: "string", short: "f" },
  target: { type: "string" },
  "build-arg": { type: "string", multiple: true },
  label: { type: "string", multiple: true },
  platform: { type: "string", multiple: true },
  "no-cache": { type: "boolean" },
  "no-cache-filter": { type: "string", multiple: true },
  progress: { type: "string" },
} as const;

const NAMES: BuildInputNames = {
  context: "The context",
  file: "--file",
  buildArgs: "--build-arg",
  labels: "--label",
  platforms: "--platform",
};

export async function buildCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseFlags("build", args, OPTIONS);
  if (values.help) {
    context.stdout(`${BUILD_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new InputError(
      positionals.length === 0
        ? 'build needs a CONTEXT directory, as in "remote-buildkit build ."'
        : `build takes one CONTEXT, but got ${positionals.length}: ${positionals.join(" ")}.`,
    );
  }
  const progress = values.progress ?? "plain";
  if (!["plain", "auto", "tty", "rawjson"].includes(progress) || progress === "rawjson") {
    throw new InputError(`--progress is "${progress}"; use plain.`);
  }
  const plan = parseBuildPlan(
    {
      context: positionals[0]!,
      file: values.file,
      target: values.target,
      buildArgs: values["build-arg"] ?? [],
      labels: values.label ?? [],
      platforms: values.platform ?? [],
      noCache: values["no-cache"] ?? false,
      noCacheFilters: values["no-cache-filter"] ?? [],
    },
    NAMES,
    process.cwd(),
    context.env,
  );
  const { reporter, client, info } = await connectFromFlags(values, context);
  try {
    for (const line of describeRunner(info)) reporter.info(line);
    await reporter.group("Build", () =>
      runBuild(client, plan, (text) => context.stderr(text), context.signal),
    );
  } finally {
    client.close();
  }
  return 0;
}
