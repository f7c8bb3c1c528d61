// The CLI's program, loaded by the entry (main.ts) once a command is to run: SIGINT and SIGTERM
// abort the running command; the command closes what it opened and the process exits with its code.
import { startProcess } from "../job/process.js";
import { runCli } from "./run.js";

export async function main(argv: string[], program: string): Promise<number> {
  const { signal } = startProcess();
  return runCli(argv, {
    program,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    signal,
  });
}
