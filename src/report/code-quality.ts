// BuildKit's warnings (the Dockerfile's checks, deprecated forms) as a GitLab Code Quality report
// (`artifacts: reports: codequality:`): a JSON array of issues, each with a description, the
// check's name, a fingerprint that stays the same across runs, a severity and where it points,
// relative to the project's directory.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { InputError } from "../errors.js";
import type { BuildWarning, LocalSourceLocation } from "./build-model.js";
import { annotationFile } from "./build-summary.js";

export interface CodeQualityIssue {
  description: string;
  check_name: string;
  fingerprint: string;
  severity: "info" | "minor" | "major" | "critical" | "blocker";
  location: { path: string; lines: { begin: number; end?: number } };
}

/** A warning with its locations as files on this machine. */
export type LocalWarning = Omit<BuildWarning, "locations"> & { locations: LocalSourceLocation[] };

/**
 * The issues, each path relative to the first of `projectDirs` that holds it (GitLab's
 * CI_PROJECT_DIR, then the working directory).
 */
export function codeQualityIssues(
  warnings: readonly LocalWarning[],
  projectDirs: readonly string[],
): CodeQualityIssue[] {
  return warnings.map((warning) => {
    const location = warning.locations[0];
    const path = location ? relativePath(location, projectDirs) : "Dockerfile";
    const begin = location?.startLine ?? 1;
    const checkName = checkNameOf(warning);
    return {
      description: warning.message,
      check_name: checkName,
      fingerprint: createHash("sha256")
        .update(`${checkName}\0${path}\0${begin}\0${warning.message}`)
        .digest("hex"),
      severity: "minor",
      location: {
        path,
        lines: location && location.endLine > begin ? { begin, end: location.endLine } : { begin },
      },
    };
  });
}

function relativePath(location: LocalSourceLocation, projectDirs: readonly string[]): string {
  const full = location.path ?? location.filename;
  for (const dir of projectDirs) {
    const relative = annotationFile(location, dir.replace(/\/+$/, ""));
    if (relative !== full) return relative;
  }
  return full;
}

/** The check's name: the rule a Dockerfile check names ("StageNameCasing: ..."), else its docs page. */
function checkNameOf(warning: LocalWarning): string {
  const rule = /^(?:Lint Rule ')?([A-Z][A-Za-z]+)'?:/.exec(warning.message)?.[1];
  if (rule) return rule;
  const page = /\/([a-z0-9-]+)\/?$/.exec(warning.url)?.[1];
  return page ? `buildkit/${page}` : "buildkit/warning";
}

export function writeCodeQualityReport(
  path: string,
  name: string,
  warnings: readonly LocalWarning[],
  projectDirs: readonly string[],
): void {
  try {
    writeFileSync(path, `${JSON.stringify(codeQualityIssues(warnings, projectDirs), null, 2)}\n`);
  } catch (error) {
    throw new InputError(`${name} "${path}" cannot be written (${(error as NodeJS.ErrnoException).code}).`);
  }
}
