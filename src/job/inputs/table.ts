// Every input of the program, declared once: the action's input, the CLI's flag, the environment
// variable, the default, the parser and the CLI's help, per row. The field a row fills is its key.
// The GitHub adapter reads action inputs through it, the CLI builds its flags and --help from it,
// and unit tests check action.yml and the README against it. Adding an input is a row here, the
// use of its field, and a test.
import { isPemText, parseEndpoint, tlsInputsFromDir } from "../../buildkit/index.js";
import { parseRegistryAuth, readRegistryAuthFile } from "../../credentials/registry-auth.js";
import { InputError } from "../../errors.js";
import { parseOutputs } from "../../outputs/exporters.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, parseMismatchPolicy } from "../../runner/options.js";
import { parseVersionPin } from "../../runner/version-pin.js";
import { BUILDKIT_VERSION } from "../../version.js";
import { parseByteSize, parseDuration, parseKeyValues, parsePlatforms } from "../../values.js";
import { parseAnnotations, parseAttestation, parseCompression, parseImageNames } from "../image.js";
import { hostEntry, namedContext, networkMode, ulimit } from "../plan.js";
import {
  readSshAgents,
  secretFromBuildxSpec,
  secretFromEnvLine,
  secretFromFileLine,
  secretFromValueLine,
} from "../secrets.js";
import { list, text, toggle, type Command } from "./row.js";

const BOTH: readonly Command[] = ["build", "info"];
const BUILD: readonly Command[] = ["build"];

/** Empty text is no value. */
const optional = (value: string | undefined) => value?.trim() || undefined;

export const INPUTS = {
  // The runner.
  endpoint: list({
    action: "endpoint",
    cli: {
      flag: "addr",
      value: "ADDRESS",
      commands: BOTH,
      section: "connection",
      help: [
        "tcp://HOST:PORT or unix:///PATH; repeat it for a pool of runners,",
        "in order of preference (default: $BUILDKIT_HOST, which may be a",
        "comma-separated list, else unix:///run/buildkit/buildkitd.sock)",
      ],
    },
    env: { name: "BUILDKIT_HOST", adapters: ["action", "cli"] },
    separator: /[,\n]/,
    parse: (items) => items.map(parseEndpoint),
  }),
  tlsCaCert: text({
    action: "tls-cacert",
    cli: {
      flag: "tlscacert",
      value: "PEM|FILE",
      commands: BOTH,
      section: "connection",
      help: ["CA that signed the runner's certificate ($BUILDKIT_TLS_CACERT)"],
    },
    env: { name: "BUILDKIT_TLS_CACERT", adapters: ["cli"] },
    parse: optional,
  }),
  tlsCert: text({
    action: "tls-cert",
    cli: {
      flag: "tlscert",
      value: "PEM|FILE",
      commands: BOTH,
      section: "connection",
      help: ["client certificate ($BUILDKIT_TLS_CERT)"],
    },
    env: { name: "BUILDKIT_TLS_CERT", adapters: ["cli"] },
    parse: optional,
  }),
  tlsKey: text({
    action: "tls-key",
    cli: {
      flag: "tlskey",
      value: "PEM|FILE",
      commands: BOTH,
      section: "connection",
      help: ["client key ($BUILDKIT_TLS_KEY)"],
    },
    env: { name: "BUILDKIT_TLS_KEY", adapters: ["cli"] },
    // A key given inline is a secret: masked before anything can print it.
    parse: (value, { mask }) => {
      if (value && isPemText(value)) mask(value);
      return optional(value);
    },
  }),
  tlsServerName: text({
    action: "tls-servername",
    cli: {
      flag: "tlsservername",
      value: "NAME",
      commands: BOTH,
      section: "connection",
      help: ["name to verify in the runner's certificate ($BUILDKIT_TLS_SERVERNAME)"],
    },
    env: { name: "BUILDKIT_TLS_SERVERNAME", adapters: ["cli"] },
    parse: optional,
  }),
  tlsDir: text({
    cli: {
      flag: "tlsdir",
      value: "DIR",
      commands: BOTH,
      section: "connection",
      help: ["directory with ca.pem, cert.pem and key.pem"],
    },
    parse: (value) => (value ? tlsInputsFromDir(value) : undefined),
  }),
  connectTimeoutMs: text({
    action: "connect-timeout",
    cli: {
      flag: "timeout",
      value: "DURATION",
      commands: BOTH,
      section: "connection",
      help: ["bound on reaching the runner (default 10s)"],
    },
    default: `${DEFAULT_CONNECT_TIMEOUT_MS / 1000}s`,
    parse: (value, { name }) => parseDuration(value!, name),
  }),
  allowPlaintext: toggle({
    action: "allow-plaintext",
    cli: {
      flag: "allow-plaintext",
      commands: BOTH,
      section: "connection",
      help: ["allow TCP without TLS to a host that is not loopback"],
    },
    env: { name: "BUILDKIT_ALLOW_PLAINTEXT", adapters: ["cli"] },
    default: "false",
  }),
  buildkitVersion: text({
    action: "buildkit-version",
    cli: {
      flag: "buildkit-version",
      value: "PIN",
      commands: BOTH,
      section: "connection",
      help: [`required runner version: v${BUILDKIT_VERSION} or a range such as >=0.30 <0.33`],
    },
    parse: (value, { name }) => (optional(value) ? parseVersionPin(value!, name) : undefined),
  }),
  versionMismatch: text({
    action: "buildkit-version-mismatch",
    cli: {
      flag: "version-mismatch",
      value: "error|warning",
      commands: BOTH,
      section: "connection",
      help: ["what a missed pin does (default error)"],
    },
    default: "error",
    parse: (value, { name }) => parseMismatchPolicy(value, name),
  }),
  debug: toggle({
    cli: { flag: "debug", commands: BOTH, section: "connection", help: ["print debug lines"] },
  }),
  help: toggle({
    cli: { flag: "help", short: "h", commands: BOTH, section: "connection", help: ["show this help"] },
  }),
  strictPlatforms: toggle({
    action: "strict-platforms",
    cli: {
      flag: "strict-platforms",
      commands: BUILD,
      section: "connection",
      help: [
        "with several runners, fail when a platform has no native one",
        "(a pushed image whose platforms are native to different",
        "runners builds on each and is joined into one image index)",
      ],
    },
    default: "false",
  }),
  releaseUrl: text({ action: "buildkit-release-url", parse: optional }),
  sha256: text({
    action: "buildkit-sha256",
    parse: (value, { name }) => {
      const sha256 = optional(value)?.toLowerCase();
      if (sha256 !== undefined && !/^[a-f0-9]{64}$/.test(sha256)) {
        throw new InputError(`${name} is not a sha256 of 64 hex digits.`);
      }
      return sha256;
    },
  }),
  // For GitHub's API, which gives the sha256 of BuildKit's release tarball; the action's default
  // is the job's token (action.yml), the CLI's GITHUB_TOKEN when set.
  githubToken: text({
    action: "github-token",
    env: { name: "GITHUB_TOKEN", adapters: ["cli"] },
    parse: optional,
  }),

  // The build. Names and list syntax as docker/build-push-action's where the meaning is the same.
  context: text({
    action: "context",
    cli: { positional: "CONTEXT", commands: BUILD },
    cliName: "The context",
    default: ".",
    parse: (value) => value!,
  }),
  file: text({
    action: "file",
    cli: {
      flag: "file",
      short: "f",
      value: "PATH",
      commands: BUILD,
      section: "build",
      help: ["the Dockerfile (default CONTEXT/Dockerfile)"],
    },
    parse: optional,
  }),
  target: text({
    action: "target",
    cli: { flag: "target", value: "STAGE", commands: BUILD, section: "build", help: ["the stage to build"] },
    parse: optional,
  }),
  buildArgs: list({
    action: "build-args",
    cli: {
      flag: "build-arg",
      value: "NAME=VALUE",
      commands: BUILD,
      section: "build",
      help: ["a build argument; a bare NAME takes its value from the environment"],
    },
    parse: (items, { name, env }) => parseKeyValues(items, name, env),
  }),
  labels: list({
    action: "labels",
    cli: {
      flag: "label",
      value: "NAME=VALUE",
      commands: BUILD,
      section: "build",
      help: ["a label for the image"],
    },
    parse: (items, { name }) => parseKeyValues(items, name),
  }),
  platforms: list({
    action: "platforms",
    cli: {
      flag: "platform",
      value: "OS/ARCH",
      commands: BUILD,
      section: "build",
      help: ["target platforms, comma-separated or repeated"],
    },
    separator: ",",
    parse: (items, { name }) => parsePlatforms(items, name),
  }),
  noCache: toggle({
    action: "no-cache",
    cli: { flag: "no-cache", commands: BUILD, section: "build", help: ["build without the runner's cache"] },
    default: "false",
  }),
  noCacheFilters: list({
    action: "no-cache-filters",
    cli: {
      flag: "no-cache-filter",
      value: "STAGE",
      commands: BUILD,
      section: "build",
      help: ["build these stages without cache"],
    },
    separator: ",",
    parse: (items) => items,
  }),
  buildContexts: list({
    action: "build-contexts",
    cli: {
      flag: "build-context",
      value: "NAME=VALUE",
      commands: BUILD,
      section: "build",
      help: ["a named context: a directory, docker-image://REF, a Git or HTTPS URL"],
    },
    parse: (items, { name, cwd }) => items.map((item) => namedContext(item, name, cwd)),
  }),
  addHosts: list({
    action: "add-hosts",
    cli: {
      flag: "add-host",
      value: "HOST:IP",
      commands: BUILD,
      section: "build",
      help: ["an entry for /etc/hosts in RUN steps"],
    },
    separator: ",",
    parse: (items, { name }) => items.map((item) => hostEntry(item, name)),
  }),
  network: text({
    action: "network",
    cli: {
      flag: "network",
      value: "MODE",
      commands: BUILD,
      section: "build",
      help: ["the network of RUN steps: default, none or host"],
    },
    parse: (value, { name }) => networkMode(value, name),
  }),
  shmSizeBytes: text({
    action: "shm-size",
    cli: {
      flag: "shm-size",
      value: "SIZE",
      commands: BUILD,
      section: "build",
      help: ["the size of /dev/shm in RUN steps, such as 64m"],
    },
    parse: (value, { name }) => (optional(value) ? parseByteSize(value!.trim(), name) : undefined),
  }),
  ulimits: list({
    action: "ulimit",
    cli: {
      flag: "ulimit",
      value: "NAME=SOFT[:HARD]",
      commands: BUILD,
      section: "build",
      help: ["a ulimit for RUN steps, such as nofile=1024:2048"],
    },
    separator: /[\s,]+/,
    parse: (items, { name }) => items.map((item) => ulimit(item, name)),
  }),
  pull: toggle({
    action: "pull",
    cli: {
      flag: "pull",
      commands: BUILD,
      section: "build",
      help: ["look up base images in their registry again"],
    },
    default: "false",
  }),
  progress: text({
    cli: {
      flag: "progress",
      value: "plain",
      commands: BUILD,
      section: "build",
      help: ["the log format (plain is the only one)"],
    },
    default: "plain",
    // buildx's auto and tty mean "what suits the terminal": plain, here.
    parse: (value, { name }) => {
      if (value !== "plain" && value !== "auto" && value !== "tty") {
        throw new InputError(`${name} is "${value}"; use plain.`);
      }
      return "plain" as const;
    },
  }),

  // The image.
  tags: list({
    action: "tags",
    cli: {
      flag: "tag",
      short: "t",
      value: "NAME",
      commands: BUILD,
      section: "image",
      help: ["a name for the image, repeated for more"],
    },
    separator: ",",
    parse: (items, { name }) => parseImageNames(items, name),
  }),
  push: toggle({
    action: "push",
    cli: {
      flag: "push",
      commands: BUILD,
      section: "image",
      help: ["push the image to its registry (credentials: see below)"],
    },
    default: "false",
  }),
  pushByDigest: toggle({ action: "push-by-digest", default: "false" }),
  ociMediatypes: text({
    action: "oci-mediatypes",
    parse: (value, { name }) => {
      const text = optional(value);
      if (text === undefined) return undefined;
      if (text !== "true" && text !== "false")
        throw new InputError(`${name} is "${text}"; use true or false.`);
      return text === "true";
    },
  }),
  compression: text({
    action: "compression",
    parse: (value, { name }) => parseCompression(value, name),
  }),
  annotations: list({
    action: "annotations",
    cli: {
      flag: "annotation",
      value: "KEY=VALUE",
      commands: BUILD,
      section: "image",
      help: ["an OCI annotation, or TYPE:KEY=VALUE (manifest, index, ...)"],
    },
    parse: (items, { name }) => parseAnnotations(items, name),
  }),
  provenance: text({
    action: "provenance",
    cli: {
      flag: "provenance",
      value: "VALUE",
      commands: BUILD,
      section: "image",
      help: ["a provenance attestation: true, false or mode=max"],
    },
    parse: (value, { name }) => parseAttestation(value, name, "mode=min"),
  }),
  sbom: text({
    action: "sbom",
    cli: {
      flag: "sbom",
      value: "VALUE",
      commands: BUILD,
      section: "image",
      help: ["an SBOM attestation: true, false or generator=IMAGE"],
    },
    parse: (value, { name }) => parseAttestation(value, name, ""),
  }),
  metadataFile: text({
    cli: {
      flag: "metadata-file",
      value: "PATH",
      commands: BUILD,
      section: "image",
      help: ["write the exporter's response (digest, descriptor) as JSON"],
    },
    parse: optional,
  }),

  // Outputs back to the job's machine.
  outputs: list({
    action: "outputs",
    cli: {
      flag: "output",
      short: "o",
      value: "SPEC",
      commands: BUILD,
      section: "outputs",
      help: [
        "type=local,dest=DIR | type=tar,dest=FILE | type=oci,dest=FILE |",
        "type=docker,dest=FILE | type=image,name=REF[,push=true] |",
        "type=registry,name=REF; a bare DIR is type=local,dest=DIR",
      ],
    },
    parse: (items, { name, cwd }) => parseOutputs(items, name, cwd),
  }),
  uploadArtifact: toggle({ action: "upload-artifact", default: "true" }),
  // The job's id and run attempt by default; matrix legs share both, so they need a name apiece.
  artifactName: text({
    action: "artifact-name",
    parse: (value, { env }) =>
      optional(value) ?? `${env.GITHUB_JOB || "build"}-outputs-${env.GITHUB_RUN_ATTEMPT || "1"}`,
  }),
  artifactRetentionDays: text({
    action: "artifact-retention-days",
    parse: (value, { name }) => {
      const retention = optional(value);
      if (retention !== undefined && !/^\d+$/.test(retention)) {
        throw new InputError(`${name} is "${retention}"; give a number of days from 1 to 90.`);
      }
      return retention === undefined ? undefined : Number(retention);
    },
  }),

  // What the build may read from the job. Secret values are masked the moment they are read.
  secrets: list({
    action: "secrets",
    cli: {
      flag: "secret",
      value: "id=ID,src=PATH",
      commands: BUILD,
      section: "secrets",
      help: ["a build secret from a file, or id=ID,env=NAME from a variable"],
    },
    // The action takes ID=VALUE lines; the CLI buildx's specs, which never put a value in argv.
    parse: {
      action: (items, { name, mask }) => {
        for (const line of items) mask(line.slice(line.indexOf("=") + 1));
        return items.map((line) => secretFromValueLine(line, name));
      },
      cli: (items, { name }) => items.map((spec) => secretFromBuildxSpec(spec, name)),
    },
  }),
  secretFiles: list({
    action: "secret-files",
    cliName: "--secret",
    parse: (items, { name }) => items.map((line) => secretFromFileLine(line, name)),
  }),
  secretEnvs: list({
    action: "secret-envs",
    cliName: "--secret",
    parse: (items, { name }) => items.map((line) => secretFromEnvLine(line, name)),
  }),
  ssh: list({
    action: "ssh",
    cli: {
      flag: "ssh",
      value: "default|ID=SOCKET",
      commands: BUILD,
      section: "secrets",
      help: ["forward an SSH agent (default: the one at SSH_AUTH_SOCK)"],
    },
    separator: /\s+/,
    parse: (items, { name, cwd, env }) => readSshAgents(items, name, { cwd, env }),
  }),
  registryAuth: text({
    action: "registry-auth",
    cli: {
      flag: "registry-auth-file",
      value: "PATH",
      commands: BUILD,
      section: "secrets",
      help: [
        "REGISTRY=USERNAME:PASSWORD lines; BUILDKIT_REGISTRY_AUTH takes",
        "the same text. The docker config (DOCKER_CONFIG or ~/.docker)",
        "and its credential helpers are read too, unless",
      ],
    },
    env: { name: "BUILDKIT_REGISTRY_AUTH", adapters: ["cli"] },
    // The action takes the lines themselves; the CLI a file of them (or the variable), so that
    // no password is ever on a command line.
    parse: {
      action: (value, { name, mask }) => parseRegistryAuth(value ?? "", name, mask),
      cli: (value, { name, source, mask }) =>
        value === undefined
          ? []
          : source === "env"
            ? parseRegistryAuth(value, name, mask)
            : readRegistryAuthFile(value, name, mask),
    },
  }),
  dockerConfig: toggle({
    action: "docker-config",
    cli: { flag: "no-docker-config", commands: BUILD, section: "secrets", help: ["is given"] },
    default: "true",
    // The action's input says whether to read the docker config; the CLI's flag, whether not to.
    parse: { action: (read) => read, cli: (skip) => !skip },
  }),

  // The info command.
  format: text({
    cli: {
      flag: "format",
      value: "text|json",
      commands: ["info"],
      section: "command",
      help: ["output format (default text)"],
    },
    default: "text",
    parse: (value, { name }) => {
      if (value !== "text" && value !== "json")
        throw new InputError(`${name} is "${value}"; use text or json.`);
      return value;
    },
  }),
};
