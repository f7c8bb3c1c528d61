// buildkitd (not rootless) runs as root, and so do the commands that touch the files it owns in
// its state dir. The CLI as root runs them directly. GitHub's hosted runners run the action as the
// `runner` user with passwordless sudo: there they run through `sudo -n`, as a person would.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BuildkitError } from "../buildkit/errors.js";

const execFileAsync = promisify(execFile);

/** How this process runs a command as root. */
export type RootAccess = "root" | "sudo";

/** Neither root nor passwordless sudo: the message is one sentence. */
export class NoRootAccessError extends BuildkitError {
  override name = "NoRootAccessError";
  constructor() {
    super(
      "Starting a BuildKit runner needs root or passwordless sudo (sudo -n), and rootless buildkitd (rootlesskit) is not supported yet; run as root, allow sudo, or give a runner endpoint.",
    );
  }
}

let detected: Promise<RootAccess | undefined> | undefined;

/** root when this process is root, sudo when `sudo -n true` succeeds, else undefined. Asked once. */
export function rootAccess(): Promise<RootAccess | undefined> {
  detected ??= (async () => {
    if (process.getuid?.() === 0) return "root";
    try {
      await execFileAsync("sudo", ["-n", "true"], { timeout: 10_000 });
      return "sudo";
    } catch {
      return undefined;
    }
  })();
  return detected;
}

export async function requireRootAccess(): Promise<RootAccess> {
  const access = await rootAccess();
  if (access === undefined) throw new NoRootAccessError();
  return access;
}

export interface RootCommand {
  file: string;
  args: string[];
  /** The environment to spawn with: sudo resets it, so the variables go through `env` instead. */
  env: NodeJS.ProcessEnv;
}

/** The command line that runs `file args` as root with `env` added to the environment. */
export function asRoot(
  access: RootAccess,
  file: string,
  args: string[],
  env: Record<string, string> = {},
): RootCommand {
  if (access === "root") return { file, args, env: { ...process.env, ...env } };
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return { file: "sudo", args: ["-n", "--", "env", ...assignments, file, ...args], env: process.env };
}

/** Runs `file args` as root and returns its output; rejects as execFile does. */
export async function runAsRoot(
  file: string,
  args: string[],
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ stdout: string; stderr: string }> {
  const command = asRoot(await requireRootAccess(), file, args);
  return execFileAsync(command.file, command.args, {
    env: command.env,
    timeout: options.timeoutMs,
    signal: options.signal,
  });
}

/**
 * Sends `signal` to `pid`; through `sudo kill` when the process is root's and we are not.
 * Returns false when the process is gone.
 */
export async function signalProcess(pid: number, signal: NodeJS.Signals): Promise<boolean> {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return false;
    if (code !== "EPERM" || (await rootAccess()) !== "sudo") throw error;
  }
  try {
    await runAsRoot("kill", [`-${signal.replace(/^SIG/, "")}`, String(pid)], { timeoutMs: 10_000 });
    return true;
  } catch {
    // kill fails for a pid that exited in between.
    return isAlive(pid);
  }
}

/** Whether a process with this pid exists (a root process we may not signal counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
