#!/usr/bin/env node
// Entry of dist/cli.mjs. SIGINT and SIGTERM abort the running command; the command closes what
// it opened and the process exits with its code.
import { basename, isAbsolute, relative, sep } from "node:path";
import { startProcess } from "../job/process.js";
import { runCli } from "./run.js";

/**
 * The command a user typed to run this program, for usage lines and hints: the package's bin
 * (through npx when it runs from npx's cache), else node and the script's path.
 */
function programName(script: string, cwd: string): string {
  if (basename(script) === "remote-buildkit") {
    return script.includes(`${sep}_npx${sep}`) ? "npx remote-buildkit" : "remote-buildkit";
  }
  const path = relative(cwd, script);
  return `node ${path === "" || path.startsWith("..") || isAbsolute(path) ? script : path}`;
}

const { signal } = startProcess();
const exitCode = await runCli(process.argv.slice(2), {
  program: programName(process.argv[1] ?? "remote-buildkit", process.cwd()),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal,
});
process.exitCode = exitCode;
