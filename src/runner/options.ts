// How to reach the runner, as the job layer builds it from the inputs: endpoints, TLS material,
// deadlines and the version pin. Error sentences use the names the user knows (`endpoint` or
// `--addr`), which RunnerInputNames carries.
import type { Endpoint, Platform, SshOptions, TlsInputNames, TlsMaterial } from "../buildkit/index.js";
import { InputError } from "../errors.js";
import type { VersionPin } from "./version-pin.js";

export type MismatchPolicy = "error" | "warning";

export interface RunnerOptions {
  /** The first of `endpoints`: the runner when only one is given. */
  endpoint: Endpoint;
  /** Every runner given, in order of preference (repeated --addr, a comma list, lines). */
  endpoints: Endpoint[];
  /** False when no endpoint was given at all and buildctl's default socket stands in. */
  endpointGiven: boolean;
  tls: TlsMaterial;
  /** For ssh:// endpoints: the key (else the agent's) and the known hosts (else the user's). */
  ssh?: SshOptions;
  /**
   * Runners that each have their own TLS material and platforms (a runner list or a buildx
   * builder), and where they were described; `endpoints` are theirs then, and `tls` unused.
   */
  configured?: { runners: OwnTlsRunner[]; from: string };
  connectTimeoutMs: number;
  /** Plaintext TCP to a host that is not loopback is refused unless this is set. */
  allowPlaintext: boolean;
  versionPin: VersionPin | undefined;
  onVersionMismatch: MismatchPolicy;
}

/** A runner with its own TLS material and declared platforms (pool-config.ts's ConfiguredRunner). */
export interface OwnTlsRunner {
  name: string;
  endpoint: Endpoint;
  tls: TlsMaterial;
  platforms?: Platform[];
}

/** What connecting to one runner needs. */
export type SingleRunnerOptions = Omit<RunnerOptions, "endpoints" | "endpointGiven">;

export interface RunnerInputNames {
  endpoint: string;
  /** The environment variable that gives the endpoint when the input does not. */
  endpointEnv: string;
  tls: TlsInputNames;
  connectTimeout: string;
  allowPlaintext: string;
  buildkitVersion: string;
  versionMismatch: string;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== "" ? value.trim() : undefined;
}

/** error (or fail) and warning (or warn): what a runner that misses the version pin does. */
export function parseMismatchPolicy(value: string | undefined, name: string): MismatchPolicy {
  const text = nonEmpty(value)?.toLowerCase() ?? "error";
  if (text === "error" || text === "fail") return "error";
  if (text === "warning" || text === "warn") return "warning";
  throw new InputError(`${name} is "${value}"; use error or warning.`);
}
