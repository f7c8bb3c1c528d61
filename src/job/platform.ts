// What differs between GitHub Actions, GitLab CI and a shell, behind one small interface: how the
// job speaks (the reporter, with annotations where the platform has them), where the runner's log
// goes, how secrets are masked, step outputs, the job summary, artifacts, and where a runner
// started for the job keeps its tools and cache. The adapters implement it; the job uses it.
import type { Reporter } from "../report/reporter.js";
import type { LocalRunnerPlace } from "../runner/local.js";

/** The step outputs a build job sets (action.yml declares each). */
export const STEP_OUTPUTS = [
  "endpoint",
  "buildkit-version",
  "platforms",
  "workers",
  "runner-reason",
  "digest",
  "imageid",
  "metadata",
  "artifact-id",
  "artifact-url",
] as const;
export type StepOutput = (typeof STEP_OUTPUTS)[number];

/** One output of the build on the job's machine: a `local` output's dir, or an output's file. */
export interface OutputToUpload {
  kind: "dir" | "file";
  path: string;
}

export interface ArtifactSettings {
  /** The artifact's name, unique in the workflow run. */
  name: string;
  /** Days to keep it; the repository's setting when absent. */
  retentionDays?: number;
  /** The inputs as the user knows them, for sentences. */
  nameInput: string;
  retentionInput: string;
  signal: AbortSignal;
}

export interface UploadedArtifact {
  id: number;
  /** The artifact's page; empty when the job's variables do not say where. */
  url: string;
  /** Bytes uploaded. */
  size: number;
  name: string;
  /** Files in the artifact. */
  files: number;
  /** Paths left out, relative to the artifact's root: symlinks that leave their output, sockets. */
  skipped: string[];
}

export interface JobPlatform {
  reporter: Reporter;
  /** The runner's build log, already redacted: the action's stdout, the CLI's stderr. */
  writeLog(text: string): void;
  /** What a frontend call answers (buildx prints it on stdout): the CLI's stdout, the action's log. */
  writeResult(text: string): void;
  /** Registers one secret value with the platform's own masking (GitHub's add-mask); may do nothing. */
  mask(value: string): void;
  /** Sets a step output (the action); the CLI shows the ones a person reads. */
  setOutput(name: StepOutput, value: string): void;
  /** Writes the job summary, where the platform has one. */
  writeSummary?(markdown: string): Promise<void>;
  /** Uploads outputs as one artifact, where the platform has artifacts. */
  uploadArtifact?(outputs: OutputToUpload[], settings: ArtifactSettings): Promise<UploadedArtifact>;
  /** Where a runner started for the job keeps its tools and cache; none: the job never starts one. */
  localRunner?: LocalRunnerPlace;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT and SIGTERM (startProcess). */
  signal: AbortSignal;
}
