// A pool of runners: all health-checked in parallel within one bound (which also learns each
// runner's builds in flight, round-trip time and cache size), then each requested platform routed
// among the healthy runners that build it natively: ranked by affinity (rendezvous hashing of the
// project's key, affinity.ts) or in the order given, passing over a runner at its max-parallelism
// for the next in rank, and waiting (bounded) when every one is. A runner that is down, refuses
// us or misses the version pin is skipped, and the log says why.
import {
  CancelledError,
  ConnectionError,
  type Endpoint,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  type Platform,
  type RunnerInfo,
  type SshOptions,
  type TlsMaterial,
} from "../buildkit/index.js";
import { InputError, PolicyError } from "../errors.js";
import type { Reporter } from "../report/reporter.js";
import { rankByAffinity, type Routing } from "./affinity.js";
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
  /** Its name in the log and the summary, and its identity for affinity; default its endpoint. */
  name?: string;
  /**
   * How many builds it takes at once, as its owner declares (buildkitd's max-parallelism is not
   * readable by clients). At or above it, the runner is passed over for the next in rank.
   */
  maxParallelism?: number;
}

/** What the health check learns of a runner's load. */
export interface RunnerLoad {
  /** Builds in flight (ListenBuildHistory, active only); undefined when the runner cannot say. */
  buildsInFlight: number | undefined;
  /** The round trip of that call, in milliseconds. */
  roundTripMs: number | undefined;
  /** The build cache's size in bytes (DiskUsage); undefined when the runner did not say in time. */
  cacheBytes: number | undefined;
}

/** One runner of the pool, as the summary and `info` show it. */
export interface PoolRunnerReport {
  name: string;
  endpoint: string;
  /** chosen: took (part of) this build; ready: healthy, not needed; busy: passed over at its max-parallelism. */
  state: "chosen" | "ready" | "busy" | "down" | "refused" | "unhealthy";
  info?: RunnerInfo;
  load?: RunnerLoad;
  maxParallelism?: number;
  /** Why it was skipped, passed over or chosen, in a few words. */
  note: string;
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
  /** affinity (the default when a key is given): rendezvous ranking by affinityKey; ordered: as given. */
  routing?: Routing;
  /** The project's key for affinity routing; without one the pool is taken in order. */
  affinityKey?: string;
  /** How long to wait when every candidate is at its max-parallelism; default 5 minutes. */
  busyTimeoutMs?: number;
  /** How often to ask busy runners again while waiting; default 2 s. */
  busyPollMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_BUSY_POLL_MS = 2_000;
/** How long the health check waits for a runner's cache size (DiskUsage) before leaving it out. */
const CACHE_SIZE_BOUND_MS = 3_000;

export interface PoolRunner extends ResolvedRunner {
  candidate: RunnerCandidate;
  /** What we treat as native: the declared platforms, else those of the workers' own architecture. */
  nativePlatforms: Platform[];
  load: RunnerLoad;
  /** The candidate's name, else its endpoint. */
  name: string;
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
  /** Every runner of the pool in the order given: its state, version, load, and why. */
  runners: PoolRunnerReport[];
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

  const { healthy, failures, reports } = await checkPool(candidates, options);
  const reasons = reports
    .filter((report) => !report.info)
    .map((report) => `${report.endpoint}: ${report.note}`);
  for (const line of reasons) reporter.warning(`Skipping runner ${line}`);

  const closeAll = () => healthy.forEach((runner) => runner.client.close());
  try {
    if (healthy.length === 0) throw noHealthyRunner(candidates, failures);
    const routing = new Router(healthy, options, reasons);
    const assignments = await routing.assign(requested, options.strict ?? false);
    const chosen = healthy.filter((runner) => assignments.some((a) => a.runner === runner));
    // Only the chosen runners keep a channel open.
    for (const runner of healthy) if (!chosen.includes(runner)) runner.client.close();
    for (const assignment of assignments)
      reporter.info(assignment.reason[0]!.toUpperCase() + assignment.reason.slice(1) + ".");
    return {
      assignments,
      summary: reasons.join("; "),
      runners: reports.map((report) => routing.finalReport(report, assignments)),
      close: () => chosen.forEach((runner) => runner.client.close()),
    };
  } catch (error) {
    closeAll();
    throw error;
  }
}

interface PoolCheck {
  healthy: PoolRunner[];
  failures: Error[];
  /** One per candidate, in the order given. */
  reports: PoolRunnerReport[];
}

async function checkPool(candidates: RunnerCandidate[], options: PoolOptions): Promise<PoolCheck> {
  const probes = await healthCheck(candidates, options);
  const check: PoolCheck = { healthy: [], failures: [], reports: [] };
  probes.forEach((probe, index) => {
    const candidate = candidates[index]!;
    const name = candidate.name ?? candidate.endpoint.address;
    const report = { name, endpoint: candidate.endpoint.address, maxParallelism: candidate.maxParallelism };
    if ("error" in probe) {
      check.failures.push(probe.error);
      const note = skipReason(probe.error);
      check.reports.push({ ...report, state: stateOf(probe.error), note });
      return;
    }
    const runner: PoolRunner = {
      ...probe,
      candidate,
      name,
      nativePlatforms: nativePlatformsOf(probe, candidate.platforms),
    };
    check.healthy.push(runner);
    check.reports.push({ ...report, state: "ready", info: probe.info, load: probe.load, note: "healthy" });
  });
  return check;
}

type Probe = (ResolvedRunner & { load: RunnerLoad }) | { error: Error };

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
        const resolved = await connectRunner(runnerOptions, options.reporter, signal);
        const [load, cacheBytes] = await Promise.all([
          measureLoad(resolved.client, signal),
          // Only for the summary: never worth holding up the choice for long.
          resolved.client
            .cacheBytes(AbortSignal.any([signal, AbortSignal.timeout(CACHE_SIZE_BOUND_MS)]))
            .catch(() => undefined),
        ]);
        return { ...resolved, load: { ...load, cacheBytes } };
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

/**
 * Builds in flight and the round trip of asking. A runner that cannot say (older than v0.11, or
 * no answer in time) counts as not busy: we never pass over a runner on a guess.
 */
async function measureLoad(
  client: ResolvedRunner["client"],
  signal: AbortSignal | undefined,
): Promise<Omit<RunnerLoad, "cacheBytes">> {
  const started = performance.now();
  try {
    const builds = await client.buildsInFlight(signal);
    return { buildsInFlight: builds?.length, roundTripMs: Math.round(performance.now() - started) };
  } catch {
    return { buildsInFlight: undefined, roundTripMs: undefined };
  }
}

function stateOf(error: Error): PoolRunnerReport["state"] {
  if (error instanceof PolicyError) return "refused";
  if (error instanceof ConnectionError) return "down";
  return "unhealthy";
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

/** Routes each platform to a runner: native first, in rank, passing over busy runners. */
class Router {
  private readonly busyNotes = new Map<PoolRunner, string>();

  constructor(
    private readonly healthy: PoolRunner[],
    private readonly options: PoolOptions,
    private readonly reasons: string[],
  ) {}

  private get byAffinity(): boolean {
    return this.options.affinityKey !== undefined && (this.options.routing ?? "affinity") === "affinity";
  }

  /** The runners in order of preference: by affinity for the key, else as given. */
  private ranked(runners: PoolRunner[]): PoolRunner[] {
    if (!this.byAffinity) return runners;
    return rankByAffinity(this.options.affinityKey!, runners, (runner) => runner.name);
  }

  async assign(requested: Platform[], strict: boolean): Promise<PlatformAssignment[]> {
    const { healthy } = this;
    if (requested.length === 0) {
      const pick = await this.pick(this.ranked(healthy), "its default platform");
      const { runner } = pick;
      const own = runner.nativePlatforms[0]
        ? formatPlatform(runner.nativePlatforms[0])
        : runner.info.platforms[0];
      const reason = `chose ${runner.info.endpoint} for its default platform${own ? ` (${own})` : ""}: ${this.describe(pick)}`;
      this.reasons.push(reason);
      return [{ platform: undefined, runner, native: true, reason }];
    }
    const assignments: PlatformAssignment[] = [];
    const unserved: string[] = [];
    for (const platform of requested) {
      const label = formatPlatform(platform);
      const natives = healthy.filter((runner) =>
        runner.nativePlatforms.some((own) => samePlatform(own, platform)),
      );
      if (natives.length > 0) {
        const pick = await this.pick(this.ranked(natives), label);
        const how =
          pick.rank === 0 && !this.byAffinity && pick.passed.length === 0 ? "" : `, ${this.describe(pick)}`;
        const reason = `chose ${pick.runner.info.endpoint} for ${label}: native${how}`;
        this.reasons.push(reason);
        assignments.push({ platform, runner: pick.runner, native: true, reason });
        continue;
      }
      unserved.push(label);
      if (strict) continue;
      const pick = await this.pick(this.ranked(healthy), label);
      const reason = `chose ${pick.runner.info.endpoint} for ${label}: no healthy runner builds it natively, so it is emulated on the ${this.describe(pick)}`;
      this.reasons.push(reason);
      assignments.push({ platform, runner: pick.runner, native: false, reason });
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

  /** "first healthy runner", "2nd of 3 by affinity (passed over tcp://a: busy (…))", and any wait. */
  private describe(pick: Pick): string {
    const of = pick.of > 1 ? ` of ${pick.of}` : "";
    const rank = this.byAffinity
      ? `${pick.rank === 0 ? "first" : ordinal(pick.rank + 1)}${of} by affinity`
      : pick.rank === 0
        ? "first healthy runner"
        : "next healthy runner in order";
    const passed = pick.passed.length > 0 ? ` (passed over ${pick.passed.join(", ")})` : "";
    const waited =
      pick.waitedMs === undefined
        ? ""
        : `, after waiting ${Math.round(pick.waitedMs / 1000)} s for a free runner`;
    const overloaded = pick.overloaded ? ", although busy: every runner stayed at its max-parallelism" : "";
    return `${rank}${passed}${waited}${overloaded}`;
  }

  /**
   * The first runner in rank below its max-parallelism. When every one is at it, asks them again
   * every poll until one frees up or the bound passes; then the first in rank takes it anyway.
   */
  private async pick(ranked: PoolRunner[], label: string): Promise<Pick> {
    const { reporter } = this.options;
    const boundMs = this.options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const pollMs = this.options.busyPollMs ?? DEFAULT_BUSY_POLL_MS;
    const started = Date.now();
    for (let round = 0; ; round++) {
      const passed: string[] = [];
      const waitedMs = round > 0 ? Date.now() - started : undefined;
      for (const [rank, runner] of ranked.entries()) {
        const busy = busyNote(runner);
        if (busy === undefined) {
          this.busyNotes.delete(runner);
          return { runner, rank, of: ranked.length, passed, waitedMs, overloaded: false };
        }
        this.busyNotes.set(runner, busy);
        passed.push(`${runner.info.endpoint}: ${busy}`);
      }
      const elapsed = Date.now() - started;
      if (elapsed >= boundMs) {
        const runner = ranked[0]!;
        reporter.warning(
          `Every runner for ${label} is still at its max-parallelism after ${Math.round(elapsed / 1000)} s (${passed.join("; ")}); building on ${runner.info.endpoint} anyway, where the build waits its turn.`,
        );
        return { runner, rank: 0, of: ranked.length, passed: [], waitedMs: elapsed, overloaded: true };
      }
      if (round === 0) {
        reporter.info(
          `Every runner for ${label} is at its max-parallelism (${passed.join("; ")}); waiting up to ${Math.round(boundMs / 1000)} s for one to free up.`,
        );
      }
      await sleep(Math.min(pollMs, boundMs - elapsed), this.options.signal);
      await Promise.all(
        ranked.map(async (runner) => {
          const load = await measureLoad(runner.client, this.options.signal);
          runner.load = { ...runner.load, ...load };
        }),
      );
    }
  }

  /** A report with the end of the story: chosen (for which platforms, why), passed over, or idle. */
  finalReport(report: PoolRunnerReport, assignments: PlatformAssignment[]): PoolRunnerReport {
    const runner = this.healthy.find(
      (each) => each.info.endpoint === report.endpoint && each.name === report.name,
    );
    if (!runner) return report;
    const mine = assignments.filter((assignment) => assignment.runner === runner);
    const load = runner.load;
    if (mine.length > 0) {
      const note = mine.map((assignment) => assignment.reason.replace(/^chose \S+ /, "")).join("; ");
      return { ...report, load, state: "chosen", note };
    }
    const busy = this.busyNotes.get(runner);
    if (busy !== undefined) return { ...report, load, state: "busy", note: `passed over: ${busy}` };
    return {
      ...report,
      load,
      note: this.byAffinity ? "healthy, ranked lower for this build" : "healthy, not needed",
    };
  }
}

/** A runner picked for a platform: its place in the ranking, whom it passed over, any wait. */
interface Pick {
  runner: PoolRunner;
  /** 0 for the first in rank. */
  rank: number;
  /** How many runners were ranked. */
  of: number;
  passed: string[];
  /** Set when every runner was busy at first. */
  waitedMs: number | undefined;
  /** True when the bound passed and the first in rank took the build although busy. */
  overloaded: boolean;
}

/** Why a runner is too busy to take another build, or undefined when it is not. */
function busyNote(runner: PoolRunner): string | undefined {
  const max = runner.candidate.maxParallelism;
  const inFlight = runner.load.buildsInFlight;
  if (max === undefined || inFlight === undefined || inFlight < max) return undefined;
  return `busy (${inFlight} build${inFlight === 1 ? "" : "s"} in flight, max-parallelism ${max})`;
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n % 100 !== 11
      ? "st"
      : n % 10 === 2 && n % 100 !== 12
        ? "nd"
        : n % 10 === 3 && n % 100 !== 13
          ? "rd"
          : "th";
  return `${n}${suffix}`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError("Choosing a runner was cancelled."));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError("Choosing a runner was cancelled."));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
