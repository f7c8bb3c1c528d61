// Runner tests check what the runner code reports, so they need a Reporter whose lines they can read.
import type { Reporter } from "../../src/report/reporter.js";

/** A Reporter that keeps its info, warning and error lines, each prefixed with its level. */
export function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info: ${m}`),
    warning: (m) => lines.push(`warning: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
    debug: () => undefined,
    group: (_title, body) => body(),
  };
}
