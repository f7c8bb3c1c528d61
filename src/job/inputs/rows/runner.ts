// The input table's rows for the runner: how it is reached (the connection, the version pin) or
// started.
import {
  isPemText,
  parseEndpoint,
  tlsInputsFromDir,
  UPLOAD_COMPRESSION_MODES,
  type SshOptions,
  type UploadCompressionMode,
} from "../../../buildkit/index.js";
import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import { InputError } from "../../../errors.js";
import {
  checkBuildkitdToml,
  parseBuildkitdFlags,
  readBuildkitdToml,
  SETUP_BUILDX_FLAGS,
} from "../../../runner/daemon/config.js";
import { readBuildxBuilder, type BuildxBuilder } from "../../../runner/buildx-store.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, parseMismatchPolicy } from "../../../runner/options.js";
import {
  parseRunnerList,
  runnerPoolFromSources,
  type ConfiguredRunner,
} from "../../../runner/pool-config.js";
import { parseVersionPin } from "../../../runner/version-pin.js";
import { BUILDKIT_VERSION } from "../../../version.js";
import { nonEmpty, parseChoice, parseCount, parseDuration } from "../../../values.js";
import { BOTH, BUILD, list, text, toggle, type ParseContext } from "../row.js";

export const RUNNER_INPUTS = {
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
  // A pool whose runners each have their own TLS material, server name and platforms: the action's
  // YAML list (setup-buildx's `append`), the CLI's file of the same, BUILDKIT_RUNNERS or the flat
  // BUILDKIT_RUNNER_<i>_* variables.
  runners: text({
    action: "runners",
    cli: {
      flag: "runners-file",
      value: "FILE",
      commands: BOTH,
      section: "connection",
      help: [
        "a YAML list of runners, each with its own endpoint, platforms and",
        "TLS (setup-buildx's append: name, endpoint, platforms, driver-opts",
        "cacert/cert/key/servername); or $BUILDKIT_RUNNERS with the same",
        "text, or BUILDKIT_RUNNER_<i>_ENDPOINT, _TLS_CACERT, _TLS_CERT,",
        "_TLS_KEY, _TLS_SERVERNAME, _PLATFORMS variables",
      ],
    },
    parse: {
      action: async (value, { name, cwd, mask }) =>
        nonEmpty(value)
          ? masked(await parseRunnerList(value!, { label: name, baseDir: cwd }), mask)
          : undefined,
      cli: async (value, { name, env, mask }) => {
        const runners = await runnerPoolFromSources({
          env,
          runnersFile: nonEmpty(value),
          runnersFileName: name,
        });
        return runners && masked(runners, mask);
      },
    },
  }),
  // setup-buildx's builder store: a remote builder it (or docker buildx create) left on disk.
  builder: text({
    action: "builder",
    cli: {
      flag: "builder",
      value: "NAME",
      commands: BOTH,
      section: "connection",
      help: [
        "a remote buildx builder, as setup-buildx leaves it (default",
        "$BUILDX_BUILDER, else buildx's current builder when it is remote",
        "and no runner is given otherwise)",
      ],
    },
    parse: (value, { name, env, mask }) => builderInput(nonEmpty(value), name, env, mask),
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
    parse: nonEmpty,
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
    parse: nonEmpty,
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
      return nonEmpty(value);
    },
  }),
  tlsServerName: text({
    action: "tls-servername",
    cli: {
      flag: "tlsservername",
      value: "NAME",
      commands: BOTH,
      section: "connection",
      help: ["the name in the runner's certificate ($BUILDKIT_TLS_SERVERNAME)"],
    },
    env: { name: "BUILDKIT_TLS_SERVERNAME", adapters: ["cli"] },
    parse: nonEmpty,
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
  sshKey: text({
    action: "ssh-key",
    cli: {
      flag: "ssh-key",
      value: "KEY|FILE",
      commands: BOTH,
      section: "connection",
      help: [
        "private key for ssh:// runners, as text (held by a private",
        "ssh-agent, never on disk) or a file ($BUILDKIT_SSH_KEY);",
        "the agent's keys otherwise",
      ],
    },
    env: { name: "BUILDKIT_SSH_KEY", adapters: ["cli"] },
    parse: (value, context) => (nonEmpty(value) ? parseSshKey(value!, context) : undefined),
  }),
  sshKnownHosts: text({
    action: "ssh-known-hosts",
    cli: {
      flag: "ssh-known-hosts",
      value: "LINES|FILE",
      commands: BOTH,
      section: "connection",
      help: ["known_hosts for ssh:// runners, as lines or a file", "($BUILDKIT_SSH_KNOWN_HOSTS)"],
    },
    env: { name: "BUILDKIT_SSH_KNOWN_HOSTS", adapters: ["cli"] },
    parse: (value, context) => (nonEmpty(value) ? parseKnownHosts(value!, context) : undefined),
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
    parse: (value, { name }) => (nonEmpty(value) ? parseVersionPin(value!, name) : undefined),
  }),
  versionMismatch: text({
    action: "buildkit-version-mismatch",
    cli: {
      flag: "version-mismatch",
      value: "MODE",
      commands: BOTH,
      section: "connection",
      help: ["error (default) or warning: what a missed pin does"],
    },
    default: "error",
    parse: (value, { name }) => parseMismatchPolicy(value, name),
  }),
  uploadCompression: text({
    action: "upload-compression",
    cli: {
      flag: "upload-compression",
      value: "MODE",
      commands: BUILD,
      section: "connection",
      help: [
        "auto (default), on or off: gzip the upload of the context; auto",
        "only over a wide-area link (a round trip of 5 ms or more)",
      ],
    },
    default: "auto",
    parse: (value, { name }): UploadCompressionMode => parseChoice(value!, name, UPLOAD_COMPRESSION_MODES),
  }),
  debug: toggle({
    cli: { flag: "debug", commands: BOTH, section: "general", help: ["print debug lines"] },
  }),
  help: toggle({
    cli: { flag: "help", short: "h", commands: BOTH, section: "general", help: ["show this help"] },
  }),
  strictPlatforms: toggle({
    action: "strict-platforms",
    cli: {
      flag: "strict-platforms",
      commands: BUILD,
      section: "connection",
      help: [
        "fail when a platform has no native runner (else a warning)",
        "(a pushed image whose platforms are native to different",
        "runners builds on each and is joined into one image index)",
      ],
    },
    default: "false",
  }),
  buildTimeoutMs: text({
    action: "timeout",
    cli: {
      flag: "build-timeout",
      value: "DURATION",
      commands: BUILD,
      section: "connection",
      help: ["cancel the build on the runner after this long: 30m, 2h"],
    },
    // No default: a build runs until it ends, as with buildx.
    parse: (value, { name }) => (nonEmpty(value) ? parseDuration(value!, name) : undefined),
  }),
  retries: text({
    action: "retries",
    cli: {
      flag: "retries",
      value: "N",
      commands: BUILD,
      section: "connection",
      help: [
        "times to run the build again on another runner of the pool",
        "when its runner goes away mid-build (default 1; 0 turns it off)",
      ],
    },
    default: "1",
    parse: (value, { name }) => parseCount(value!, name),
  }),
  releaseUrl: text({ action: "buildkit-release-url", parse: nonEmpty }),
  sha256: text({
    action: "buildkit-sha256",
    parse: (value, { name }) => {
      const sha256 = nonEmpty(value)?.toLowerCase();
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
    parse: nonEmpty,
  }),
  // The runner we start when none is given, configured as setup-buildx's docker-container driver is.
  buildkitdConfig: text({
    action: "buildkitd-config",
    cli: {
      flag: "buildkitd-config",
      value: "FILE",
      commands: BUILD,
      section: "connection",
      help: ["buildkitd.toml for the runner started when none is given"],
    },
    parse: (value, { name, cwd }) =>
      nonEmpty(value) ? readBuildkitdToml(value!.trim(), name, cwd) : undefined,
  }),
  buildkitdConfigInline: text({
    action: "buildkitd-config-inline",
    cli: {
      flag: "buildkitd-config-inline",
      value: "TOML",
      commands: BUILD,
      section: "connection",
      help: ["the same as TOML text"],
    },
    parse: (value, { name }) => (nonEmpty(value) ? checkBuildkitdToml(value!, name) : undefined),
  }),
  buildkitdFlags: text({
    action: "buildkitd-flags",
    cli: {
      flag: "buildkitd-flags",
      value: "FLAGS",
      commands: BUILD,
      section: "connection",
      help: [
        "extra buildkitd flags for the runner started when none is given,",
        'given as --buildkitd-flags="--debug ..." (default: setup-buildx\'s,',
        "which allow the entitlements security.insecure and network.host)",
      ],
    },
    default: SETUP_BUILDX_FLAGS,
    parse: (value, { name, adapter }) =>
      parseBuildkitdFlags(
        value ?? "",
        name,
        adapter === "action" ? "input buildkitd-config" : "--buildkitd-config",
      ),
  }),
};

/** A private key as text (masked now, then held in memory) or the path of a key file. */
function parseSshKey(value: string, { name, mask, cwd }: ParseContext): SshOptions {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
    mask(value);
    return { identityKey: value };
  }
  if (value.includes("-----BEGIN ")) throw new InputError(`${name} is not a private key.`);
  return { identityFile: readablePath(value.trim(), name, cwd) };
}

/** known_hosts lines (a line has blanks: host, key type, key) or the path of a known_hosts file. */
function parseKnownHosts(value: string, { name, cwd }: ParseContext): SshOptions {
  if (/\s/.test(value.trim())) return { knownHosts: value };
  return { knownHostsFile: readablePath(value.trim(), name, cwd) };
}

function readablePath(path: string, name: string, cwd: string): string {
  const full = resolve(cwd, path);
  try {
    accessSync(full, constants.R_OK);
  } catch (error) {
    throw new InputError(`${name} "${path}" cannot be read (${(error as NodeJS.ErrnoException).code}).`);
  }
  return full;
}

/** Client keys loaded from a runner list are secrets: masked before anything can print them. */
function masked(runners: ConfiguredRunner[], mask: (value: string) => void): ConfiguredRunner[] {
  for (const runner of runners) if (runner.tls.key) mask(runner.tls.key.toString("utf8").trim());
  return runners;
}

/**
 * The `builder` input: a builder asked for by name is read (and checked) now; otherwise buildx's
 * own choice (BUILDX_BUILDER, else `current`) is read only when no runner is given otherwise, and
 * only when it is a remote builder.
 */
export interface BuilderInput {
  /** The name given; undefined when buildx's own choice would apply. */
  name?: string;
  read(): BuildxBuilder | undefined;
}

function builderInput(
  given: string | undefined,
  inputName: string,
  env: NodeJS.ProcessEnv,
  mask: (value: string) => void,
): BuilderInput {
  const withMaskedKeys = (builder: BuildxBuilder | undefined) => {
    if (builder) masked(builder.runners, mask);
    return builder;
  };
  if (given !== undefined) {
    const builder = withMaskedKeys(
      readBuildxBuilder({ env, builder: given, builderInputName: inputName.replace(/^input /, "") }),
    );
    return { name: given, read: () => builder };
  }
  return { read: () => withMaskedKeys(readBuildxBuilder({ env, remoteOnly: true })) };
}
