#!/usr/bin/env node
// Entry of dist/cli.mjs. SIGINT and SIGTERM abort the running command; the command closes what
// it opened and the process exits with its code.
import { runCli } from "./run.js";

const controller = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => controller.abort(new Error(`received ${signal}`)));
}

const exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
});
process.exitCode = exitCode;
