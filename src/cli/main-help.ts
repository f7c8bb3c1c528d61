// The CLI's commands and its main help: light on purpose (no imports), so that the entry answers
// `--help` and `--version` without loading the rest of the program.

export const COMMAND_SUMMARIES = {
  build: "build a Dockerfile on a runner",
  info: "show a runner's BuildKit version, workers and platforms",
} as const;

export type CommandName = keyof typeof COMMAND_SUMMARIES;

export const MAIN_HELP = `Usage: remote-buildkit COMMAND [flags]

Runs container builds on remote BuildKit runners through BuildKit's gRPC API.

Commands:
${Object.entries(COMMAND_SUMMARIES)
  .map(([name, summary]) => `  ${name.padEnd(10)}${summary}`)
  .join("\n")}
  help      show help for a command

Run "remote-buildkit COMMAND --help" for a command's flags.`;
