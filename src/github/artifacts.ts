// Local and tar outputs as one workflow artifact, uploaded with @actions/artifact (the v4 artifact
// service of GitHub Actions: CreateArtifact, a signed blob upload, FinalizeArtifact).
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { InputError, UserError } from "../errors.js";
import type { OutputToUpload, UploadedArtifact } from "../job/platform.js";
import { loadToolkit } from "./load-toolkit.js";

/** Outputs could not become a workflow artifact: no artifact service, a refused name, a failed upload. */
export class ArtifactError extends UserError {
  override name = "ArtifactError";
}

export interface UploadArtifactsOptions {
  /** The artifact's name, unique in the workflow run. */
  name: string;
  /** Days GitHub keeps the artifact (1 to 90); the repository's setting when absent. */
  retentionDays?: number;
  /** What to call the name in errors, such as "input artifact-name". */
  nameInput?: string;
  /** What to call the retention in errors, such as "input artifact-retention-days". */
  retentionInput?: string;
  /**
   * @actions/artifact takes no signal: an abort rejects at once with the signal's reason and the
   * upload is abandoned (its own limits end it: 5 tries per call, 5 minutes without progress).
   */
  signal?: AbortSignal;
  /** The job's variables for the checks and the URL (process.env by default; @actions/artifact reads process.env). */
  env?: NodeJS.ProcessEnv;
}

// The characters the artifact service refuses (NTFS's), as @actions/artifact checks them.
const REFUSED_IN_PATHS: Array<[string, string]> = [
  ['"', "a double quote"],
  [":", "a colon"],
  ["<", "a less-than sign"],
  [">", "a greater-than sign"],
  ["|", "a vertical bar"],
  ["*", "an asterisk"],
  ["?", "a question mark"],
  ["\r", "a carriage return"],
  ["\n", "a line feed"],
];
const REFUSED_IN_NAMES: Array<[string, string]> = [
  ...REFUSED_IN_PATHS,
  ["\\", "a backslash"],
  ["/", "a slash"],
];

/**
 * Uploads the outputs as one artifact. A single dir output is the artifact's root (its files at the
 * top, as actions/upload-artifact does with one path); a single file is the only file; several
 * outputs sit under their common parent dir, each by its own name.
 */
export async function uploadOutputArtifacts(
  outputs: OutputToUpload[],
  options: UploadArtifactsOptions,
): Promise<UploadedArtifact> {
  const env = options.env ?? process.env;
  const nameInput = options.nameInput ?? "the artifact name";
  checkName(options.name, nameInput);
  if (options.retentionDays !== undefined) checkRetention(options.retentionDays, options.retentionInput);
  checkService(env);
  if (outputs.length === 0) throw new ArtifactError("There are no local or tar outputs to upload.");

  const root = artifactRoot(outputs);
  // A set, as nested outputs may name a file twice.
  const entries = new Set<string>();
  const skipped: string[] = [];
  for (const output of outputs) {
    await collect(output, root, entries, skipped);
  }
  const files = [...entries];
  if (files.length === 0) {
    throw new ArtifactError(
      `The outputs at ${outputs.map((o) => o.path).join(", ")} hold no files to upload.`,
    );
  }
  for (const file of files) checkPath(relative(root, file));

  options.signal?.throwIfAborted();
  const { DefaultArtifactClient } = await loadToolkit();
  const client = new DefaultArtifactClient();
  const upload = client.uploadArtifact(options.name, files, root, {
    retentionDays: options.retentionDays,
  });
  let response: Awaited<typeof upload>;
  try {
    response = await untilAborted(upload, options.signal);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw describeUploadError(error, options.name, nameInput);
  }
  if (response.id === undefined) {
    throw new ArtifactError(`The artifact service did not return an id for the artifact "${options.name}".`);
  }
  return {
    id: response.id,
    url: artifactUrl(response.id, env),
    size: response.size ?? 0,
    name: options.name,
    files: files.length,
    skipped,
  };
}

/** The artifact's page, as actions/upload-artifact builds it from the job's variables. */
export function artifactUrl(id: number, env: NodeJS.ProcessEnv = process.env): string {
  const server = env.GITHUB_SERVER_URL;
  const repository = env.GITHUB_REPOSITORY;
  const runId = env.GITHUB_RUN_ID;
  if (!server || !repository || !runId) return "";
  return `${server.replace(/\/+$/, "")}/${repository}/actions/runs/${runId}/artifacts/${id}`;
}

function checkName(name: string, nameInput: string): void {
  if (!name.trim()) throw new InputError(`${nameInput} is empty: give the artifact a name.`);
  for (const [character, description] of REFUSED_IN_NAMES) {
    if (name.includes(character)) {
      throw new InputError(
        `${nameInput} "${name}" contains ${description}, which artifact names may not hold.`,
      );
    }
  }
}

function checkRetention(days: number, retentionInput = "the artifact retention"): void {
  if (!Number.isInteger(days) || days < 1 || days > 90) {
    throw new InputError(`${retentionInput} must be a whole number of days from 1 to 90, not ${days}.`);
  }
}

/** GitHub gives these to every job; elsewhere there is no artifact service to talk to. */
function checkService(env: NodeJS.ProcessEnv): void {
  const missing = ["ACTIONS_RUNTIME_TOKEN", "ACTIONS_RESULTS_URL"].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ArtifactError(
      `The artifact service is not available to this step (${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set): artifacts can only be uploaded from a GitHub Actions job, so set upload-artifact to false to keep the outputs on the job's machine only.`,
    );
  }
  const host = new URL(env.GITHUB_SERVER_URL || "https://github.com").hostname.toLowerCase();
  if (host !== "github.com" && !host.endsWith(".ghe.com") && !host.endsWith(".localhost")) {
    throw new ArtifactError(
      `GitHub Enterprise Server (${host}) does not offer the artifact service that @actions/artifact v2 and later use, so set upload-artifact to false there.`,
    );
  }
}

/** Several outputs go under the common parent of their own parents, so each keeps its name. */
function artifactRoot(outputs: OutputToUpload[]): string {
  if (outputs.length === 1) {
    const only = outputs[0]!;
    return only.kind === "dir" ? resolve(only.path) : dirname(resolve(only.path));
  }
  const parents = outputs.map((output) => dirname(resolve(output.path)).split(sep));
  const common: string[] = [];
  for (let i = 0; parents.every((parts) => i < parts.length && parts[i] === parents[0]![i]); i++) {
    common.push(parents[0]![i]!);
  }
  return common.join(sep) || sep;
}

/**
 * Adds an output's files to `entries`. Empty dirs are left out: @actions/artifact would zip one
 * as an empty file. A symlink is followed only to a regular file inside the same output, so that
 * nothing else on the job's machine can be uploaded; the zip holds the file's content.
 */
async function collect(
  output: OutputToUpload,
  root: string,
  entries: Set<string>,
  skipped: string[],
): Promise<void> {
  const path = resolve(output.path);
  const info = await stat(path).catch(() => undefined);
  if (output.kind === "file") {
    if (!info?.isFile())
      throw new ArtifactError(`The tar output ${output.path} is not a file on this machine.`);
    entries.add(path);
    return;
  }
  if (!info?.isDirectory())
    throw new ArtifactError(`The local output ${output.path} is not a directory on this machine.`);
  const top = await realpath(path);
  const walk = async (dir: string): Promise<void> => {
    const children = await readdir(dir, { withFileTypes: true });
    for (const child of children) {
      const childPath = join(dir, child.name);
      if (child.isDirectory()) {
        await walk(childPath);
      } else if (child.isFile()) {
        entries.add(childPath);
      } else if (child.isSymbolicLink() && (await isFileInside(childPath, top))) {
        entries.add(childPath);
      } else {
        skipped.push(relative(root, childPath));
      }
    }
  };
  await walk(path);
}

async function isFileInside(link: string, top: string): Promise<boolean> {
  const target = await realpath(link).catch(() => undefined);
  if (!target || !(target === top || target.startsWith(top + sep))) return false;
  return (await lstat(target)).isFile();
}

function checkPath(path: string): void {
  for (const [character, description] of REFUSED_IN_PATHS) {
    if (path.includes(character)) {
      throw new ArtifactError(
        `The output file ${JSON.stringify(path)} contains ${description}, which the artifact service refuses in paths: rename it in the build, or set upload-artifact to false.`,
      );
    }
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** @actions/artifact's errors are paragraphs with retry advice; keep the one sentence that matters. */
function describeUploadError(error: unknown, name: string, nameInput: string): Error {
  if (error instanceof ArtifactError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const errorName = error instanceof Error ? error.name : "";
  if (/\(409\)|already exists/i.test(message)) {
    return new ArtifactError(
      `An artifact named "${name}" already exists in this workflow run: give ${nameInput} a name that is unique in the run.`,
    );
  }
  if (/Failed to get backend IDs|Invalid token specified/.test(message)) {
    return new ArtifactError(
      `ACTIONS_RUNTIME_TOKEN is not a token of the artifact service, so the artifact "${name}" could not be uploaded.`,
    );
  }
  if (errorName === "UsageError") {
    return new ArtifactError(
      `The artifact "${name}" was refused: the repository's artifact storage quota is used up.`,
    );
  }
  if (errorName === "NetworkError") {
    const code = (error as { code?: string }).code ?? "a network error";
    return new ArtifactError(
      `The artifact service could not be reached (${code}) to upload the artifact "${name}".`,
    );
  }
  const firstLine = message.split("\n")[0]!.replace(/\.$/, "");
  return new ArtifactError(`The artifact "${name}" could not be uploaded: ${firstLine}.`);
}
