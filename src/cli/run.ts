// The CLI: one command per word, exit codes 0 (ok), 1 (failed), 2 (usage), never a stack trace
// for a user error.
import { describeError, EXIT_USAGE, InputError } from "../errors.js";
import { PlainReporter } from "../report/plain.js";
import { PROGRAM_VERSION } from "../version.js";
import { infoCommand, INFO_HELP } from "./commands/info.js";
import { buildCommand, BUILD_HELP } from "./commands/build.js";
import type { CommandContext } from "./context.js";
import { MAIN_HELP, type CommandName } from "./main-help.js";

export { MAIN_HELP } from "./main-help.js";

type Command = (args: string[], context: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  build: { run: buildCommand, help: BUILD_HELP },
  info: { run: infoCommand, help: INFO_HELP },
} satisfies Record<CommandName, unknown>;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  const context: CommandContext = {
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    signal: io.signal,
    reporter: (debug) => new PlainReporter({ write: io.stderr, debug: debug || io.env.RUNNER_DEBUG === "1" }),
  };
  try {
    if (name === undefined || name === "--help" || name === "-h") {
      io.stdout(`${MAIN_HELP}\n`);
      return name === undefined ? EXIT_USAGE : 0;
    }
    if (name === "--version" || name === "version") {
      io.stdout(`remote-buildkit ${PROGRAM_VERSION}\n`);
      return 0;
    }
    if (name === "help") {
      const topic = args[0];
      io.stdout(`${topic && COMMANDS[topic] ? COMMANDS[topic].help : MAIN_HELP}\n`);
      return 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      const hint = name.startsWith("-")
        ? "put the command first"
        : `commands are ${Object.keys(COMMANDS).join(", ")}`;
      throw new InputError(`Unknown command "${name}": ${hint} (see "remote-buildkit --help").`);
    }
    return await command.run(args, context);
  } catch (error) {
    const described = describeError(error);
    io.stderr(`error: ${described.message}\n`);
    if (described.stack && (args.includes("--debug") || io.env.RUNNER_DEBUG === "1")) {
      io.stderr(`${described.stack}\n`);
    }
    return described.exitCode;
  }
}
