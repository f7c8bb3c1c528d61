// How the program speaks to the person watching the job. The GitHub adapter implements it with
// workflow commands (src/github/workflow-commands.ts); the CLI with plain lines (and collapsible
// sections in GitLab CI).
import type { LocalSourceLocation } from "./build-model.js";

/** A warning's or an error's place in a file, for the platforms that annotate files (GitHub). */
export interface Annotation {
  title: string;
  location?: LocalSourceLocation;
}

export interface Reporter {
  info(message: string): void;
  warning(message: string, annotation?: Annotation): void;
  error(message: string, annotation?: Annotation): void;
  debug(message: string): void;
  /** Runs `body` inside a collapsible section of the log. */
  group<T>(title: string, body: () => Promise<T>): Promise<T>;
}
