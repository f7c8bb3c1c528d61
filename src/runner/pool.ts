// A pool of runners in order of preference: all health-checked in parallel within one bound, then
// each requested platform routed to the first healthy runner that builds it natively. A runner
// that is down, refuses us or misses the version pin is skipped, and the log says why.
import {
  CancelledError,
  ConnectionError,
  type Endpoint,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  type Platform,
  type SshOptions,
  type TlsMaterial,
} from "../buildkit/index.js";
import { InputError, PolicyError } from "../errors.js";
import type { Reporter } from "../report/reporter.js";
import type { MismatchPolicy, RunnerInputNames, SingleRunnerOptions } from "./options.js";
import { connectRunner, refuseUnsafePlaintext, type ResolvedRunner } from "./resolve.js";
import type { VersionPin } from "./version-pin.js";

export interface RunnerCandidate {
  endpoint: Endpoint;
  tls: TlsMaterial;
  /** For an ssh:// endpoint: its key and known hosts. */
  ssh?: SshOptions;
  /** Platforms this runner builds natively, as its owner declares; overrides what its workers report. */
  platforms?: Platform[];
}

export interface PoolOptions {
  /** Requested platforms, normalized and without repeats; empty or absent: the first healthy runner's default. */
  platforms?: Platform[];
  /** Fail when a platform has no native runner, instead of letting the first healthy runner emulate it. */
  strict?: boolean;
  connectTimeoutMs: number;
  /** Bound on the whole parallel health check; default twice connectTimeoutMs. */
  healthTimeoutMs?: number;
  allowPlaintext: boolean;
  versionPin?: VersionPin;
  onVersionMismatch: MismatchPolicy;
  names: RunnerInputNames;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface PoolRunner extends ResolvedRunner {
  candidate: RunnerCandidate;
  /** What we treat as native: the declared platforms, else those of the workers' own architecture. */
  nativePlatforms: Platform[];
}

export interface PlatformAssignment {
  /** The requested platform, or undefined for "the runner's default platform". */
  platform: Platform | undefined;
  runner: PoolRunner;
  native: boolean;
  /** Why this runner, for the log and the step outputs: "chose tcp://b for linux/amd64: native". */
  reason: string;
}

export interface ResolvedPool {
  /** Each platform with its runner; the chosen runners' clients stay open until close(). */
  assignments: PlatformAssignment[];
  /** Why: one reason per skipped runner, then one per choice, joined with "; ". */
  summary: string;
  close(): void;
}

/**
 * Architectures a CPU runs without emulation. ListWorkers also lists platforms served through
 * QEMU (binfmt), with nothing to tell them apart; a worker's first platform is its own, so we
 * count that one and what its CPU family runs natively.
 */
const NATIVE_FAMILY: Record<string, string[]> = {
  amd64: ["amd64", "386"],
  arm64: ["arm64", "arm"],
  arm: ["arm"],
};

export function nativePlatformsOf(runner: ResolvedRunner, declared: Platform[] | undefined): Platform[] {
  if (declared && declared.length > 0) return declared.map(normalizePlatform);
  const native: Platform[] = [];
  for (const worker of runner.info.workers) {
    const own = worker.platforms[0] === undefined ? undefined : parsePlatform(worker.platforms[0]);
    if (own === undefined) continue;
    const family = NATIVE_FAMILY[own.architecture] ?? [own.architecture];
    for (const text of worker.platforms) {
      const platform = parsePlatform(text);
      if (!platform || platform.os !== own.os || !family.includes(platform.architecture)) continue;
      if (!native.some((known) => samePlatform(known, platform))) native.push(platform);
    }
  }
  return native;
}

function samePlatform(a: Platform, b: Platform): boolean {
  return formatPlatform(a) === formatPlatform(b);
}

export async function resolvePool(
  candidates: RunnerCandidate[],
  options: PoolOptions,
): Promise<ResolvedPool> {
  const { reporter, names } = options;
  if (candidates.length === 0) throw new InputError(`No runner is given; set ${names.endpoint}.`);
  // Usage errors first, before any connection: they would not get better with another runner.
  for (const { endpoint, tls } of candidates) {
    refuseUnsafePlaintext({ endpoint, tls, allowPlaintext: options.allowPlaintext }, names);
  }
  const requested = options.platforms ?? [];

  const probes = await healthCheck(candidates, options);
  const healthy: PoolRunner[] = [];
  const reasons: string[] = [];
  const failures: Error[] = [];
  probes.forEach((probe, index) => {
    const candidate = candidates[index]!;
    if ("error" in probe) {
      failures.push(probe.error);
      const line = `${candidate.endpoint.address}: ${skipReason(probe.error)}`;
      reasons.push(line);
      reporter.warning(`Skipping runner ${line}`);
      return;
    }
    healthy.push({ ...probe, candidate, nativePlatforms: nativePlatformsOf(probe, candidate.platforms) });
  });

  const closeAll = () => healthy.forEach((runner) => runner.client.close());
  try {
    if (healthy.length === 0) throw noHealthyRunner(candidates, failures);
    const assignments = assign(requested, healthy, options.strict ?? false, reasons);
    const chosen = healthy.filter((runner) => assignments.some((a) => a.runner === runner));
    // Only the chosen runners keep a channel open.
    for (const runner of healthy) if (!chosen.includes(runner)) runner.client.close();
    for (const assignment of assignments)
      reporter.info(assignment.reason[0]!.toUpperCase() + assignment.reason.slice(1) + ".");
    return {
      assignments,
      summary: reasons.join("; "),
      close: () => chosen.forEach((runner) => runner.client.close()),
    };
  } catch (error) {
    closeAll();
    throw error;
  }
}

type Probe = ResolvedRunner | { error: Error };

/** Every candidate at once, under one deadline; a failure is a result, not a throw. */
async function healthCheck(candidates: RunnerCandidate[], options: PoolOptions): Promise<Probe[]> {
  const boundMs = options.healthTimeoutMs ?? 2 * options.connectTimeoutMs;
  const timeout = AbortSignal.timeout(boundMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const probes = await Promise.all(
    candidates.map(async (candidate): Promise<Probe> => {
      const runnerOptions: SingleRunnerOptions = {
        endpoint: candidate.endpoint,
        tls: candidate.tls,
        ssh: candidate.ssh,
        connectTimeoutMs: options.connectTimeoutMs,
        allowPlaintext: options.allowPlaintext,
        versionPin: options.versionPin,
        onVersionMismatch: options.onVersionMismatch,
      };
      try {
        return await connectRunner(runnerOptions, options.reporter, signal);
      } catch (error) {
        if (error instanceof CancelledError && !options.signal?.aborted) {
          const seconds = Math.round(boundMs / 100) / 10;
          return {
            error: new ConnectionError(
              `The runner at ${candidate.endpoint.address} did not pass the health check within ${seconds} s.`,
              candidate.endpoint.address,
            ),
          };
        }
        return { error: error instanceof Error ? error : new Error(String(error)) };
      }
    }),
  );
  if (options.signal?.aborted) {
    for (const probe of probes) if (!("error" in probe)) probe.client.close();
    throw new CancelledError("Choosing a runner was cancelled.");
  }
  return probes;
}

function skipReason(error: Error): string {
  const sentence = error.message.replace(/\.$/, "");
  const lowered = sentence[0]!.toLowerCase() + sentence.slice(1);
  if (error instanceof PolicyError) return `refused (${lowered})`;
  if (error instanceof ConnectionError) return `down (${lowered})`;
  return `unhealthy (${lowered})`;
}

/** Everyone failed: a PolicyError when all were reached but missed the pin, else a ConnectionError. */
function noHealthyRunner(candidates: RunnerCandidate[], failures: Error[]): Error {
  if (candidates.length === 1) return failures[0]!;
  const addresses = candidates.map((c) => c.endpoint.address).join(", ");
  const why = failures.map((error) => error.message.replace(/\.$/, "")).join("; ");
  const message = `No runner of ${addresses} is usable: ${why}.`;
  if (failures.every((error) => error instanceof PolicyError)) return new PolicyError(message);
  return new ConnectionError(message, addresses);
}

function assign(
  requested: Platform[],
  healthy: PoolRunner[],
  strict: boolean,
  reasons: string[],
): PlatformAssignment[] {
  const first = healthy[0]!;
  if (requested.length === 0) {
    const own = first.nativePlatforms[0] ? formatPlatform(first.nativePlatforms[0]) : first.info.platforms[0];
    const reason = `chose ${first.info.endpoint} for its default platform${own ? ` (${own})` : ""}: first healthy runner`;
    reasons.push(reason);
    return [{ platform: undefined, runner: first, native: true, reason }];
  }
  const assignments: PlatformAssignment[] = [];
  const unserved: string[] = [];
  for (const platform of requested) {
    const native = healthy.find((runner) =>
      runner.nativePlatforms.some((own) => samePlatform(own, platform)),
    );
    if (native) {
      const reason = `chose ${native.info.endpoint} for ${formatPlatform(platform)}: native`;
      reasons.push(reason);
      assignments.push({ platform, runner: native, native: true, reason });
      continue;
    }
    unserved.push(formatPlatform(platform));
    const reason = `chose ${first.info.endpoint} for ${formatPlatform(platform)}: no healthy runner builds it natively, so it is emulated on the first healthy runner`;
    reasons.push(reason);
    assignments.push({ platform, runner: first, native: false, reason });
  }
  if (strict && unserved.length > 0) {
    const list = unserved.join(", ");
    const runners = healthy
      .map((r) => `${r.info.endpoint} (${r.nativePlatforms.map(formatPlatform).join(", ") || "none"})`)
      .join(", ");
    throw new PolicyError(
      `No healthy runner builds ${list} natively, and strict platform routing forbids emulation; healthy runners: ${runners}.`,
    );
  }
  return assignments;
}
