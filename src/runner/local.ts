// A runner started on this machine when none is given: the pinned buildkitd from PATH, a tool
// store or a verified download, started on its saved state (the build cache). Where the tools
// and the state are kept is the adapter's: the CLI's directories, the action's tool cache and
// GitHub's cache. Started for one command, it stops when released; started for the action's job,
// it outlives the main step, and the post step stops it and saves its state.
import { rm } from "node:fs/promises";
import type { Reporter } from "../report/reporter.js";
import type { StartedRunnerConfig } from "./daemon/config.js";
import { startBuildkitd, type StartedRunner } from "./daemon/start.js";
import { stopProcessById } from "./daemon/stop.js";
import { requireRootAccess } from "./privilege.js";
import { ensureBuildkitd, type FoundBuildkitd } from "./release/ensure.js";
import type { ToolStore } from "./release/tool-store.js";
import { startWithState, stateKey, stopAndSave, type StateStore } from "./state.js";

/** Where a started runner's tools and state are kept, and whether it outlives the step. */
export interface LocalRunnerPlace {
  tools: ToolStore;
  state: StateStore;
  /** buildkitd's state dir for a version. */
  stateDir(version: string): string;
  /** True when the runner outlives this process (the action's main step); else release() stops it. */
  detached: boolean;
  /** Keeps what a later step needs to stop a detached runner and save its state. */
  keep?(runner: DetachedRunner): void;
}

/** Where to download BuildKit's release from, and how to check it. */
export interface ReleaseSource {
  /** A mirror's URL pattern with {version} and {arch}; BuildKit's GitHub releases by default. */
  urlPattern?: string;
  sha256?: string;
  /** For GitHub's API, which gives the sha256 of BuildKit's release tarballs. */
  githubToken?: string;
}

export interface LocalRunnerStart extends LocalRunnerPlace {
  release: ReleaseSource;
  /** Its buildkitd.toml and extra flags (buildkitd-config, buildkitd-flags). */
  config?: StartedRunnerConfig;
}

/** A detached runner, as the step after the one that started it finds it. */
export interface DetachedRunner {
  pid: number;
  runtimeDir: string;
  stateDir: string;
  key: string;
}

export interface StartedLocalRunner {
  runner: StartedRunner;
  buildkitd: FoundBuildkitd;
  key: string;
  /** True when it started on a state kept from an earlier run. */
  restored: boolean;
  /** Stops the runner (unless detached) and saves its state. Never throws. */
  release(): Promise<void>;
  /** How the runner came to be, for the runner-reason output. */
  reason: string;
}

export async function startLocalRunner(options: {
  version: string;
  start: LocalRunnerStart;
  reporter: Reporter;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}): Promise<StartedLocalRunner> {
  const { version, start, reporter, signal } = options;
  // Before any download: without a way to run it as root, there is nothing to start.
  await requireRootAccess();
  const buildkitd = await ensureBuildkitd({
    version,
    urlPattern: start.release.urlPattern,
    sha256: start.release.sha256,
    githubApi: { token: start.release.githubToken },
    store: start.tools,
    reporter,
    env: options.env,
    signal,
  });
  const key = stateKey(version);
  const stateDir = start.stateDir(version);
  const { runner, restored } = await startWithState({
    store: start.state,
    key,
    stateDir,
    start: (dir) =>
      startBuildkitd({
        buildkitd,
        stateDir: dir,
        config: start.config,
        detached: start.detached,
        reporter,
        signal,
      }),
    reporter,
  });
  if (start.detached) start.keep?.({ pid: runner.pid, runtimeDir: runner.runtimeDir, stateDir, key });
  // Stopping fails only with a sentence worth a warning: the build it served is done.
  const stop = () =>
    runner
      .stop()
      .catch((error: unknown) =>
        reporter.warning(`Stopping the runner we started failed: ${(error as Error).message}`),
      );
  const cache = start.state.inPlace
    ? `with its cache in ${stateDir}`
    : restored
      ? "with the cache of an earlier run"
      : "with an empty cache";
  return {
    runner,
    buildkitd,
    key,
    restored,
    reason: `started buildkitd v${version.replace(/^v/, "")} (${buildkitd.source}), ${cache}`,
    release: async () => {
      if (!start.detached) await stopAndSave({ stop, stateDir }, start.state, key, reporter);
    },
  };
}

/** The post step's half: stops the runner the main step started, then saves its state. */
export async function stopDetachedRunner(
  detached: DetachedRunner,
  state: StateStore,
  reporter: Reporter,
): Promise<void> {
  const stop = async () => {
    await stopProcessById(detached.pid);
    // Its socket and log; the main step's process, which would have removed them, is gone.
    await rm(detached.runtimeDir, { recursive: true, force: true });
    reporter.info(`Stopped the BuildKit runner the main step started (pid ${detached.pid}).`);
  };
  await stopAndSave({ stop, stateDir: detached.stateDir }, state, detached.key, reporter);
}
