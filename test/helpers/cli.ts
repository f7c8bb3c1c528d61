// Runs the bundled CLI (dist/cli.mjs, what users run) as a child process.
import { spawn } from "node:child_process";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");
export const CLI_BUNDLE = join(REPO_ROOT, "dist", "cli.mjs");
/** The CLI is two files: the entry (CLI_BUNDLE) loads the program from the file beside it. */
export const CLI_FILES = ["cli.mjs", "cli-program.mjs"].map((name) => join(REPO_ROOT, "dist", name));

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? cleanEnv(),
      cwd: options.cwd ?? REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The environment without anything that would point the CLI at a runner by itself. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<ProcessResult> {
  return runProcess(process.execPath, [CLI_BUNDLE, ...args], { env });
}

/** A user error is one line on stderr, with no stack trace. */
export function isOneSentence(stderr: string): boolean {
  const lines = stderr.trim().split("\n");
  return lines.length === 1 && lines[0]!.startsWith("error: ") && !/\n\s+at /.test(stderr);
}

/** The NAME<<DELIMITER heredocs of a GitHub file command (GITHUB_OUTPUT, GITHUB_STATE). */
export function parseFileCommand(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!heredoc) continue;
    const value: string[] = [];
    for (i++; lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
    outputs[heredoc[1]!] = value.join("\n");
  }
  return outputs;
}
