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

/**
 * The runner asks for files in an order of its own, several at a time, so the file changed
 * mid-upload may already have been read: then the build shows nothing of the change and the
 * attempt is made again with a fresh context, up to 5 times. `attempt` says whether the change
 * landed before the read (and asserts what must hold then).
 */
async function untilTheChangeLands(attempt: () => Promise<boolean>): Promise<void> {
  for (let tries = 1; tries <= 5; tries++) {
    if (await attempt()) return;
    console.log(`attempt ${tries}: the file was read before the change; again`);
  }
  assert.fail("in 5 attempts the file was always read before the change");
}

describe("a file that changes during the upload", () => {
  for (const [label, size] of [
    ["small", MB],
    ["large", 100 * MB],
  ] as const) {
    it(`is sent empty when a ${label} file vanishes, and the build succeeds`, async () => {
      await untilTheChangeLands(async () => {
        const { context, output } = contextWith(200, { "z-vanishes.bin": randomBytes(size) });
        const change = whenUploading(() => unlinkSync(join(context, "z-vanishes.bin")));
        const result = await build(context, output);
        assert.ok(change.fired(), "the file was deleted during the upload");
        assert.equal(result.code, 0, result.stderr.slice(-3000));
        const received = statSync(join(output, "z-vanishes.bin")).size;
        assert.ok(received === 0 || received === size, `it arrived with ${received} bytes`);
        return received === 0;
      });
    });
  }

  it("is sent as it is when it shrinks", async () => {
    await untilTheChangeLands(async () => {
      const data = randomBytes(3 * MB);
      const { context, output } = contextWith(200, { "z-shrinks.bin": data });
      const change = whenUploading(() => truncateSync(join(context, "z-shrinks.bin"), MB));
      const result = await build(context, output);
      assert.ok(change.fired());
      assert.equal(result.code, 0, result.stderr.slice(-3000));
      const received = readFileSync(join(output, "z-shrinks.bin"));
      if (received.length === data.length) return false;
      assert.deepEqual(received, data.subarray(0, MB));
      return true;
    });
  });

  it("fails with one sentence naming it when it can no longer be read", async () => {
    await untilTheChangeLands(async () => {
      const { context, output } = contextWith(200, { "z-unreadable.bin": randomBytes(MB) });
      // A directory where the file was: opening it for reading fails (EISDIR), even as root.
      const change = whenUploading(() => {
        unlinkSync(join(context, "z-unreadable.bin"));
        mkdirSync(join(context, "z-unreadable.bin"));
      });
      const result = await build(context, output);
      assert.ok(change.fired());
      if (result.code === 0) return false;
      assert.equal(result.code, 2, result.stderr.slice(-3000));
      const last = result.stderr.trim().split("\n").pop()!;
      assert.equal(last, 'error: The context file "z-unreadable.bin" cannot be read (EISDIR).');
      assert.ok(isOneSentence(last));
      return true;
    });
  });
});
