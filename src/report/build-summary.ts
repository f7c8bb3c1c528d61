// What a build did, for a person: one line per warning, and the job summary's table of steps
// with their durations and cache hits.
import type { RunnerInfo } from "../buildkit/index.js";
import type { BuildWarning, LocalSourceLocation, StepSummary } from "./build-model.js";
import { poolSummaryMarkdown, type PoolRunnerView } from "./pool-summary.js";

/** `Dockerfile:3: message (url)`, or only the message when BuildKit gave no location. */
export function describeWarning(warning: BuildWarning): string {
  const [location] = warning.locations;
  const where = location ? `${location.filename}:${location.startLine}: ` : "";
  return `${where}${warning.message}${warning.url ? ` (${warning.url})` : ""}`;
}

/** The path an annotation names: relative to the workspace, where GitHub looks for it. */
export function annotationFile(location: LocalSourceLocation, workspace: string): string {
  const path = location.path ?? location.filename;
  return workspace && path.startsWith(`${workspace}/`) ? path.slice(workspace.length + 1) : path;
}

export interface BuildSummaryInput {
  runner: RunnerInfo;
  /** A pool's runners, each with its load and why it took the build or not. */
  pool?: PoolRunnerView[];
  /** Why this runner (the runner-reason output), shown with a pool or a fallback. */
  runnerReason?: string;
  steps: StepSummary[];
  warnings: BuildWarning[];
  /** BuildKit's message when the build failed. */
  failure?: string;
  /** The image exported, when there is one. */
  image?: { names: string[]; digest: string; pushed: boolean };
  /** The artifact the outputs were uploaded as. */
  artifact?: { name: string; id: number; url: string };
  durationMs: number;
}

/** The job summary: outcome, runner, and the steps as a table. Markdown, as GitHub renders it. */
export function buildSummaryMarkdown(input: BuildSummaryInput): string {
  const cached = input.steps.filter((step) => step.cached).length;
  const outcome = input.failure ? "❌ Build failed" : "✅ Build succeeded";
  const lines = [
    `### ${outcome} in ${seconds(input.durationMs)}`,
    "",
    `Runner \`${input.runner.endpoint}\`, BuildKit ${input.runner.version?.version ?? "(unknown version)"}; ` +
      `${input.steps.length} steps, ${cached} cached.`,
    "",
  ];
  if (input.pool && input.pool.length > 0) lines.push(...poolSummaryMarkdown(input.pool), "");
  else if (input.runnerReason?.startsWith("fallback")) lines.push(`Runner: ${input.runnerReason}.`, "");
  if (input.failure) lines.push("```text", input.failure, "```", "");
  if (input.image && input.image.digest) {
    lines.push(
      `${input.image.pushed ? "Pushed" : "Built"} \`${input.image.names.join("`, `")}\` with digest \`${input.image.digest}\`.`,
      "",
    );
  }
  if (input.artifact) {
    const link = input.artifact.url
      ? `[${input.artifact.name}](${input.artifact.url})`
      : `\`${input.artifact.name}\``;
    lines.push(`Outputs uploaded as the artifact ${link} (id ${input.artifact.id}).`, "");
  }
  if (input.steps.length > 0) {
    lines.push("| # | Step | Result | Time |", "|---:|---|---|---:|");
    for (const step of input.steps) {
      const result = step.error
        ? step.error.endsWith("context canceled")
          ? "cancelled"
          : "**error**"
        : step.cached
          ? "cached"
          : "done";
      lines.push(
        `| ${step.index} | ${escapeCell(step.name)} | ${result} | ${step.cached ? "" : seconds(step.durationMs)} |`,
      );
    }
    lines.push("");
  }
  if (input.warnings.length > 0) {
    lines.push(`**${input.warnings.length} warning${input.warnings.length === 1 ? "" : "s"}**`, "");
    for (const warning of input.warnings) lines.push(`- ${escapeCell(describeWarning(warning))}`);
    lines.push("");
  }
  return lines.join("\n");
}

/** A duration as the summaries show it: 3.2s. */
export function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** A step name is Dockerfile text: keep it from breaking the table or rendering as markup. */
function escapeCell(text: string): string {
  return text
    .replace(/\|/g, "\\|")
    .replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"))
    .replace(/\n/g, " ");
}
