#!/usr/bin/env node
// Entry of dist/cli.mjs. SIGINT and SIGTERM abort the running command; the command closes what
// it opened and the process exits with its code.
import { basename, isAbsolute, relative } from "node:path";
import { startProcess } from "../job/process.js";
import { runCli } from "./run.js";

/**
 * The command a user typed to run this program, for usage lines and hints: the package's bin
 * (through npx when npm runs it), else node and the script's path.
 */
function programName(script: string, env: NodeJS.ProcessEnv, cwd: string): string {
  if (basename(script) === "remote-buildkit") {
    return env.npm_command === "exec" ? "npx remote-buildkit" : "remote-buildkit";
  }
  const path = relative(cwd, script);
  return `node ${path === "" || path.startsWith("..") || isAbsolute(path) ? script : path}`;
}

const { signal } = startProcess();
const exitCode = await runCli(process.argv.slice(2), {
  program: programName(process.argv[1] ?? "remote-buildkit", process.env, process.cwd()),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal,
});
process.exitCode = exitCode;
