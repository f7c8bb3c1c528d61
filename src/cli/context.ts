// What a CLI command gets from the process: streams, environment, a reporter and a cancel signal.
import type { Reporter } from "../report/reporter.js";

export interface CommandContext {
  /** How the user runs this program (remote-buildkit, npx remote-buildkit, node dist/cli.mjs), for help and hints. */
  program: string;
  stdout: (text: string) => void;
  /** The build log goes here, as buildctl prints its progress to stderr. */
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  reporter: (debug: boolean) => Reporter;
  signal: AbortSignal;
}
