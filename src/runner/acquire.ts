// Getting a runner for one job, whatever was given: one endpoint (connect, check, pin), several
// (a pool: health-checked in parallel, platforms routed to native runners by affinity and load,
// failover), or none (buildctl's default socket if a buildkitd answers there, else a pinned
// buildkitd started where the adapter keeps one, its cache kept between runs: see local.ts).
// With `fallback: local`, that local start also stands in when no runner given answers.
import {
  type BuildkitClient,
  ConnectionError,
  DEFAULT_ENDPOINT,
  formatPlatform,
  type Platform,
  type RunnerInfo,
} from "../buildkit/index.js";
import type { Reporter } from "../report/reporter.js";
import type { RunnerInputNames, RunnerOptions } from "./options.js";
import { PolicyError } from "../errors.js";
import type { Routing } from "./affinity.js";
import { NoRunnerError } from "./errors.js";
import { nativePlatformsOf, resolvePool, type PoolRunnerReport } from "./pool.js";
import { startLocalRunner, type LocalRunnerStart } from "./local.js";
import { connectRunner, resolveRunner } from "./resolve.js";
import { versionToStart } from "./release/versions.js";

export interface AcquireOptions {
  runner: RunnerOptions;
  names: RunnerInputNames;
  /** The platforms the build targets, for routing in a pool. */
  platforms: Platform[];
  /** Fail when a platform has no native runner, instead of building it under emulation. */
  strictPlatforms: boolean;
  /**
   * Where to start a pinned buildkitd when no endpoint is given and none answers on the default
   * socket. None means the default socket or nothing (the CLI's info).
   */
  start?: LocalRunnerStart;
  reporter: Reporter;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** How a pool picks: affinity for the key (when one is given) or in order; the bound on waiting. */
  routing?: { mode: Routing; affinityKey?: string; busyTimeoutMs?: number };
  /** local: when no runner given answers, start the pinned local runner (needs `start`). */
  fallback?: "none" | "local";
}

export interface AcquiredRunner {
  client: BuildkitClient;
  info: RunnerInfo;
  /** Why this runner: the pool's choices and skips, or how it was started. */
  reason: string;
  /**
   * Set when a pool gives the build's platforms to different runners: each platform with its
   * runner. One build cannot span runners, so the caller builds each platform apart.
   */
  byPlatform?: Array<{ platform: Platform; client: BuildkitClient; info: RunnerInfo }>;
  /** A pool's runners, each with its state, load and why it took the build or not. */
  pool?: PoolRunnerReport[];
  /** Closes the connection, and stops a runner we started. Never throws. */
  release(): Promise<void>;
}

export async function acquireRunner(options: AcquireOptions): Promise<AcquiredRunner> {
  if (options.fallback !== "local" || !options.start || !options.runner.endpointGiven) {
    return acquireGiven(options);
  }
  try {
    return await acquireGiven(options);
  } catch (error) {
    // Only "nobody answers": a runner that answered and refused (the pin, TLS) stays an error.
    if (!(error instanceof ConnectionError) || options.signal?.aborted) throw error;
    const why = error.message.replace(/\.$/, "");
    options.reporter.warning(
      `No runner given answers (${why}); starting the pinned local runner instead, as fallback: local asks.`,
    );
    const local = await startLocal(options, options.start);
    return {
      ...local,
      reason: `fallback to a local runner, as no runner given answered (${why}): ${local.reason}`,
    };
  }
}

async function acquireGiven(options: AcquireOptions): Promise<AcquiredRunner> {
  if (options.runner.endpoints.length > 1) return fromPool(options);
  const acquired = await oneRunner(options);
  try {
    checkNativePlatforms(acquired, options);
  } catch (error) {
    await acquired.release();
    throw error;
  }
  return acquired;
}

/**
 * One runner builds every platform; one that no worker of it builds natively is emulated (slow, or
 * failing where the runner has no emulator): a warning, or with strict-platforms a refusal, as a
 * pool does it.
 */
function checkNativePlatforms(acquired: AcquiredRunner, options: AcquireOptions): void {
  const native = nativePlatformsOf(acquired, undefined);
  const foreign = options.platforms.filter(
    (platform) => !native.some((own) => formatPlatform(own) === formatPlatform(platform)),
  );
  if (foreign.length === 0) return;
  const list = foreign.map(formatPlatform).join(", ");
  const endpoint = acquired.info.endpoint;
  const own = native.map(formatPlatform).join(", ") || "none";
  if (options.strictPlatforms) {
    throw new PolicyError(
      `No worker of ${endpoint} builds ${list} natively (its own: ${own}), and strict platform routing forbids emulation.`,
    );
  }
  options.reporter.warning(
    `No worker of ${endpoint} builds ${list} natively (its own: ${own}): it is built under emulation, where the runner has it.`,
  );
}

async function oneRunner(options: AcquireOptions): Promise<AcquiredRunner> {
  const { runner, names, reporter, signal, start } = options;
  const [configured] = runner.configured?.runners ?? [];
  if (configured) {
    // One runner described with its own TLS material: reached as a single endpoint with it.
    const resolved = await resolveRunner(
      { ...runner, endpoint: configured.endpoint, tls: configured.tls },
      names,
      reporter,
      signal,
    );
    return {
      ...resolved,
      reason: `given: ${resolved.info.endpoint} (${runner.configured!.from})`,
      release: async () => resolved.client.close(),
    };
  }
  if (runner.endpointGiven) {
    const resolved = await resolveRunner(runner, names, reporter, signal);
    return {
      ...resolved,
      reason: `given: ${resolved.info.endpoint}`,
      release: async () => resolved.client.close(),
    };
  }
  if (!start) return fromDefaultSocketOnly(options);
  // A runner configured for this job (buildkitd-config, buildkitd-flags) is ours to start.
  if (start.config?.custom) {
    reporter.info(`No runner is given; starting one configured by ${start.config.inputs}.`);
    return startLocal(options, start);
  }
  // Nothing given: a buildkitd on the default socket, if one answers quickly.
  try {
    const resolved = await connectRunner(
      { ...runner, connectTimeoutMs: Math.min(runner.connectTimeoutMs, 3_000) },
      reporter,
      signal,
    );
    return {
      ...resolved,
      reason: `the buildkitd on the default socket ${DEFAULT_ENDPOINT}`,
      release: async () => resolved.client.close(),
    };
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    reporter.info(
      `No runner is given and none answers at ${DEFAULT_ENDPOINT}; starting one for this command.`,
    );
  }
  return startLocal(options, start);
}

/**
 * Nothing given and nothing to start (the CLI's info): the default socket, or a sentence that says
 * how to name a runner and that a build would start the pinned one, so that info and build agree.
 */
async function fromDefaultSocketOnly(options: AcquireOptions): Promise<AcquiredRunner> {
  const { runner, names, reporter, signal } = options;
  try {
    const resolved = await resolveRunner(runner, names, reporter, signal);
    return {
      ...resolved,
      reason: `the buildkitd on the default socket ${DEFAULT_ENDPOINT}`,
      release: async () => resolved.client.close(),
    };
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    const why = error.message.replace(/\.$/, "");
    throw new NoRunnerError(
      `No runner is given (${names.endpoint} or ${names.endpointEnv}) and none answers on the default socket: ` +
        `${why.charAt(0).toLowerCase()}${why.slice(1)}; a build would start the pinned buildkitd ` +
        `v${versionToStart(runner.versionPin, names.buildkitVersion)} for its command, info only asks a running one.`,
    );
  }
}

async function fromPool(options: AcquireOptions): Promise<AcquiredRunner> {
  const { runner } = options;
  // Each runner with its own TLS material and platforms when described so, else the one set given.
  const candidates =
    runner.configured?.runners ??
    runner.endpoints.map((endpoint) => ({ endpoint, tls: runner.tls, ssh: runner.ssh }));
  const pool = await resolvePool(candidates, {
    platforms: options.platforms,
    strict: options.strictPlatforms,
    connectTimeoutMs: runner.connectTimeoutMs,
    allowPlaintext: runner.allowPlaintext,
    versionPin: runner.versionPin,
    onVersionMismatch: runner.onVersionMismatch,
    names: options.names,
    reporter: options.reporter,
    signal: options.signal,
    routing: options.routing?.mode,
    affinityKey: options.routing?.affinityKey,
    busyTimeoutMs: options.routing?.busyTimeoutMs,
  });
  const [first] = pool.assignments;
  const chosen = first!.runner;
  const spansRunners = pool.assignments.some((assignment) => assignment.runner !== chosen);
  return {
    client: chosen.client,
    info: chosen.info,
    reason: pool.summary,
    pool: pool.runners,
    byPlatform: spansRunners
      ? pool.assignments.map((assignment) => ({
          platform: assignment.platform!,
          client: assignment.runner.client,
          info: assignment.runner.info,
        }))
      : undefined,
    release: async () => pool.close(),
  };
}

/** A pinned buildkitd started here, for the command or for the job. */
async function startLocal(options: AcquireOptions, start: LocalRunnerStart): Promise<AcquiredRunner> {
  const { runner, names, reporter, signal } = options;
  const version = versionToStart(runner.versionPin, names.buildkitVersion);
  const local = await startLocalRunner({ version, start, reporter, env: options.env, signal });
  try {
    const resolved = await connectRunner(
      { ...runner, endpoint: local.runner.endpoint, tls: {} },
      reporter,
      signal,
    );
    return {
      ...resolved,
      reason: local.reason,
      release: async () => {
        resolved.client.close();
        await local.release();
      },
    };
  } catch (error) {
    // Not answering us after it answered the readiness check: stop it, even a detached one.
    await local.runner.stop().catch(() => undefined);
    throw error;
  }
}
