// The CLI's commands, its main help and the name it is run by: light on purpose (only node:path),
// so that the entry answers `--help` and `--version` without loading the rest of the program.
import { basename, isAbsolute, relative, sep } from "node:path";

export const COMMAND_SUMMARIES = {
  build: "build a Dockerfile on a runner",
  info: "show a runner's BuildKit version, workers and platforms",
} as const;

export type CommandName = keyof typeof COMMAND_SUMMARIES;

export function mainHelp(program: string): string {
  return `Usage: ${program} COMMAND [flags]

Runs container builds on remote BuildKit runners through BuildKit's gRPC API.

Commands:
${Object.entries(COMMAND_SUMMARIES)
  .map(([name, summary]) => `  ${name.padEnd(10)}${summary}`)
  .join("\n")}
  help      show help for a command
  version   print this program's version (also --version)

Run "${program} COMMAND --help" for a command's flags.`;
}

/**
 * The command a user typed to run this program, for usage lines and hints: the package's bin
 * (through npx when it runs from npx's cache), else node and the script's path.
 */
export function programName(script: string, cwd: string): string {
  if (basename(script) === "remote-buildkit") {
    return script.includes(`${sep}_npx${sep}`) ? "npx remote-buildkit" : "remote-buildkit";
  }
  const path = relative(cwd, script);
  return `node ${path === "" || path.startsWith("..") || isAbsolute(path) ? script : path}`;
}
