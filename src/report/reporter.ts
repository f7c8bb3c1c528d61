// How the program speaks to the person watching the job. The GitHub adapter implements it with
// @actions/core; the CLI with plain lines (and collapsible sections in GitLab CI).

export interface Reporter {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** Runs `body` inside a collapsible section of the log. */
  group<T>(title: string, body: () => Promise<T>): Promise<T>;
}
