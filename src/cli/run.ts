// The CLI: one command per word, exit codes 0 (ok), 1 (failed), 2 (usage), never a stack trace
// for a user error.
import { describeError, EXIT_USAGE, InputError } from "../errors.js";
import { escapeControlCharacters } from "../report/control-characters.js";
import { PlainReporter } from "../report/plain.js";
import { PROGRAM_VERSION } from "../version.js";
import { infoCommand, infoHelp } from "./commands/info.js";
import { buildCommand, buildHelp } from "./commands/build.js";
import type { CommandContext } from "./context.js";

type Command = (args: string[], context: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: (program: string) => string; summary: string }> = {
  build: { run: buildCommand, help: buildHelp, summary: "build a Dockerfile on a runner" },
  info: {
    run: infoCommand,
    help: infoHelp,
    summary: "show a runner's BuildKit version, workers and platforms",
  },
};

export function mainHelp(program: string): string {
  return `Usage: ${program} COMMAND [flags]

Runs container builds on remote BuildKit runners through BuildKit's gRPC API.

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(10)}${command.summary}`)
  .join("\n")}
  help      show help for a command
  version   print this program's version (also --version)

Run "${program} COMMAND --help" for a command's flags.`;
}

export interface CliIo {
  /** How the user runs this program, as usage lines and hints name it (see programName in main.ts). */
  program: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  const { program } = io;
  const context: CommandContext = {
    program,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    signal: io.signal,
    reporter: (debug) => new PlainReporter({ write: io.stderr, debug: debug || io.env.RUNNER_DEBUG === "1" }),
  };
  const commands = Object.keys(COMMANDS).join(", ");
  try {
    if (name === undefined || name === "--help" || name === "-h") {
      io.stdout(`${mainHelp(program)}\n`);
      return name === undefined ? EXIT_USAGE : 0;
    }
    if (name === "--version" || name === "version") {
      io.stdout(`remote-buildkit ${PROGRAM_VERSION}\n`);
      return 0;
    }
    if (name === "help") {
      const [topic, ...extra] = args;
      if (topic === undefined) {
        io.stdout(`${mainHelp(program)}\n`);
        return 0;
      }
      const command = COMMANDS[topic];
      if (!command || extra.length > 0) {
        throw new InputError(
          command
            ? `help takes one command, but got "${args.join(" ")}".`
            : `There is no command "${topic}" to help with: commands are ${commands} (see "${program} --help").`,
        );
      }
      io.stdout(`${command.help(program)}\n`);
      return 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      const hint = name.startsWith("-") ? "put the command first" : `commands are ${commands}`;
      throw new InputError(`Unknown command "${name}": ${hint} (see "${program} --help").`);
    }
    return await command.run(args, context);
  } catch (error) {
    const described = describeError(error);
    io.stderr(`error: ${escapeControlCharacters(described.message)}\n`);
    if (described.stack && (args.includes("--debug") || io.env.RUNNER_DEBUG === "1")) {
      io.stderr(`${described.stack}\n`);
    }
    return described.exitCode;
  }
}
