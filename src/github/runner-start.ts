// The action's own runner, for a job that gives no endpoint and has no buildkitd on the default
// socket: the main step finds the pinned buildkitd in the tool cache (else downloads it, checks
// its sha256 and caches it), restores its state (the build cache) with @actions/cache, and starts
// it detached; the post step stops it and saves the state, so that the next run builds warm.
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import * as toolCache from "@actions/tool-cache";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectToStarted, type AcquiredRunner, type AcquireOptions } from "../runner/acquire.js";
import { requireRootAccess } from "../runner/privilege.js";
import { startBuildkitd } from "../runner/daemon/start.js";
import { stopProcessById } from "../runner/daemon/stop.js";
import { DownloadError } from "../runner/release/download.js";
import { ensureBuildkitd } from "../runner/release/ensure.js";
import type { ToolStore } from "../runner/release/tool-store.js";
import { versionToStart } from "../runner/release/versions.js";
import { FileStateStore, StateError, startWithState, stateKey, type StateStore } from "../runner/state.js";

const TOOL_NAME = "buildkit";
const STATE = {
  pid: "runner-pid",
  runtimeDir: "runner-runtime-dir",
  stateDir: "runner-state-dir",
  key: "runner-state-key",
} as const;

/** @actions/tool-cache: RUNNER_TOOL_CACHE/buildkit/VERSION/ARCH, shared by the jobs of a runner. */
class ToolCacheStore implements ToolStore {
  async find(version: string, arch: string): Promise<string | undefined> {
    return toolCache.find(TOOL_NAME, version.replace(/^v/, ""), arch) || undefined;
  }
  async download(url: string, signal: AbortSignal): Promise<string> {
    // downloadTool takes no signal: stop waiting on abort, and its own retries end it.
    const aborted = new Promise<never>((_, reject) =>
      signal.addEventListener(
        "abort",
        () => reject(new DownloadError(`The download of ${url} was stopped.`)),
        {
          once: true,
        },
      ),
    );
    try {
      return await Promise.race([toolCache.downloadTool(url), aborted]);
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      const status = (error as { httpStatusCode?: number }).httpStatusCode;
      throw new DownloadError(
        `The download of ${url} failed${status ? ` with HTTP ${status}` : ""}.`,
        status,
      );
    }
  }
  async scratchDir(): Promise<string> {
    return mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), "buildkit-extract-"));
  }
  async keep(extracted: string, version: string, arch: string): Promise<string> {
    return toolCache.cacheDir(extracted, TOOL_NAME, version.replace(/^v/, ""), arch);
  }
}

/**
 * @actions/cache holding FileStateStore's tarball of the state dir. The dir is buildkitd's, owned
 * by root, and the action runs as the job's user on GitHub's runners: @actions/cache's own tar
 * could not read it, while FileStateStore's tar runs as root (through sudo) and keeps owners,
 * devices and xattrs. Entries cannot be overwritten, so each run saves under KEY-RUN_ID-ATTEMPT
 * and restores the newest KEY-* (GitHub's prefix match).
 */
class ActionsCacheStateStore implements StateStore {
  // A fixed path: @actions/cache restores to the path it saved from.
  private readonly tarballs = new FileStateStore(
    join(process.env.RUNNER_TEMP || tmpdir(), "remote-buildkit-state-tarball"),
  );
  async restore(key: string, dir: string): Promise<boolean> {
    const tarball = this.tarballs.file(key);
    if ((await cache.restoreCache([tarball], runKey(key), [`${key}-`])) === undefined) return false;
    try {
      return await this.tarballs.restore(key, dir);
    } finally {
      await rm(tarball, { force: true });
    }
  }
  async save(key: string, dir: string): Promise<void> {
    await this.tarballs.save(key, dir);
    const tarball = this.tarballs.file(key);
    try {
      // saveCache warns and answers -1 on most failures rather than throwing.
      if ((await cache.saveCache([tarball], runKey(key))) === -1) {
        throw new StateError("GitHub's cache service did not take it (see the warning above).");
      }
    } finally {
      await rm(tarball, { force: true });
    }
  }
}

function runKey(key: string): string {
  return `${key}-${process.env.GITHUB_RUN_ID ?? "0"}-${process.env.GITHUB_RUN_ATTEMPT ?? "1"}`;
}

export interface JobRunnerSettings {
  releaseUrl?: string;
  sha256?: string;
  /** For GitHub's API, which gives the sha256 of BuildKit's release tarball. */
  githubToken?: string;
}

/** The `start` of acquireRunner for the action: detached, stopped by the post step. */
export function startForJob(settings: JobRunnerSettings) {
  return async (options: AcquireOptions): Promise<AcquiredRunner> => {
    const { runner, names, reporter, signal } = options;
    const version = versionToStart(runner.versionPin, names.buildkitVersion);
    // Before any download: without a way to run it as root, there is nothing to start.
    await requireRootAccess();
    const buildkitd = await ensureBuildkitd({
      version,
      urlPattern: settings.releaseUrl,
      githubApi: { token: settings.githubToken },
      sha256: settings.sha256,
      store: new ToolCacheStore(),
      reporter,
      signal,
    });
    const key = stateKey(version);
    // A fixed path: @actions/cache restores to the path it saved from.
    const stateDir = join(process.env.RUNNER_TEMP || tmpdir(), "remote-buildkit-state");
    const { runner: started, restored } = await startWithState({
      store: new ActionsCacheStateStore(),
      key,
      stateDir,
      start: (dir) => startBuildkitd({ buildkitd, stateDir: dir, detached: true, reporter, signal }),
      reporter,
    });
    core.saveState(STATE.pid, String(started.pid));
    core.saveState(STATE.runtimeDir, started.runtimeDir);
    core.saveState(STATE.stateDir, stateDir);
    core.saveState(STATE.key, key);
    return connectToStarted(options, started, {
      reason: `started buildkitd v${version} (${buildkitd.source}), ${restored ? "with the cache of an earlier run" : "with an empty cache"}`,
      stopOnRelease: false,
    });
  };
}

/** The post step's half: stop the runner the main step started, then save its state. */
export async function stopJobRunner(): Promise<void> {
  const pid = Number(core.getState(STATE.pid));
  if (!pid) return;
  await stopProcessById(pid);
  // Its socket and log; the main step's process, which would have removed them, is gone.
  const runtimeDir = core.getState(STATE.runtimeDir);
  if (runtimeDir) await rm(runtimeDir, { recursive: true, force: true });
  core.info(`Stopped the BuildKit runner the main step started (pid ${pid}).`);
  const stateDir = core.getState(STATE.stateDir);
  const key = core.getState(STATE.key);
  try {
    await new ActionsCacheStateStore().save(key, stateDir);
    core.info(`Saved the runner's cache as ${runKey(key)}.`);
  } catch (error) {
    core.warning(`The runner's cache was not saved: ${(error as Error).message}`);
  }
}
