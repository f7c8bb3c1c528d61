// The started runner's state dir (its build cache) kept between runs: restored before buildkitd
// starts, saved after it stops. The CLI keeps it in place (InPlaceStateStore); the action keeps a
// tarball of it (FileStateStore) in GitHub's cache (src/github/).
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { InputError, UserError } from "../errors.js";
import type { Reporter } from "../report/reporter.js";
import { runAsRoot } from "./privilege.js";
import type { StartedRunner } from "./daemon/start.js";
import { releaseArch } from "./release/versions.js";

export interface StateStore {
  /**
   * True when the state stays where buildkitd uses it between runs: nothing is copied in or
   * out, and an empty dir is simply a cold cache.
   */
  readonly inPlace: boolean;
  /** Fills `dir` with the state saved under `key`; false when there is none. */
  restore(key: string, dir: string): Promise<boolean>;
  /** Saves `dir` (of a stopped buildkitd) under `key`; returns the name it is kept as, if copied. */
  save(key: string, dir: string): Promise<string | undefined>;
}

/** A saved state that cannot be restored or saved; the message is one sentence. */
export class StateError extends UserError {
  override name = "StateError";
}

/** The key a state is saved under: the cache only suits the same version, OS and architecture. */
export function stateKey(
  version: string,
  os: string = process.platform,
  arch: string = releaseArch(),
): string {
  return `buildkit-state-v${version.replace(/^v/, "")}-${os}-${arch}`;
}

export const DEFAULT_STATE_TIMEOUT_MS = 10 * 60_000;

/**
 * Tarballs in a directory, ROOT/KEY.tar, uncompressed (the layers in the cache are compressed
 * already). Owners, modes, devices and xattrs are kept: overlayfs snapshots use whiteout devices
 * and trusted.* xattrs, which is also why tar runs as root (through sudo when we are not).
 */
export class FileStateStore implements StateStore {
  readonly inPlace = false;

  constructor(
    readonly root: string,
    private readonly timeoutMs: number = DEFAULT_STATE_TIMEOUT_MS,
  ) {}

  async restore(key: string, dir: string): Promise<boolean> {
    const file = this.file(key);
    if (!existsSync(file)) return false;
    await mkdir(dir, { recursive: true });
    try {
      await runAsRoot("tar", ["-xf", file, "-C", dir, ...TAR_KEEP], { timeoutMs: this.timeoutMs });
    } catch (error) {
      await clearDir(dir);
      throw new StateError(`The saved runner state ${file} cannot be extracted: ${tarFailure(error)}.`);
    }
    return true;
  }

  async save(key: string, dir: string): Promise<string> {
    await mkdir(this.root, { recursive: true });
    const file = this.file(key);
    // Written beside and renamed: a save that fails half-way never replaces a good state.
    const partial = `${file}.partial-${process.pid}`;
    try {
      await runAsRoot("tar", ["-cf", partial, "-C", dir, ...TAR_KEEP, "."], { timeoutMs: this.timeoutMs });
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw new StateError(`The runner state in ${dir} cannot be saved to ${file}: ${tarFailure(error)}.`);
    }
    return key;
  }

  /** Where the state saved under `key` is kept. */
  file(key: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(key))
      throw new StateError(`The state key "${key}" has characters a file name cannot.`);
    return join(this.root, `${key}.tar`);
  }
}

/** The CLI's: the state dir stays where it is between commands (~/.cache/remote-buildkit/state). */
export class InPlaceStateStore implements StateStore {
  readonly inPlace = true;

  async restore(_key: string, dir: string): Promise<boolean> {
    await mkdir(dir, { recursive: true });
    return (await readdir(dir)).length > 0;
  }

  async save(): Promise<undefined> {
    return undefined;
  }
}

const TAR_KEEP = ["--numeric-owner", "--xattrs", "--xattrs-include=*"];

function tarFailure(error: unknown): string {
  const failure = error as { killed?: boolean; stderr?: string; message: string };
  if (failure.killed) return "tar did not finish in time";
  const lines = String(failure.stderr ?? failure.message)
    .trim()
    .split("\n")
    .filter((line) => !/Exiting with failure status/.test(line));
  return (lines[0] ?? "tar failed").replace(/^tar: /, "").replace(/\.$/, "");
}

/** Empties dir, keeping the directory itself; root's files in it through sudo when we are not root. */
export async function clearDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = (await readdir(dir)).map((entry) => join(dir, entry));
  try {
    for (const entry of entries) await rm(entry, { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw error;
    await runAsRoot("rm", ["-rf", "--", ...entries], { timeoutMs: DEFAULT_STATE_TIMEOUT_MS });
  }
}

export interface StartWithStateOptions {
  store: StateStore;
  key: string;
  stateDir: string;
  /** Starts buildkitd on the state dir (startBuildkitd with the caller's options). */
  start: (stateDir: string) => Promise<StartedRunner>;
  reporter: Reporter;
}

export interface StartedWithState {
  runner: StartedRunner;
  /** True when the runner started on a saved state (a warm cache). */
  restored: boolean;
}

/**
 * Restores the saved state and starts buildkitd on it. A state that cannot be extracted, or that
 * buildkitd cannot start on, is discarded with a warning and the runner starts with an empty cache.
 */
export async function startWithState(options: StartWithStateOptions): Promise<StartedWithState> {
  const { store, key, stateDir, reporter } = options;
  let restored = false;
  if (store.inPlace) {
    restored = await store.restore(key, stateDir);
  } else {
    await clearDir(stateDir);
    try {
      restored = await store.restore(key, stateDir);
      reporter.info(
        restored
          ? `Restored the runner state ${key}.`
          : `No saved runner state ${key}; starting with an empty cache.`,
      );
    } catch (error) {
      reporter.warning(`${sentence(error)} Starting with an empty cache.`);
      await clearDir(stateDir);
    }
  }
  try {
    return { runner: await options.start(stateDir), restored };
  } catch (error) {
    // A configuration buildkitd refuses fails the same on an empty cache: keep the state.
    if (!restored || error instanceof InputError) throw error;
    const state = store.inPlace ? `its state in ${stateDir}` : `the restored state ${key}`;
    reporter.warning(
      `buildkitd did not start on ${state} (${sentence(error).replace(/\.$/, "")}); starting with an empty cache.`,
    );
    await clearDir(stateDir);
    return { runner: await options.start(stateDir), restored: false };
  }
}

/**
 * Stops the runner, then saves its state (buildkitd must not write while the tarball is made). A
 * state that cannot be saved only warns: the build it served is done.
 */
export async function stopAndSave(
  runner: Pick<StartedRunner, "stop" | "stateDir">,
  store: StateStore,
  key: string,
  reporter: Reporter,
): Promise<void> {
  await runner.stop();
  try {
    const savedAs = await store.save(key, runner.stateDir);
    if (savedAs !== undefined) reporter.info(`Saved the runner's cache as ${savedAs}.`);
  } catch (error) {
    reporter.warning(`The runner's cache was not saved: ${(error as Error).message}`);
  }
}

function sentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /[.!?]$/.test(message) ? message : `${message}.`;
}
