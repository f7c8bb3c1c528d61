#!/usr/bin/env node
// Entry of dist/cli.mjs. SIGINT and SIGTERM abort the running command; the command closes what
// it opened and the process exits with its code.
import { startProcess } from "../job/process.js";
import { runCli } from "./run.js";

const { signal } = startProcess();
const exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal,
});
process.exitCode = exitCode;
