// Where the action's own runner keeps its tools and cache, for a job that gives no endpoint and
// has no buildkitd on the default socket: the pinned buildkitd in the tool cache (else downloaded,
// its sha256 checked, and cached), its state (the build cache) in GitHub's cache. The main step
// starts it detached; the post step stops it and saves the state, so that the next run builds warm.
import * as core from "./workflow-commands.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reporter } from "../report/reporter.js";
import { stopDetachedRunner, type DetachedRunner, type LocalRunnerPlace } from "../runner/local.js";
import { DownloadError } from "../runner/release/download.js";
import type { ToolStore } from "../runner/release/tool-store.js";
import { FileStateStore, StateError, type StateStore } from "../runner/state.js";
import { loadToolkit } from "./load-toolkit.js";

const TOOL_NAME = "buildkit";
const STATE = {
  pid: "runner-pid",
  runtimeDir: "runner-runtime-dir",
  stateDir: "runner-state-dir",
  key: "runner-state-key",
} as const;

/** @actions/tool-cache: RUNNER_TOOL_CACHE/buildkit/VERSION/ARCH, shared by the jobs of a machine. */
class ToolCacheStore implements ToolStore {
  async find(version: string, arch: string): Promise<string | undefined> {
    const { find } = await loadToolkit();
    return find(TOOL_NAME, version.replace(/^v/, ""), arch) || undefined;
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
    const { downloadTool } = await loadToolkit();
    try {
      return await Promise.race([downloadTool(url), aborted]);
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
    const { cacheDir } = await loadToolkit();
    return cacheDir(extracted, TOOL_NAME, version.replace(/^v/, ""), arch);
  }
}

/**
 * @actions/cache holding FileStateStore's tarball of the state dir. The dir is buildkitd's, owned
 * by root, and the action runs as the job's user on GitHub's hosted machines: @actions/cache's own tar
 * could not read it, while FileStateStore's tar runs as root (through sudo) and keeps owners,
 * devices and xattrs. Entries cannot be overwritten, so each run saves under KEY-RUN_ID-ATTEMPT
 * and restores the newest KEY-* (GitHub's prefix match).
 */
class ActionsCacheStateStore implements StateStore {
  readonly inPlace = false;
  // A fixed path: @actions/cache restores to the path it saved from.
  private readonly tarballs = new FileStateStore(
    join(process.env.RUNNER_TEMP || tmpdir(), "remote-buildkit-state-tarball"),
  );
  async restore(key: string, dir: string): Promise<boolean> {
    const tarball = this.tarballs.file(key);
    const { restoreCache } = await loadToolkit();
    if ((await restoreCache([tarball], runKey(key), [`${key}-`])) === undefined) return false;
    try {
      return await this.tarballs.restore(key, dir);
    } finally {
      await rm(tarball, { force: true });
    }
  }
  async save(key: string, dir: string): Promise<string> {
    await this.tarballs.save(key, dir);
    const tarball = this.tarballs.file(key);
    try {
      // saveCache warns and answers -1 on most failures rather than throwing.
      const { saveCache } = await loadToolkit();
      if ((await saveCache([tarball], runKey(key))) === -1) {
        throw new StateError("GitHub's cache service did not take it (see the warning above).");
      }
    } finally {
      await rm(tarball, { force: true });
    }
    return runKey(key);
  }
}

function runKey(key: string): string {
  return `${key}-${process.env.GITHUB_RUN_ID ?? "0"}-${process.env.GITHUB_RUN_ATTEMPT ?? "1"}`;
}

/** The action's runner: detached (the post step stops it), its cache in GitHub's cache. */
export function actionLocalRunner(): LocalRunnerPlace {
  return {
    tools: new ToolCacheStore(),
    state: new ActionsCacheStateStore(),
    // A fixed path: @actions/cache restores to the path it saved from.
    stateDir: () => join(process.env.RUNNER_TEMP || tmpdir(), "remote-buildkit-state"),
    detached: true,
    keep: (runner) => {
      core.saveState(STATE.pid, String(runner.pid));
      core.saveState(STATE.runtimeDir, runner.runtimeDir);
      core.saveState(STATE.stateDir, runner.stateDir);
      core.saveState(STATE.key, runner.key);
    },
  };
}

/** The post step's half: stop the runner the main step started, if it started one, and save its state. */
export async function stopActionRunner(reporter: Reporter): Promise<void> {
  const pid = Number(core.getState(STATE.pid));
  if (!pid) return;
  const detached: DetachedRunner = {
    pid,
    runtimeDir: core.getState(STATE.runtimeDir),
    stateDir: core.getState(STATE.stateDir),
    key: core.getState(STATE.key),
  };
  await stopDetachedRunner(detached, new ActionsCacheStateStore(), reporter);
}
