// Artifacts end to end: a real workflow file, run by act (github.com/nektos/act) in host mode, uploads
// outputs with src/outputs/artifacts.ts to act's own artifact server, which implements GitHub's v4
// artifact service (twirp CreateArtifact, a signed blob upload, FinalizeArtifact). The artifact must
// arrive in the server's directory with the right files. act is built by test/harness/install-act.sh,
// with two lenient decodes patched in: see that script for why.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { freePort } from "../harness/runner.js";
import { cleanEnv, REPO_ROOT, runProcess } from "../helpers/cli.js";
import { readZip } from "../helpers/zip.js";

const execFileAsync = promisify(execFile);
const FIXTURES = join(REPO_ROOT, "test", "fixtures", "artifacts");
// act's token and artifact paths take the run id from GITHUB_RUN_ID; GitHub's URL needs the repository.
const RUN_ID = "4242";
const REPOSITORY = "remote-buildkit/remote-buildkit";

let act: string;
before(
  async () => {
    const { stdout } = await execFileAsync("bash", [join(REPO_ROOT, "test", "harness", "install-act.sh")], {
      timeout: 20 * 60 * 1000,
      maxBuffer: 16 * 1024 * 1024,
    });
    act = stdout.trim().split("\n").pop()!;
  },
  { timeout: 20 * 60 * 1000 },
);

/** Bundles a TypeScript entry as the action build does (ncc, ESM), so the test runs what ships. */
async function bundle(entry: string, output: string): Promise<void> {
  const ncc = createRequire(import.meta.url)("@vercel/ncc") as (
    file: string,
    options: object,
  ) => Promise<{ code: string }>;
  const { code } = await ncc(entry, {
    target: "es2022",
    minify: false,
    sourceMap: false,
    quiet: true,
    cache: false,
  });
  writeFileSync(output, code);
}

/** Runs one workflow file through act in host mode with its artifact server; returns the log. */
async function runWorkflow(workflow: string, workspace: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), "rb-act-"));
  const store = join(dir, "artifacts");
  mkdirSync(store);
  const port = await freePort();
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
      String(port),
      "--no-cache-server",
      "--action-cache-path",
      join(dir, "act-cache"),
      "--env",
      `GITHUB_RUN_ID=${RUN_ID}`,
      "--env",
      `GITHUB_REPOSITORY=${REPOSITORY}`,
    ],
    // act passes its own environment on to host-mode steps: keep it to what the job needs.
    { env: cleanEnv(env), cwd: workspace, timeoutMs: 5 * 60 * 1000 },
  );
  const log = result.stdout + result.stderr;
  assert.equal(result.code, 0, log);
  assert.match(log, /Job succeeded/);
  return { log, store };
}

/** The artifact as act's server stored it: RUN_ID/NAME/NAME.zip. */
function storedArtifact(store: string, name: string): Map<string, Buffer> {
  const zip = join(store, RUN_ID, name, `${name}.zip`);
  assert.ok(existsSync(zip), `no artifact at ${zip}`);
  return readZip(zip);
}

describe("artifacts through act's artifact server", () => {
  it("uploads a local output and a tar output as one artifact with their files", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "rb-act-workspace-"));
    const action = join(workspace, "upload-outputs");
    mkdirSync(action);
    cpSync(join(FIXTURES, "upload-outputs", "action.yml"), join(action, "action.yml"));
    await bundle(join(FIXTURES, "upload-outputs", "main.ts"), join(action, "main.mjs"));

    const { log, store } = await runWorkflow(join(FIXTURES, "upload-workflow.yml"), workspace);

    const entries = storedArtifact(store, "build-outputs");
    // The empty dir is left out (@actions/artifact would zip it as an empty file).
    assert.deepEqual([...entries.keys()].sort(), [
      "out/hello.txt",
      "out/link.txt",
      "out/sub/nested.txt",
      "tars/image.tar",
    ]);
    assert.equal(entries.get("out/hello.txt")!.toString(), "hello\n");
    assert.equal(entries.get("out/sub/nested.txt")!.toString(), "nested\n");
    // A symlink inside the output is uploaded as its target's content; one leaving it is not.
    assert.equal(entries.get("out/link.txt")!.toString(), "hello\n");
    assert.equal(entries.get("tars/image.tar")!.toString(), "not really a tar\n");
    assert.match(log, /out\/escape was left out of the artifact/);
    assert.match(log, /artifact build-outputs: 4 files, \d+ bytes, https:\/\/github\.com\/remote-buildkit/);
    assert.match(
      log,
      /uploaded artifact \d+ at https:\/\/github\.com\/.*\/actions\/runs\/4242\/artifacts\/\d+/,
    );
  });

  it("uploads the outputs of a build by the action itself (uses: ./)", async () => {
    // The workspace is a checkout of this repository as far as the workflow reads it.
    const workspace = mkdtempSync(join(tmpdir(), "rb-act-workspace-"));
    cpSync(join(REPO_ROOT, "action.yml"), join(workspace, "action.yml"));
    cpSync(join(REPO_ROOT, "dist"), join(workspace, "dist"), { recursive: true });
    cpSync(join(REPO_ROOT, "examples", "hello"), join(workspace, "examples", "hello"), { recursive: true });

    const { store } = await runWorkflow(join(FIXTURES, "action-workflow.yml"), workspace, {
      RB_TEST_UNIX_ADDR: process.env.RB_TEST_UNIX_ADDR,
    });

    const entries = storedArtifact(store, "hello-outputs");
    assert.deepEqual([...entries.keys()].sort(), ["out/hello.txt", "tars/hello.tar"]);
    assert.equal(
      entries.get("out/hello.txt")!.toString(),
      readFileSync(join(REPO_ROOT, "examples", "hello", "hello.txt"), "utf8"),
    );
    assert.ok(entries.get("tars/hello.tar")!.includes("hello.txt"), "the tar output holds hello.txt");
  });
});
