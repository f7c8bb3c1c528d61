// Resolving a runner: refuse unsafe plaintext, connect, health-check, enforce the version pin.
// connectRunner is the one place that does connect + probe + pin; resolveRunner (one endpoint)
// and resolvePool (several, pool.ts) both go through it.
import { BuildkitClient, hasTls, isLoopbackHost, type RunnerInfo } from "../buildkit/index.js";
import { InputError, PolicyError } from "../errors.js";
import type { Reporter } from "../report/reporter.js";
import type { RunnerInputNames, RunnerOptions, SingleRunnerOptions } from "./options.js";
import { versionPinMismatch } from "./version-pin.js";

export interface ResolvedRunner {
  client: BuildkitClient;
  info: RunnerInfo;
}

export async function resolveRunner(
  options: RunnerOptions,
  names: RunnerInputNames,
  reporter: Reporter,
  signal?: AbortSignal,
): Promise<ResolvedRunner> {
  refuseUnsafePlaintext(options, names);
  return connectRunner(options, reporter, signal);
}

/**
 * Connects to one runner, probes it (Info, ListWorkers) and checks the version pin. The client is
 * closed when anything fails. Call refuseUnsafePlaintext first: it is a usage error, not a probe.
 */
export async function connectRunner(
  options: SingleRunnerOptions,
  reporter: Reporter,
  signal?: AbortSignal,
): Promise<ResolvedRunner> {
  if (options.endpoint.kind !== "tcp" && hasTls(options.tls)) {
    const why =
      options.endpoint.kind === "ssh"
        ? "ssh endpoints are secured by ssh, not TLS"
        : "buildkitd serves unix sockets without TLS";
    reporter.warning(`TLS material is ignored for ${options.endpoint.address}: ${why}.`);
  }
  const client = new BuildkitClient(options);
  try {
    const info = await client.probe(signal);
    await checkVersionPin(options, info, reporter);
    return { client, info };
  } catch (error) {
    client.close();
    throw error;
  }
}

/** A BuildKit runner gives root on its machine to whoever reaches it: never in the clear by accident. */
export function refuseUnsafePlaintext(
  options: Pick<RunnerOptions, "endpoint" | "tls" | "allowPlaintext">,
  names: RunnerInputNames,
): void {
  const { endpoint } = options;
  if (endpoint.kind !== "tcp" || hasTls(options.tls) || isLoopbackHost(endpoint.host)) return;
  if (options.allowPlaintext) return;
  throw new InputError(
    `Refusing plaintext TCP to ${endpoint.address}: whoever reaches a BuildKit runner gets root on its machine. ` +
      `Give ${names.tls.caCert}, ${names.tls.cert} and ${names.tls.key}, or set ${names.allowPlaintext} to accept the risk.`,
  );
}

async function checkVersionPin(
  options: SingleRunnerOptions,
  info: RunnerInfo,
  reporter: Reporter,
): Promise<void> {
  if (!options.versionPin) return;
  const mismatch = await versionPinMismatch(options.versionPin, info.version?.version, info.endpoint);
  if (mismatch === undefined) {
    reporter.info(`BuildKit version pin ${options.versionPin.text} is met.`);
    return;
  }
  if (options.onVersionMismatch === "warning") reporter.warning(mismatch);
  else throw new PolicyError(mismatch);
}
