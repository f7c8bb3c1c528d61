// Getting a runner for one command, whatever was given: one endpoint (connect, check, pin), several
// (a pool: health-checked in parallel, platforms routed to native runners, failover), or none
// (buildctl's default socket if a buildkitd answers there, else a pinned buildkitd started for the
// command and stopped after it, its cache kept in a state dir between runs).
import { join } from "node:path";
import { ConnectionError } from "../buildkit/errors.js";
import { DEFAULT_ENDPOINT } from "../buildkit/endpoint.js";
import type { BuildkitClient, RunnerInfo } from "../buildkit/client.js";
import type { Platform } from "../buildkit/platform.js";
import type { Reporter } from "../report/reporter.js";
import type { RunnerInputNames, RunnerOptions } from "./options.js";
import { resolvePool } from "./pool.js";
import { requireRootAccess } from "./privilege.js";
import { connectRunner, resolveRunner } from "./resolve.js";
import { startBuildkitd, type StartedRunner } from "./daemon/start.js";
import { ensureBuildkitd } from "./release/ensure.js";
import { defaultCacheRoot, DirToolStore } from "./release/tool-store.js";
import { versionToStart } from "./release/versions.js";
import { clearDir } from "./state.js";

export interface AcquireOptions {
  runner: RunnerOptions;
  names: RunnerInputNames;
  /** The platforms the build targets, for routing in a pool. */
  platforms: Platform[];
  /** Fail when a platform has no native runner, instead of building it under emulation. */
  strictPlatforms: boolean;
  /**
   * Starts a pinned buildkitd when no endpoint is given and none answers on the default socket:
   * startForCommand for the CLI, the action's own (detached, stopped by its post step). None
   * means the default socket or nothing.
   */
  start?: (options: AcquireOptions) => Promise<AcquiredRunner>;
  reporter: Reporter;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
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
  /** Closes the connection, and stops a runner we started. Never throws. */
  release(): Promise<void>;
}

export async function acquireRunner(options: AcquireOptions): Promise<AcquiredRunner> {
  const { runner, names, reporter, signal } = options;
  if (runner.endpoints.length > 1) return fromPool(options);
  if (runner.endpointGiven || !options.start) {
    const resolved = await resolveRunner(runner, names, reporter, signal);
    return {
      ...resolved,
      reason: `given: ${resolved.info.endpoint}`,
      release: async () => resolved.client.close(),
    };
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
  return options.start(options);
}

async function fromPool(options: AcquireOptions): Promise<AcquiredRunner> {
  const { runner } = options;
  const pool = await resolvePool(
    runner.endpoints.map((endpoint) => ({ endpoint, tls: runner.tls })),
    {
      platforms: options.platforms,
      strict: options.strictPlatforms,
      connectTimeoutMs: runner.connectTimeoutMs,
      allowPlaintext: runner.allowPlaintext,
      versionPin: runner.versionPin,
      onVersionMismatch: runner.onVersionMismatch,
      names: options.names,
      reporter: options.reporter,
      signal: options.signal,
    },
  );
  const [first] = pool.assignments;
  const chosen = first!.runner;
  const spansRunners = pool.assignments.some((assignment) => assignment.runner !== chosen);
  return {
    client: chosen.client,
    info: chosen.info,
    reason: pool.summary,
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

/** A pinned buildkitd for the duration of the command: from PATH, the cache dir, or a download. */
export async function startForCommand(options: AcquireOptions): Promise<AcquiredRunner> {
  const { runner, names, reporter, signal } = options;
  const version = versionToStart(runner.versionPin, names.buildkitVersion);
  // Before any download: without a way to run it as root, there is nothing to start.
  await requireRootAccess();
  const cacheRoot = defaultCacheRoot(options.env);
  const buildkitd = await ensureBuildkitd({
    version,
    store: new DirToolStore(cacheRoot),
    // GitHub's API gives the release tarball's sha256; a token lifts its limit for anonymous callers.
    githubApi: { token: options.env?.GITHUB_TOKEN || undefined },
    reporter,
    env: options.env,
    signal,
  });
  // The state dir is the build cache: kept between commands, so the next build starts warm.
  const stateDir = join(cacheRoot, "state", `buildkit-v${version.replace(/^v/, "")}`);
  let started: StartedRunner;
  try {
    started = await startBuildkitd({ buildkitd, stateDir, reporter, signal });
  } catch (error) {
    reporter.warning(
      `buildkitd did not start on its state in ${stateDir} (${(error as Error).message.replace(/\.$/, "")}); starting with an empty cache.`,
    );
    await clearDir(stateDir);
    started = await startBuildkitd({ buildkitd, stateDir, reporter, signal });
  }
  return connectToStarted(options, started, {
    reason: `started buildkitd v${version.replace(/^v/, "")} (${buildkitd.source}) with its cache in ${stateDir}`,
    stopOnRelease: true,
  });
}

/**
 * Connects to a buildkitd we started (unix socket, no TLS), and stops it if that fails. With
 * stopOnRelease, release() stops it too (the CLI); else something later does (the post step).
 */
export async function connectToStarted(
  options: AcquireOptions,
  started: StartedRunner,
  how: { reason: string; stopOnRelease: boolean },
): Promise<AcquiredRunner> {
  const { runner, reporter, signal } = options;
  const stop = () =>
    started
      .stop()
      .catch((error: unknown) =>
        reporter.warning(`Stopping the runner we started failed: ${(error as Error).message}`),
      );
  try {
    const resolved = await connectRunner(
      { ...runner, endpoint: started.endpoint, tls: {} },
      reporter,
      signal,
    );
    return {
      ...resolved,
      reason: how.reason,
      release: async () => {
        resolved.client.close();
        if (how.stopOnRelease) await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
