// `remote-buildkit build [flags] CONTEXT`: the flags of `docker buildx build` where the meaning
// is the same, and the connection flags of `info`.
import { parseBuildPlan, type BuildInputNames } from "../../job/plan.js";
import { readFileSync, writeFileSync } from "node:fs";
import { buildOnAcquired } from "../../job/across-runners.js";
import { prepareJob, type JobInputNames } from "../../job/prepare.js";
import { secretFromBuildxSpec } from "../../job/secrets.js";
import { buildMetadata, imageOutputs } from "../../outputs/image.js";
import { checkExporterCount } from "../../outputs/exporters.js";
import { parseRegistryAuth } from "../../credentials/registry-auth.js";
import type { ExplicitCredential } from "../../credentials/docker-config.js";
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

Image:
  -t, --tag NAME                a name for the image, repeated for more
      --push                    push the image to its registry (credentials: see below)
      --annotation KEY=VALUE    an OCI annotation, or TYPE:KEY=VALUE (manifest, index, ...)
      --provenance VALUE        a provenance attestation: true, false or mode=max
      --sbom VALUE              an SBOM attestation: true, false or generator=IMAGE
      --metadata-file PATH      write the exporter's response (digest, descriptor) as JSON

Outputs (repeatable; the runner streams them back here):
  -o, --output SPEC             type=local,dest=DIR | type=tar,dest=FILE | type=oci,dest=FILE |
                                type=docker,dest=FILE | type=image,name=REF[,push=true] |
                                type=registry,name=REF; a bare DIR is type=local,dest=DIR

Secrets and credentials (values are never printed; the log shows *** instead):
      --secret id=ID,src=PATH   a build secret from a file, or id=ID,env=NAME from a variable
      --ssh default|ID=SOCKET   forward an SSH agent (default: the one at SSH_AUTH_SOCK)
      --registry-auth-file PATH REGISTRY=USERNAME:PASSWORD lines; BUILDKIT_REGISTRY_AUTH takes
                                the same text. The docker config (DOCKER_CONFIG or ~/.docker)
                                and its credential helpers are read too, unless
      --no-docker-config        is given
${CONNECTION_HELP}
      --strict-platforms        with several runners, fail when a platform has no native one
                                (a pushed image whose platforms are native to different
                                runners builds on each and is joined into one image index)

With no runner given and none answering on the default socket, build starts the pinned
buildkitd (from PATH, ~/.cache/remote-buildkit, or a download whose sha256 GitHub's API gives;
GITHUB_TOKEN, when set, lifts that API's limit for anonymous callers) for the command and stops it
after; its cache is kept in ~/.cache/remote-buildkit/state between builds. It runs as root:
directly, through passwordless sudo, or rootless through rootlesskit.`;

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
  tag: { type: "string", short: "t", multiple: true },
  output: { type: "string", short: "o", multiple: true },
  push: { type: "boolean" },
  annotation: { type: "string", multiple: true },
  provenance: { type: "string" },
  sbom: { type: "string" },
  "metadata-file": { type: "string" },
  secret: { type: "string", multiple: true },
  ssh: { type: "string", multiple: true },
  "registry-auth-file": { type: "string" },
  "no-docker-config": { type: "boolean" },
  "strict-platforms": { type: "boolean" },
} as const;

const JOB_NAMES: JobInputNames = {
  tags: "--tag",
  pushByDigest: "--push-by-digest",
  ociMediatypes: "--oci-mediatypes",
  compression: "--compression",
  annotations: "--annotation",
  provenance: "--provenance",
  sbom: "--sbom",
  secretFiles: "--secret",
  secretEnvs: "--secret",
  ssh: "--ssh",
  outputs: "--output",
};

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
  const job = prepareJob(
    {
      secrets: (values.secret ?? []).map((spec) => secretFromBuildxSpec(spec, "--secret")),
      ssh: values.ssh ?? [],
      registryAuth: registryAuth(values["registry-auth-file"], context.env),
      useDockerConfig: !values["no-docker-config"],
      outputs: values.output ?? [],
      image: {
        tags: values.tag ?? [],
        push: values.push ?? false,
        pushByDigest: false,
        annotations: values.annotation ?? [],
        provenance: values.provenance,
        sbom: values.sbom,
      },
    },
    JOB_NAMES,
    { cwd: process.cwd(), env: context.env, onSecret: () => {} },
  );
  const metadataFile = values["metadata-file"];
  const acquired = await connectFromFlags(values, context, {
    platforms: plan.platforms,
    strictPlatforms: values["strict-platforms"] ?? false,
    startWhenNone: true,
  });
  const { reporter, info, reason, release } = acquired;
  try {
    for (const line of describeRunner(info)) reporter.info(line);
    reporter.debug(`Runner chosen: ${reason}`);
    checkExporterCount(job.buildOptions.exporters?.length ?? 0, info);
    const result = await reporter.group("Build", () =>
      buildOnAcquired(
        acquired,
        plan,
        {
          ...job.buildOptions,
          newRedactor: job.newRedactor,
          writeLog: (text) => context.stderr(text),
          signal: context.signal,
        },
        values["strict-platforms"] ?? false,
        reporter,
      ),
    );
    for (const warning of result.warnings) reporter.warning(describeWarning(warning));
    const outputs = imageOutputs(result.exporterResponse);
    if (outputs.digest) reporter.info(`Image digest: ${outputs.digest}`);
    if (metadataFile) writeMetadataFile(metadataFile, result.exporterResponse);
  } finally {
    await release();
  }
  return 0;
}

/** --registry-auth-file, else BUILDKIT_REGISTRY_AUTH: never a password in argv. */
function registryAuth(file: string | undefined, env: NodeJS.ProcessEnv): ExplicitCredential[] {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new InputError(
        `--registry-auth-file "${file}" cannot be read (${(error as NodeJS.ErrnoException).code}).`,
      );
    }
    return parseRegistryAuth(text, `--registry-auth-file "${file}"`, () => {});
  }
  const fromEnv = env.BUILDKIT_REGISTRY_AUTH;
  return fromEnv ? parseRegistryAuth(fromEnv, "BUILDKIT_REGISTRY_AUTH", () => {}) : [];
}

function writeMetadataFile(path: string, exporterResponse: Record<string, string>): void {
  try {
    writeFileSync(path, `${JSON.stringify(buildMetadata(exporterResponse), null, 2)}\n`);
  } catch (error) {
    throw new InputError(
      `--metadata-file "${path}" cannot be written (${(error as NodeJS.ErrnoException).code}).`,
    );
  }
}
