// What GitHub's runner gives a step, set up on this machine: the file commands' files, the tool
// cache holding a buildkitd, and the STATE_ variables a post step gets from its main step.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseFileCommand } from "./cli.js";
import { tempDir } from "./temp.js";

export interface StepFiles {
  output: string;
  state: string;
  summary: string;
  /** GITHUB_OUTPUT, GITHUB_STATE and GITHUB_STEP_SUMMARY pointing at them. */
  env: Record<string, string>;
}

/** Empty GITHUB_OUTPUT, GITHUB_STATE and GITHUB_STEP_SUMMARY files in `dir`. */
export function stepFiles(dir: string): StepFiles {
  const files = { output: join(dir, "output"), state: join(dir, "state"), summary: join(dir, "summary") };
  for (const file of Object.values(files)) writeFileSync(file, "");
  return {
    ...files,
    env: { GITHUB_OUTPUT: files.output, GITHUB_STATE: files.state, GITHUB_STEP_SUMMARY: files.summary },
  };
}

/**
 * @actions/tool-cache's layout, NAME/VERSION/ARCH plus ARCH.complete, with buildkitd VERSION's
 * bin/ a link to `binDir` (the harness's binaries, as a download would leave them).
 */
export function toolCacheWith(binDir: string, version: string, root = tempDir("rb-toolcache-")): string {
  const arch = process.arch === "arm64" ? "arm64" : "amd64";
  mkdirSync(join(root, "buildkit", version, arch), { recursive: true });
  symlinkSync(binDir, join(root, "buildkit", version, arch, "bin"));
  writeFileSync(join(root, "buildkit", version, `${arch}.complete`), "");
  return root;
}

/** The post step's environment: the main step's, plus what it saved as STATE_NAME variables. */
export function postStepEnv<E extends Record<string, string | undefined>>(env: E, stateFile: string): E {
  const state = parseFileCommand(readFileSync(stateFile, "utf8"));
  const post: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(state)) post[`STATE_${name}`] = value;
  return post as E;
}
