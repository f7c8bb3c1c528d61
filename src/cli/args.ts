// Flag parsing for the CLI on node:util's parseArgs, with the sentences and exit code 2 that a
// usage error deserves. Connection flags are buildctl's names; they are shared by every command.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { BUILDCTL_TLS_FLAGS, tlsInputsFromDir, type TlsInputs } from "../buildkit/tls.js";
import { InputError } from "../errors.js";
import { parseBoolean } from "../values.js";
import { parseRunnerOptions, type RunnerInputNames, type RunnerInputs } from "../runner/options.js";
import { acquireRunner, startForCommand, type AcquiredRunner } from "../runner/acquire.js";
import type { Reporter } from "../report/reporter.js";
import type { Platform } from "../buildkit/platform.js";
import type { CommandContext } from "./context.js";
import { BUILDKIT_VERSION } from "../version.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export const CONNECTION_OPTIONS = {
  addr: { type: "string", multiple: true },
  tlscacert: { type: "string" },
  tlscert: { type: "string" },
  tlskey: { type: "string" },
  tlsservername: { type: "string" },
  tlsdir: { type: "string" },
  timeout: { type: "string" },
  "allow-plaintext": { type: "boolean" },
  "buildkit-version": { type: "string" },
  "version-mismatch": { type: "string" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpec;

export const CONNECTION_HELP = `Runner connection:
      --addr ADDRESS            tcp://HOST:PORT or unix:///PATH; repeat it for a pool of runners,
                                in order of preference (default: $BUILDKIT_HOST, which may be a
                                comma-separated list, else unix:///run/buildkit/buildkitd.sock)
      --tlscacert PEM|FILE      CA that signed the runner's certificate ($BUILDKIT_TLS_CACERT)
      --tlscert PEM|FILE        client certificate ($BUILDKIT_TLS_CERT)
      --tlskey PEM|FILE         client key ($BUILDKIT_TLS_KEY)
      --tlsservername NAME      name to verify in the runner's certificate ($BUILDKIT_TLS_SERVERNAME)
      --tlsdir DIR              directory with ca.pem, cert.pem and key.pem
      --timeout DURATION        bound on reaching the runner (default 10s)
      --allow-plaintext         allow TCP without TLS to a host that is not loopback
      --buildkit-version PIN    required runner version: v${BUILDKIT_VERSION} or a range such as >=0.30 <0.33
      --version-mismatch error|warning  what a missed pin does (default error)
      --debug                   print debug lines
  -h, --help                    show this help`;

export const CLI_RUNNER_NAMES: RunnerInputNames = {
  endpoint: "--addr",
  tls: BUILDCTL_TLS_FLAGS,
  connectTimeout: "--timeout",
  allowPlaintext: "--allow-plaintext",
  buildkitVersion: "--buildkit-version",
  versionMismatch: "--version-mismatch",
};

export interface Parsed<V> {
  values: V;
  positionals: string[];
}

export function parseFlags<const O extends OptionSpec>(
  command: string,
  args: string[],
  options: O,
): Parsed<ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>["values"]> {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (error) {
    throw new InputError(`${rephrase((error as Error).message)} (see "remote-buildkit ${command} --help").`);
  }
}

/** parseArgs' messages are long and mention things a user does not need; keep the first clause. */
function rephrase(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `Unknown flag ${unknown[1]}`;
  const missing = /Option '([^']+)' argument missing/.exec(message);
  if (missing) return `Flag ${missing[1]!.replace(/^-\w, /, "").replace(/ <value>$/, "")} needs a value`;
  return message.split(". ")[0]!.replace(/\.$/, "");
}

type ConnectionValues = {
  [K in keyof typeof CONNECTION_OPTIONS]?: (typeof CONNECTION_OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof CONNECTION_OPTIONS)[K]["type"] extends "boolean"
      ? boolean
      : string;
};

export function runnerInputsFromFlags(values: ConnectionValues, env: NodeJS.ProcessEnv): RunnerInputs {
  const fromDir: TlsInputs = values.tlsdir ? tlsInputsFromDir(values.tlsdir) : {};
  return {
    endpoint: values.addr?.join(","),
    tls: {
      caCert: values.tlscacert ?? fromDir.caCert ?? env.BUILDKIT_TLS_CACERT,
      cert: values.tlscert ?? fromDir.cert ?? env.BUILDKIT_TLS_CERT,
      key: values.tlskey ?? fromDir.key ?? env.BUILDKIT_TLS_KEY,
      serverName: values.tlsservername ?? env.BUILDKIT_TLS_SERVERNAME,
    },
    connectTimeout: values.timeout,
    allowPlaintext:
      values["allow-plaintext"] ??
      parseBoolean(env.BUILDKIT_ALLOW_PLAINTEXT, "BUILDKIT_ALLOW_PLAINTEXT", false),
    buildkitVersion: values["buildkit-version"],
    versionMismatch: values["version-mismatch"],
  };
}

export interface ConnectOptions {
  /** The build's platforms, for routing in a pool of runners. */
  platforms?: Platform[];
  strictPlatforms?: boolean;
  /** Start a pinned buildkitd when nothing is given and nothing answers (build does; info not). */
  startWhenNone?: boolean;
}

/** Parses the connection flags and acquires the runner they name: what every command does first. */
export async function connectFromFlags(
  values: ConnectionValues,
  context: CommandContext,
  connect: ConnectOptions = {},
): Promise<{ reporter: Reporter } & AcquiredRunner> {
  const reporter = context.reporter(values.debug ?? false);
  const options = parseRunnerOptions(
    runnerInputsFromFlags(values, context.env),
    CLI_RUNNER_NAMES,
    context.env,
  );
  const acquired = await acquireRunner({
    runner: options,
    names: CLI_RUNNER_NAMES,
    platforms: connect.platforms ?? [],
    strictPlatforms: connect.strictPlatforms ?? false,
    start: connect.startWhenNone ? startForCommand : undefined,
    reporter,
    env: context.env,
    signal: context.signal,
  });
  return { reporter, ...acquired };
}
