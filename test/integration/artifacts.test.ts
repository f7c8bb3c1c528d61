// Artifacts end to end: a real workflow file, run by act (github.com/nektos/act) in host mode, uploads
// outputs with src/github/artifacts.ts to act's own artifact server, which implements GitHub's v4
// artifact service (twirp CreateArtifact, a signed blob upload, FinalizeArtifact). The artifact must
// arrive in the server's directory with the right files. act is built by test/harness/install-act.sh,
// with two lenient decodes patched in: see that script for why.
import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { actionCheckout, installAct, RUN_ID, runWorkflow } from "../helpers/act.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { readZip } from "../helpers/zip.js";
import { tempDir } from "../helpers/temp.js";

const FIXTURES = join(REPO_ROOT, "test", "fixtures", "artifacts");

let act: string;
beforeAll(
  async () => {
    act = await installAct();
  },
  20 * 60 * 1000,
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

/** The artifact as act's server stored it: RUN_ID/NAME/NAME.zip. */
function storedArtifact(store: string, name: string): Map<string, Buffer> {
  const zip = join(store, RUN_ID, name, `${name}.zip`);
  assert.ok(existsSync(zip), `no artifact at ${zip}`);
  return readZip(zip);
}

describe("artifacts through act's artifact server", () => {
  it("uploads a local output and a tar output as one artifact with their files", async () => {
    const workspace = tempDir("rb-act-workspace-");
    const action = join(workspace, "upload-outputs");
    mkdirSync(action);
    cpSync(join(FIXTURES, "upload-outputs", "action.yml"), join(action, "action.yml"));
    await bundle(join(FIXTURES, "upload-outputs", "main.ts"), join(action, "main.mjs"));
    // The artifact client is loaded from beside the bundle (src/github/load-toolkit.ts).
    cpSync(join(REPO_ROOT, "dist", "github-toolkit.mjs"), join(action, "github-toolkit.mjs"));

    const { log, store } = await runWorkflow(act, join(FIXTURES, "upload-workflow.yml"), workspace);

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
    const workspace = actionCheckout();

    const { store } = await runWorkflow(act, join(FIXTURES, "action-workflow.yml"), workspace, {
      env: { RB_TEST_UNIX_ADDR: process.env.RB_TEST_UNIX_ADDR },
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
