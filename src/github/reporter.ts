// The Reporter on @actions/core: log groups, warnings and errors as annotations, debug lines.
import * as core from "@actions/core";
import type { Reporter } from "../report/reporter.js";

export class GithubReporter implements Reporter {
  info(message: string): void {
    core.info(message);
  }
  warning(message: string): void {
    core.warning(message);
  }
  error(message: string): void {
    core.error(message);
  }
  debug(message: string): void {
    core.debug(message);
  }
  group<T>(title: string, body: () => Promise<T>): Promise<T> {
    return core.group(title, body);
  }
}
