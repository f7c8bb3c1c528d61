// buildkitd runs as root, and so do the commands that touch the files it owns in its state dir.
// As root we run them directly. GitHub's hosted machines run the action as the user `runner`, with
// passwordless sudo: there they run through `sudo -n`, as a person would. Without either, they
// run as root of a user namespace through rootlesskit (rootless buildkitd), where it can.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { UserError } from "../errors.js";

const execFileAsync = promisify(execFile);

/** How this process runs a command as root: being root, through sudo, or in a user namespace. */
export type RootAccess = "root" | "sudo" | "rootless";

/** No way to run as root: the message is one sentence, with why rootlesskit did not work. */
export class NoRootAccessError extends UserError {
  override name = "NoRootAccessError";
  constructor(rootlessProblem: string) {
    super(
      `Starting a BuildKit runner needs root, passwordless sudo (sudo -n) or rootlesskit with user namespaces, and ${rootlessProblem}; run as root, allow sudo, install rootlesskit and uidmap, or give a runner endpoint.`,
    );
  }
}

/**
 * rootlesskit's flags, as BuildKit's rootless guide gives them, but with the host's network:
 * slirp4netns is one more program to install, and the build's network is the host's anyway.
 */
const ROOTLESSKIT_FLAGS = ["--net=host", "--copy-up=/etc", "--disable-host-loopback"];

type Detected = { access: RootAccess } | { access: undefined; rootlessProblem: string };
let detected: Promise<Detected> | undefined;

/** Root, else passwordless sudo, else a working rootlesskit. Asked once per process. */
function detect(): Promise<Detected> {
  detected ??= (async (): Promise<Detected> => {
    if (process.getuid?.() === 0) return { access: "root" };
    try {
      await execFileAsync("sudo", ["-n", "true"], { timeout: 10_000 });
      return { access: "sudo" };
    } catch {
      // No sudo, or it wants a password.
    }
    try {
      await execFileAsync("rootlesskit", [...ROOTLESSKIT_FLAGS, "true"], { timeout: 10_000 });
      return { access: "rootless" };
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stderr?: string };
      const rootlessProblem =
        failure.code === "ENOENT"
          ? "rootlesskit is not on PATH"
          : `rootlesskit cannot run here (${lastLine(String(failure.stderr ?? failure.message))})`;
      return { access: undefined, rootlessProblem };
    }
  })();
  return detected;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines.at(-1) ?? "").replace(/^\[rootlesskit:\w+\] /, "").replace(/\.$/, "");
}

/** How we run as root, or undefined when we cannot. */
export async function rootAccess(): Promise<RootAccess | undefined> {
  return (await detect()).access;
}

export async function requireRootAccess(): Promise<RootAccess> {
  const found = await detect();
  if (found.access === undefined) throw new NoRootAccessError(found.rootlessProblem);
  return found.access;
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
  if (access === "rootless") {
    return {
      file: "rootlesskit",
      args: [...ROOTLESSKIT_FLAGS, file, ...args],
      env: { ...process.env, ...env },
    };
  }
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
