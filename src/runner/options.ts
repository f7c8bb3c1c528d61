// The runner part of the inputs: raw strings from the action or the CLI, validated once into
// RunnerOptions. Error sentences use the names the user knows (`endpoint` or `--addr`).
import { DEFAULT_ENDPOINT, parseEndpointList, type Endpoint } from "../buildkit/endpoint.js";
import { loadTlsMaterial, type TlsInputNames, type TlsInputs, type TlsMaterial } from "../buildkit/tls.js";
import { InputError } from "../errors.js";
import { parseVersionPin, type VersionPin } from "./version-pin.js";
import { parseDuration } from "../values.js";

export type MismatchPolicy = "error" | "warning";

export interface RunnerOptions {
  /** The first of `endpoints`: the runner when only one is given. */
  endpoint: Endpoint;
  /** Every runner given, in order of preference (repeated --addr, a comma list, lines). */
  endpoints: Endpoint[];
  /** False when no endpoint was given at all and buildctl's default socket stands in. */
  endpointGiven: boolean;
  tls: TlsMaterial;
  connectTimeoutMs: number;
  /** Plaintext TCP to a host that is not loopback is refused unless this is set. */
  allowPlaintext: boolean;
  versionPin: VersionPin | undefined;
  onVersionMismatch: MismatchPolicy;
}

/** What connecting to one runner needs. */
export type SingleRunnerOptions = Omit<RunnerOptions, "endpoints" | "endpointGiven">;

export interface RunnerInputs {
  endpoint?: string;
  tls: TlsInputs;
  connectTimeout?: string;
  allowPlaintext: boolean;
  buildkitVersion?: string;
  versionMismatch?: string;
}

export interface RunnerInputNames {
  endpoint: string;
  tls: TlsInputNames;
  connectTimeout: string;
  allowPlaintext: string;
  buildkitVersion: string;
  versionMismatch: string;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function parseRunnerOptions(
  inputs: RunnerInputs,
  names: RunnerInputNames,
  env: NodeJS.ProcessEnv = process.env,
): RunnerOptions {
  const given = nonEmpty(inputs.endpoint) ?? nonEmpty(env.BUILDKIT_HOST);
  const endpoints = parseEndpointList(given ?? DEFAULT_ENDPOINT);
  return {
    endpoint: endpoints[0]!,
    endpoints,
    endpointGiven: given !== undefined,
    tls: loadTlsMaterial(inputs.tls, names.tls),
    connectTimeoutMs: inputs.connectTimeout
      ? parseDuration(inputs.connectTimeout, names.connectTimeout)
      : DEFAULT_CONNECT_TIMEOUT_MS,
    allowPlaintext: inputs.allowPlaintext,
    versionPin: nonEmpty(inputs.buildkitVersion)
      ? parseVersionPin(inputs.buildkitVersion!, names.buildkitVersion)
      : undefined,
    onVersionMismatch: parseMismatchPolicy(inputs.versionMismatch, names.versionMismatch),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== "" ? value.trim() : undefined;
}

function parseMismatchPolicy(value: string | undefined, name: string): MismatchPolicy {
  const text = nonEmpty(value)?.toLowerCase() ?? "error";
  if (text === "error" || text === "fail") return "error";
  if (text === "warning" || text === "warn") return "warning";
  throw new InputError(`${name} is "${value}"; use error or warning.`);
}
