// Files that change while the context uploads, through the CLI against the real runner. The walk
// sends every file's metadata first and the data as the runner asks for it, so a file can vanish,
// shrink or turn into something unreadable in between. buildctl (fsutil) sends a vanished file
// empty and the build goes on; we do the same, and a file that cannot be read is one sentence
// naming it. A loopback proxy of ours times the change: it fires once part of the upload has gone.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { cleanEnv, CLI_BUNDLE, isOneSentence, runProcess } from "../helpers/cli.js";
import { makeContext } from "../helpers/contexts.js";
import { tempDir } from "../helpers/temp.js";

jest.setTimeout(5 * 60_000);

let runner: RunnerUnderTest;
let proxy: FaultProxy;
beforeAll(async () => {
  runner = runnerUnderTest();
  proxy = await startFaultProxy(runner.tcpAddress);
});
afterAll(() => proxy?.close());

const MB = 1024 * 1024;

/**
 * A context whose first file (by name) is `leadMegabytes` of random data, so that the upload is
 * well under way before the later files are read; the build copies everything into a local output.
 */
function contextWith(
  leadMegabytes: number,
  files: Record<string, Buffer>,
): { context: string; output: string } {
  const context = makeContext({ Dockerfile: "FROM scratch\nCOPY . /\n" });
  writeFileSync(join(context, "a-lead.bin"), randomBytes(leadMegabytes * MB));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(context, name), data);
  return { context, output: join(tempDir("rb-vanish-out-"), "out") };
}

function build(context: string, output: string) {
  return runProcess(
    process.execPath,
    [
      CLI_BUNDLE,
      "build",
      "--addr",
      proxy.address,
      "--tlscacert",
      runner.certs.caCert,
      "--tlscert",
      runner.certs.clientCert,
      "--tlskey",
      runner.certs.clientKey,
      "--tlsservername",
      "localhost",
      "--no-cache",
      "--output",
      `type=local,dest=${output}`,
      context,
    ],
    { env: cleanEnv(), timeoutMs: 4 * 60_000 },
  );
}

/** Runs `change` once 20 MB of the upload have gone up. */
function whenUploading(change: () => void): { fired: () => boolean } {
  let fired = false;
  proxy.afterUpstream(20 * MB, () => {
    change();
    fired = true;
  });
  return { fired: () => fired };
}

describe("a file that changes during the upload", () => {
  it("is sent empty when a small file vanishes, and the build succeeds", async () => {
    const { context, output } = contextWith(200, { "z-small.bin": randomBytes(MB) });
    const change = whenUploading(() => unlinkSync(join(context, "z-small.bin")));
    const result = await build(context, output);
    assert.ok(change.fired(), "the file was deleted during the upload");
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.equal(statSync(join(output, "z-small.bin")).size, 0);
  });

  it("is sent empty when a large file vanishes, and the build succeeds", async () => {
    const { context, output } = contextWith(200, { "z-large.bin": randomBytes(100 * MB) });
    const change = whenUploading(() => unlinkSync(join(context, "z-large.bin")));
    const result = await build(context, output);
    assert.ok(change.fired());
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.equal(statSync(join(output, "z-large.bin")).size, 0);
  });

  it("is sent as it is when it shrinks", async () => {
    const data = randomBytes(3 * MB);
    const { context, output } = contextWith(200, { "z-shrinks.bin": data });
    const change = whenUploading(() => truncateSync(join(context, "z-shrinks.bin"), MB));
    const result = await build(context, output);
    assert.ok(change.fired());
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.deepEqual(readFileSync(join(output, "z-shrinks.bin")), data.subarray(0, MB));
  });

  it("fails with one sentence naming it when it can no longer be read", async () => {
    const { context, output } = contextWith(200, { "z-unreadable.bin": randomBytes(MB) });
    // A directory where the file was: opening it for reading fails (EISDIR), even as root.
    const change = whenUploading(() => {
      unlinkSync(join(context, "z-unreadable.bin"));
      mkdirSync(join(context, "z-unreadable.bin"));
    });
    const result = await build(context, output);
    assert.ok(change.fired());
    assert.equal(result.code, 2, result.stderr.slice(-3000));
    const last = result.stderr.trim().split("\n").pop()!;
    assert.equal(last, 'error: The context file "z-unreadable.bin" cannot be read (EISDIR).');
    assert.ok(isOneSentence(last));
  });
});
