// nektos/act (built by test/harness/install-act.sh) running a real workflow file in host mode, with
// its artifact server (GitHub's v4 artifact service) and, when asked, its cache server (GitHub's
// cache service, the protocol @actions/cache speaks with ACTIONS_CACHE_URL).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../harness/runner.js";
import { cleanEnv, REPO_ROOT, runProcess } from "./cli.js";
import { tempDir } from "./temp.js";

const execFileAsync = promisify(execFile);

// act's token and artifact paths take the run id from GITHUB_RUN_ID; GitHub's URL needs the repository.
export const RUN_ID = "4242";
export const REPOSITORY = "remote-buildkit/remote-buildkit";

/** A workspace that is a checkout of this repository as far as a workflow using `uses: ./` reads it. */
export function actionCheckout(): string {
  const workspace = tempDir("rb-act-workspace-");
  cpSync(join(REPO_ROOT, "action.yml"), join(workspace, "action.yml"));
  cpSync(join(REPO_ROOT, "dist"), join(workspace, "dist"), { recursive: true });
  cpSync(join(REPO_ROOT, "examples", "hello"), join(workspace, "examples", "hello"), { recursive: true });
  return workspace;
}

/** Builds act on the first call (a few minutes); returns the binary's path. */
export async function installAct(): Promise<string> {
  const { stdout } = await execFileAsync("bash", [join(REPO_ROOT, "test", "harness", "install-act.sh")], {
    timeout: 20 * 60 * 1000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split("\n").pop()!;
}

export interface WorkflowOptions {
  /** Variables of act's own environment, which host-mode steps see. */
  env?: NodeJS.ProcessEnv;
  runId?: string;
  /** Run act's cache server, keeping its entries in this directory (shared between runs). */
  cacheServerPath?: string;
}

/** Runs one workflow file through act in host mode; returns the log and the artifact store. */
export async function runWorkflow(
  act: string,
  workflow: string,
  workspace: string,
  options: WorkflowOptions = {},
) {
  const dir = tempDir("rb-act-");
  const store = join(dir, "artifacts");
  mkdirSync(store);
  const cacheServer = options.cacheServerPath
    ? [
        "--cache-server-path",
        options.cacheServerPath,
        "--cache-server-addr",
        "127.0.0.1",
        "--cache-server-port",
        String(await freePort()),
      ]
    : ["--no-cache-server"];
  const result = await runProcess(
    act,
    [
      "push",
      "--workflows",
      workflow,
      "--directory",
      workspace,
      // No docker engine here: the job runs on this machine, as on a self-hosted runner.
      "--platform",
      "ubuntu-latest=-self-hosted",
      "--container-daemon-socket",
      "-",
      "--artifact-server-path",
      store,
      "--artifact-server-addr",
      "127.0.0.1",
      "--artifact-server-port",
      String(await freePort()),
      ...cacheServer,
      "--action-cache-path",
      join(dir, "act-cache"),
      "--env",
      `GITHUB_RUN_ID=${options.runId ?? RUN_ID}`,
      "--env",
      `GITHUB_REPOSITORY=${REPOSITORY}`,
    ],
    // act passes its own environment on to host-mode steps: keep it to what the job needs.
    { env: cleanEnv(options.env), cwd: workspace, timeoutMs: 5 * 60 * 1000 },
  );
  const log = result.stdout + result.stderr;
  assert.equal(result.code, 0, log);
  assert.match(log, /Job succeeded/);
  return { log, store };
}
