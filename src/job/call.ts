// buildx's --call (build-push-action's `call`): the Dockerfile's checks, its outline or its
// targets instead of a build. What it prints and when it fails follow buildx (commands/build.go,
// printResult): `check` prints "Check complete, …" and the frontend's text of each finding, and
// fails with the frontend's status (1 on any finding, unless ignorestatus=true); a Dockerfile that
// asks checks to fail it (`# check=error=true`) or does not parse fails with the frontend's error.
// Each finding is also a warning annotation on its Dockerfile line.
import { join } from "node:path";
import type { FindingLocation, FrontendCall, FrontendCallResult, LintFinding } from "../buildkit/index.js";
import { InputError, UserError } from "../errors.js";
import type { LocalSourceLocation } from "../report/build-model.js";
import type { Reporter } from "../report/reporter.js";
import { BuildFailedError } from "./errors.js";
import type { BuildPlan } from "./plan.js";

/** What the build step does: build, or ask the frontend one thing. */
export type CallMethod =
  { name: "build" } | { name: FrontendCall; format: "text" | "json"; ignoreStatus: boolean };

const NAMES: Record<string, CallMethod["name"]> = {
  build: "build",
  check: "lint",
  lint: "lint",
  outline: "outline",
  targets: "targets",
};

/** buildx's syntax: NAME[,format=text|json][,ignorestatus=true|false]; `check` is the frontend's lint. */
export function parseCall(value: string | undefined, name: string): CallMethod {
  const fields = (value ?? "").split(",").map((field) => field.trim());
  const method = NAMES[fields[0]?.toLowerCase() || "build"];
  if (method === undefined) {
    throw new InputError(`${name} "${value}" is not a method; use build, check, outline or targets.`);
  }
  let format: "text" | "json" = "text";
  let ignoreStatus = false;
  for (const field of fields.slice(1)) {
    const [key, option] = field.split("=", 2).map((part) => part.trim().toLowerCase());
    if (key === "format" && (option === "text" || option === "json")) format = option;
    else if (key === "ignorestatus" && (option === "true" || option === "false"))
      ignoreStatus = option === "true";
    else {
      throw new InputError(
        `${name} "${value}" has "${field}"; the options are format=text|json and ignorestatus=true|false.`,
      );
    }
  }
  if (method === "build") {
    if (fields.length > 1) throw new InputError(`${name} "${value}": build takes no options.`);
    return { name: "build" };
  }
  return { name: method, format, ignoreStatus };
}

/** The checks found something and the frontend's status says fail: buildx's exit code 1. */
export class ChecksFailedError extends UserError {
  override name = "ChecksFailedError";
}

/**
 * Prints the answer as buildx does (`write` is the command's result: stdout for the CLI), makes
 * each finding a warning on its line, and throws where buildx fails.
 */
export function presentCall(
  result: FrontendCallResult,
  method: Exclude<CallMethod, { name: "build" }>,
  plan: BuildPlan,
  reporter: Reporter,
  write: (text: string) => void,
): void {
  if (result.call !== "lint") {
    write(method.format === "json" ? `${JSON.stringify(result.json, null, 2)}\n` : result.text);
    return;
  }
  for (const finding of result.findings) {
    reporter.warning(describeFinding(finding), {
      title: `Dockerfile check ${finding.rule}`,
      location: finding.location && localLocation(finding.location, plan),
    });
  }
  const count = result.findings.length;
  if (method.format === "json") {
    write(`${JSON.stringify({ findings: result.findings, buildError: result.buildError }, null, 2)}\n`);
  } else {
    if (count > 0) {
      write(
        `Check complete, ${count === 1 ? "1 warning has been found" : `${count} warnings have been found`}!\n`,
      );
    }
    write(result.text.endsWith("\n") || result.text === "" ? result.text : `${result.text}\n`);
    if (count === 0 && !result.buildError) write("Check complete, no warnings found.\n");
  }
  if (result.buildError) {
    const { message, location } = result.buildError;
    throw new BuildFailedError(
      `The Dockerfile's checks failed: ${message}`,
      location ? [localLocation(location, plan)] : [],
    );
  }
  if (result.statusCode !== 0 && !method.ignoreStatus) {
    throw new ChecksFailedError(
      `The Dockerfile's checks found ${count === 1 ? "1 warning" : `${count} warnings`}${count > 0 ? `: ${[...new Set(result.findings.map((finding) => finding.rule))].join(", ")}` : ""}.`,
    );
  }
}

function describeFinding(finding: LintFinding): string {
  const where = finding.location ? `${finding.location.file}:${finding.location.startLine}: ` : "";
  return `${where}${finding.rule}: ${finding.detail || finding.description}${finding.url ? ` (${finding.url})` : ""}`;
}

/** The Dockerfile on this machine, where the annotation goes; a Git context's path as the frontend names it. */
function localLocation(location: FindingLocation, plan: BuildPlan): LocalSourceLocation {
  const local = !plan.git && location.file === plan.dockerfileName;
  return {
    filename: location.file,
    startLine: location.startLine,
    endLine: location.endLine,
    sourceLines: [],
    ...(local ? { path: join(plan.dockerfileDir, plan.dockerfileName) } : {}),
  };
}
