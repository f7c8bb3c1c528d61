// The reporter for a shell, GitLab CI and CircleCI: plain lines on stderr, so that stdout stays
// for a command's result. In GitLab CI, groups become collapsible sections.
import { escapeControlCharacters as visible } from "./control-characters.js";
import type { Reporter } from "./reporter.js";

export interface PlainReporterOptions {
  write?: (text: string) => void;
  debug?: boolean;
  gitlab?: boolean;
  now?: () => number;
}

export class PlainReporter implements Reporter {
  private readonly write: (text: string) => void;
  private readonly showDebug: boolean;
  private readonly gitlab: boolean;
  private readonly now: () => number;
  private sections = 0;

  constructor(options: PlainReporterOptions = {}) {
    this.write = options.write ?? ((text) => process.stderr.write(text));
    this.showDebug = options.debug ?? false;
    this.gitlab = options.gitlab ?? process.env.GITLAB_CI === "true";
    this.now = options.now ?? Date.now;
  }

  info(message: string): void {
    this.write(`${visible(message)}\n`);
  }

  warning(message: string): void {
    this.write(`warning: ${visible(message)}\n`);
  }

  error(message: string): void {
    this.write(`error: ${visible(message)}\n`);
  }

  debug(message: string): void {
    if (this.showDebug) this.write(`debug: ${visible(message)}\n`);
  }

  async group<T>(title: string, body: () => Promise<T>): Promise<T> {
    if (!this.gitlab) {
      this.write(`${visible(title)}\n`);
      return body();
    }
    // GitLab's section markers: https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections
    const name = `remote_buildkit_${++this.sections}`;
    const seconds = () => Math.floor(this.now() / 1000);
    this.write(`\x1b[0Ksection_start:${seconds()}:${name}[collapsed=false]\r\x1b[0K${visible(title)}\n`);
    try {
      return await body();
    } finally {
      this.write(`\x1b[0Ksection_end:${seconds()}:${name}\r\x1b[0K\n`);
    }
  }
}
