// The closing lines of a successful build, for the log: what was built and where it went (the
// image's names and digest, the outputs written on this machine, or that the result stays in the
// runner's cache), how long it took and how many steps came from the cache, as buildx ends its
// output with what it built.
import type { RunnerInfo } from "../buildkit/index.js";
import type { StepSummary } from "./build-model.js";
import { seconds } from "./build-summary.js";

/** An output as the build requested it (the job's exporters have this shape). */
export type ClosingOutput =
  | { type: "image"; names: string[]; push?: boolean; pushByDigest?: boolean }
  | { type: "local"; dir: string }
  | { type: "tar" | "oci" | "docker"; file: string }
  | { type: "load"; names: string[] };

export interface ClosingInput {
  runner: RunnerInfo;
  steps: StepSummary[];
  outputs: ClosingOutput[];
  /** Whether an image output without its own push attribute is pushed (the push input). */
  push: boolean;
  /** The image's digest from the exporter's response; empty when none was exported. */
  digest: string;
  durationMs: number;
}

const FILE_FORMATS: Record<"tar" | "oci" | "docker", string> = {
  tar: "a tar of the result's files",
  oci: "an OCI image layout tar",
  docker: "a docker image tar",
};

export function buildClosingLines(input: ClosingInput): string[] {
  const cached = input.steps.filter((step) => step.cached).length;
  const version = input.runner.version?.version;
  const lines = [
    `Build succeeded in ${seconds(input.durationMs)} on ${input.runner.endpoint} ` +
      `(${version ? `BuildKit ${version}` : "BuildKit version unknown"}): ` +
      `${cached} of ${input.steps.length} step${input.steps.length === 1 ? "" : "s"} from the cache.`,
  ];
  if (input.outputs.length === 0) {
    lines.push("No output requested: the result stays in the runner's cache.");
  }
  for (const output of input.outputs) lines.push(describeOutput(output, input));
  return lines;
}

function describeOutput(output: ClosingOutput, input: ClosingInput): string {
  if (output.type === "local") return `Wrote the result's files to ${output.dir}`;
  if (output.type === "load")
    return `Loaded ${output.names.join(", ") || "the image"} into the job's Docker Engine`;
  if (output.type !== "image") return `Wrote ${FILE_FORMATS[output.type]} to ${output.file}`;
  const digest = input.digest ? `, digest ${input.digest}` : "";
  const names = output.names.join(", ");
  if (!(output.push ?? input.push)) {
    return `Built the image ${names ? `${names}${digest}` : `${input.digest} (unnamed)`}; not pushed, it stays on the runner`;
  }
  if (output.pushByDigest) return `Pushed the image by digest to ${names}${digest}`;
  return `Pushed ${names}${digest}`;
}
