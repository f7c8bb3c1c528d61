// Build outputs through our FileSend service against the real runner, compared with what buildctl
// writes for the same build: local dirs (contents, modes, symlinks, hardlinks, mtimes), tar bytes,
// several outputs in one build, and a multi-platform local output.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type BuildkitClient } from "../../src/buildkit/index.js";
import { fileSendService, type FileSendTarget } from "../../src/buildkit/session/filesend.js";
import { fileSyncService } from "../../src/buildkit/session/filesync.js";
import { healthService } from "../../src/buildkit/session/health.js";
import { Session } from "../../src/buildkit/session/tunnel.js";
import { solve, type ExporterRequest } from "../../src/buildkit/solve.js";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { buildctlBuild } from "../helpers/buildctl.js";
import { testRunnerClient } from "../helpers/client.js";
import { describeTree, listDir, richOutputContext as richContext } from "../helpers/tree.js";
import { makeContext } from "../helpers/contexts.js";
import { tempDir } from "../helpers/temp.js";

const execFileAsync = promisify(execFile);
const MINUTE = 60_000;

let runner: RunnerUnderTest;
let client: BuildkitClient;

beforeAll(() => {
  runner = runnerUnderTest();
  client = testRunnerClient(runner);
});
afterAll(() => client.close());

function scratchDir(name: string): string {
  return tempDir(`rb-${name}-`);
}

/** Builds `context` with our Session and Solve, each exporter's output going to its target. */
async function buildOurs(
  context: string,
  outputs: Array<{ exporter: ExporterRequest; target: FileSendTarget }>,
  frontendAttrs: Record<string, string> = {},
) {
  const signal = AbortSignal.timeout(3 * MINUTE);
  const fileSend = fileSendService(
    outputs.map((output) => output.target),
    { signal },
  );
  // Count the daemon's DiffCopy calls: a multi-platform local output makes one per platform.
  let calls = 0;
  const diffCopy = fileSend.implementation.diffCopy as (call: unknown) => void;
  fileSend.implementation.diffCopy = (call: unknown) => {
    calls++;
    diffCopy(call);
  };
  const session = new Session(client, {
    sharedKey: "filesend-test",
    services: [healthService(), fileSyncService({ context, dockerfile: context }), fileSend],
    signal,
  });
  let log = "";
  try {
    const response = await solve(client, {
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: { filename: "Dockerfile", ...frontendAttrs },
      exporters: outputs.map((output) => output.exporter),
      onStatus: (status) => {
        for (const entry of status.logs) log += Buffer.from(entry.msg).toString("utf8");
      },
      signal,
    });
    await fileSend.idle();
    assert.equal(fileSend.failure(), undefined);
    return { response, calls };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${log}`, { cause: error });
  } finally {
    session.close();
  }
}

async function buildctl(context: string, args: string[]): Promise<void> {
  const result = await buildctlBuild(runner, context, args);
  assert.equal(result.code, 0, result.stderr);
}

describe("FileSend against the runner", () => {
  it("a local, a tar and an oci output in one build: local equals buildctl's, tar equals buildctl's bytes", async () => {
    const context = richContext();
    const ours = scratchDir("ours");
    const ourTar = join(scratchDir("ours-tar"), "out.tar");
    const ourOci = join(scratchDir("ours-oci"), "out.oci.tar");
    const { response } = await buildOurs(context, [
      { exporter: { type: "local", attrs: {} }, target: { kind: "dir", dir: ours } },
      { exporter: { type: "tar", attrs: {} }, target: { kind: "file", path: ourTar } },
      { exporter: { type: "oci", attrs: {} }, target: { kind: "file", path: ourOci } },
    ]);

    const theirs = scratchDir("buildctl");
    const theirTar = join(scratchDir("buildctl-tar"), "out.tar");
    await buildctl(context, [
      "--output",
      `type=local,dest=${theirs}`,
      "--output",
      `type=tar,dest=${theirTar}`,
    ]);

    const ourTree = describeTree(ours);
    const theirTree = describeTree(theirs);
    assert.deepEqual(ourTree, theirTree);
    // The comparison means something only if the special cases are there.
    assert.equal(ourTree.entries["bin/busybox"]?.type, "file");
    assert.equal(ourTree.entries["out/dir/hello"]?.mode, "4755");
    assert.equal(ourTree.entries["out/dir/sub"]?.mode, "2750");
    assert.equal(ourTree.entries["out/dir"]?.mode, "1777");
    assert.equal(ourTree.entries["out/ro"]?.mode, "555");
    assert.equal(ourTree.entries["out/abs"]?.link, "/etc/passwd");
    assert.equal(ourTree.entries["out/dir/sub/big"]?.size, 5_000_000);
    assert.deepEqual(ourTree.hardlinks, [["out/dir/hard", "out/dir/hello", "out/hard2"]]);

    assert.ok(readFileSync(ourTar).equals(readFileSync(theirTar)), "tar bytes equal buildctl's");

    const listing = (await execFileAsync("tar", ["-tf", ourOci])).stdout.split("\n");
    assert.ok(listing.includes("oci-layout") && listing.includes("index.json"), listing.join(" "));
    // The oci output's digest comes back in the Solve response, as the exporter gives it.
    assert.match(response["containerimage.digest"] ?? "", /^sha256:[0-9a-f]{64}$/);
  });

  it("a multi-platform local output: one directory per platform, as buildctl writes it", async () => {
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY a.txt /a.txt", "COPY sub /sub"].join("\n"),
      "a.txt": "a\n",
      "sub/b.txt": "b\n",
      "sub/deeper/c.txt": "c\n",
    });
    const platforms = "linux/amd64,linux/arm64";
    const ours = scratchDir("ours-mp");
    const { calls } = await buildOurs(
      context,
      [{ exporter: { type: "local", attrs: {} }, target: { kind: "dir", dir: ours } }],
      { platform: platforms },
    );
    assert.equal(calls, 2, "one concurrent DiffCopy per platform");
    const theirs = scratchDir("buildctl-mp");
    await buildctl(context, ["--opt", `platform=${platforms}`, "--output", `type=local,dest=${theirs}`]);
    const ourTree = describeTree(ours);
    assert.deepEqual(ourTree, describeTree(theirs));
    assert.deepEqual(listDir(ours).sort(), ["linux_amd64", "linux_arm64"]);
    assert.equal(readFileSync(join(ours, "linux_arm64", "sub/deeper/c.txt"), "utf8"), "c\n");
  });
});
