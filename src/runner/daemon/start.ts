// buildkitd started as root (directly, through sudo, or rootless through rootlesskit) on a unix
// socket of its own, with its state (the build cache) in a directory we can save and restore.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Endpoint, parseEndpoint } from "../../buildkit/index.js";
import type { Reporter } from "../../report/reporter.js";
import { DaemonConfigError, RunnerStartError } from "../errors.js";
import { requireRootAccess, type RootAccess } from "../privilege.js";
import type { FoundBuildkitd } from "../release/ensure.js";
import { buildkitdCommand, readPid } from "./command.js";
import type { StartedRunnerConfig } from "./config.js";
import { logTail, waitUntilAnswering } from "./ready.js";
import { DEFAULT_STOP_GRACE_MS, stopChild, stopProcessById } from "./stop.js";

export const DEFAULT_START_TIMEOUT_MS = 60_000;

export interface StartBuildkitdOptions {
  buildkitd: FoundBuildkitd | string;
  /** buildkitd's --root: its state, the build cache. Created when missing. */
  stateDir: string;
  /** Extra buildkitd flags (--oci-worker-platform, --allow-insecure-entitlement...). */
  args?: string[];
  /**
   * The user's configuration (buildkitd-config, buildkitd-flags): its TOML is written beside the
   * socket and given as --config, its flags follow ours; `inputs` names them in the sentence when
   * buildkitd refuses them.
   */
  config?: StartedRunnerConfig;
  startTimeoutMs?: number;
  /**
   * Let this process exit while buildkitd runs on (the action's main step; the post step stops
   * it by pid). Otherwise the handle keeps node alive until stop().
   */
  detached?: boolean;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface StartedRunner {
  /** unix:///.../buildkitd.sock */
  endpoint: Endpoint;
  pid: number;
  stateDir: string;
  /** The socket and the log live here; removed by stop(). */
  runtimeDir: string;
  logFile: string;
  /** SIGTERM, then SIGKILL after the grace period; removes the socket. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts buildkitd as root (directly, through sudo, or rootless in rootlesskit's user namespace)
 * on a unix socket and waits until our client gets an answer from it.
 */
export async function startBuildkitd(options: StartBuildkitdOptions): Promise<StartedRunner> {
  const access = await requireRootAccess();
  const found: FoundBuildkitd =
    typeof options.buildkitd === "string"
      ? { path: options.buildkitd, binDir: join(options.buildkitd, ".."), source: "path" }
      : options.buildkitd;
  await mkdir(options.stateDir, { recursive: true });
  // The socket path must stay under 108 bytes, so it lives in a short temporary dir of its own.
  const runtimeDir = await mkdtemp(join(tmpdir(), "rb-buildkitd-"));
  const logFile = join(runtimeDir, "buildkitd.log");
  const args = [...(options.args ?? []), ...(options.config?.flags ?? [])];
  if (options.config?.toml !== undefined) {
    const configFile = join(runtimeDir, "buildkitd.toml");
    await writeFile(configFile, options.config.toml, { mode: 0o644 });
    args.unshift("--config", configFile);
  }
  const log = await open(logFile, "a");
  let child: ChildProcess;
  let spawned: Promise<void>;
  try {
    const command = buildkitdCommand(access, found, options.stateDir, runtimeDir, args);
    child = spawn(command.file, command.args, {
      // Its own process group: a Ctrl-C meant for us must not kill it before we stop it cleanly.
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
      env: command.env,
    });
    // Listen before any await: "spawn" fires on a later tick and would be missed.
    spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
  } finally {
    await log.close();
  }
  try {
    await spawned;
  } catch (error) {
    await rm(runtimeDir, { recursive: true, force: true });
    throw new RunnerStartError(`buildkitd at ${found.path} cannot be started: ${(error as Error).message}.`);
  }
  if (options.detached) child.unref();
  const endpoint = parseEndpoint(`unix://${join(runtimeDir, "buildkitd.sock")}`);
  let stopped: Promise<void> | undefined;
  const runner: StartedRunner = {
    endpoint,
    pid: child.pid!,
    stateDir: options.stateDir,
    runtimeDir,
    logFile,
    stop: (graceMs = DEFAULT_STOP_GRACE_MS) => {
      stopped ??= (async () => {
        // Through sudo our child is sudo, which cannot pass on a SIGKILL: stop buildkitd itself.
        const pid = access === "sudo" ? readPid(runtimeDir) : undefined;
        if (pid !== undefined) await stopProcessById(pid, graceMs);
        await stopChild(child, graceMs);
      })().finally(() => rm(runtimeDir, { recursive: true, force: true }));
      return stopped;
    },
  };
  try {
    await waitUntilAnswering(
      runner,
      child,
      options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      options.signal,
    );
  } catch (error) {
    const tail = logTail(logFile);
    await runner.stop(5_000);
    if (options.config && refusesConfig(tail)) {
      const reason = tail.replace(/^buildkitd: /, "").replace(/\.$/, "");
      throw new DaemonConfigError(`buildkitd refused ${options.config.inputs}: ${reason}.`);
    }
    if (error instanceof RunnerStartError && tail) {
      throw new RunnerStartError(`${error.message.replace(/\.$/, "")}: ${tail}.`);
    }
    throw error;
  }
  if (access === "sudo") runner.pid = readPid(runtimeDir) ?? runner.pid;
  options.reporter.info(
    `Started buildkitd${HOW_STARTED[access]} (pid ${runner.pid}) on ${endpoint.address} with state in ${options.stateDir}.`,
  );
  return runner;
}

/** buildkitd's words when it exits on its flags or its config file, before doing anything. */
function refusesConfig(tail: string): boolean {
  return /^buildkitd: .*(flag provided but not defined|flag needs an argument|invalid value|toml:|config)/i.test(
    tail,
  );
}

const HOW_STARTED: Record<RootAccess, string> = {
  root: "",
  sudo: " through sudo",
  rootless: " rootless (rootlesskit)",
};
