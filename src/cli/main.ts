#!/usr/bin/env node
// Entry of dist/cli.mjs. Start-up time is mostly compiling and evaluating the program (gRPC,
// protobuf descriptors, the input table: dist/cli-program.mjs), so this entry answers the main
// help and the version by itself and loads the program only when a command runs. Where Node has a
// compile cache (22.1 and later), it is turned on first, so that later runs skip compiling the
// program; Node 20 has none and nothing changes.
import module from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { mainHelp, programName } from "./main-help.js";
import { PROGRAM_VERSION } from "../version.js";

/** The bundle next to this one; from the sources (tsx), the module itself. */
const PROGRAM = import.meta.url.endsWith(".ts") ? "./program.ts" : "./cli-program.mjs";

const argv = process.argv.slice(2);
const [first] = argv;
const program = programName(process.argv[1] ?? "remote-buildkit", process.cwd());
if (first === undefined || first === "--help" || first === "-h") {
  process.stdout.write(`${mainHelp(program)}\n`);
  process.exitCode = first === undefined ? 2 : 0;
} else if (first === "--version" || first === "version") {
  process.stdout.write(`remote-buildkit ${PROGRAM_VERSION}\n`);
} else {
  // In the user's cache, not Node's default of the temporary dir, where it would outlive nothing
  // and be left behind.
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  (module as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache?.(
    process.env.NODE_COMPILE_CACHE || join(cacheHome, "remote-buildkit", "node-compile-cache"),
  );
  // Not bundled into this file: the program is its own bundle (scripts/bundle.mjs).
  const loaded = (await import(/* webpackIgnore: true */ PROGRAM)) as typeof import("./program.js");
  process.exitCode = await loaded.main(argv, program);
}
