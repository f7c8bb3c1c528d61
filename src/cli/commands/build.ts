// `remote-buildkit build [flags] CONTEXT`: the flags of `docker buildx build` where the meaning
// is the same, and the connection flags of `info`.
import { parseBuildPlan, type BuildInputNames } from "../../build/plan.js";
import { runBuild } from "../../build/run.js";
import { describeWarning } from "../../report/build-summary.js";
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
      --build-context NAME=VALUE
                                a named context: a directory, docker-image://REF, a Git or HTTPS URL
      --add-host HOST:IP        an entry for /etc/hosts in RUN steps
      --network MODE            the network of RUN steps: default, none or host
      --shm-size SIZE           the size of /dev/shm in RUN steps, such as 64m
      --ulimit NAME=SOFT[:HARD] a ulimit for RUN steps, such as nofile=1024:2048
      --pull                    look up base images in their registry again
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
  "build-context": { type: "string", multiple: true },
  "add-host": { type: "string", multiple: true },
  network: { type: "string" },
  "shm-size": { type: "string" },
  ulimit: { type: "string", multiple: true },
  pull: { type: "boolean" },
  progress: { type: "string" },
} as const;

const NAMES: BuildInputNames = {
  context: "The context",
  file: "--file",
  buildArgs: "--build-arg",
  labels: "--label",
  platforms: "--platform",
  buildContexts: "--build-context",
  addHosts: "--add-host",
  network: "--network",
  shmSize: "--shm-size",
  ulimits: "--ulimit",
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
      buildContexts: values["build-context"] ?? [],
      addHosts: values["add-host"] ?? [],
      network: values.network,
      shmSize: values["shm-size"],
      ulimits: values.ulimit ?? [],
      pull: values.pull ?? false,
    },
    NAMES,
    process.cwd(),
    context.env,
  );
  const { reporter, client, info } = await connectFromFlags(values, context);
  try {
    for (const line of describeRunner(info)) reporter.info(line);
    const result = await reporter.group("Build", () =>
      runBuild(client, plan, (text) => context.stderr(text), context.signal),
    );
    for (const warning of result.warnings) reporter.warning(describeWarning(warning));
  } finally {
    client.close();
  }
  return 0;
}
