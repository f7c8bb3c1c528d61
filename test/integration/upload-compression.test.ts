// Compressed upload (upload-compression): with gzip, what the session sends the runner shrinks
// (counted by the harness's shaping proxy between the CLI and the runner), the runner answers the
// session in gzip too (the output coming back shrinks), and the files arrive byte for byte. auto
// compresses over a link with a round trip of some milliseconds (the proxy on this machine's
// non-loopback address) and never on loopback, and the log says which.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectionFlags, runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { nonLoopbackAddress, startShapingProxy, type ShapingProxy } from "../harness/shaping-proxy.js";
import { runCli, type ProcessResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

let runner: RunnerUnderTest;
let base: string;
let proxies: ShapingProxy[] = [];

/** Compressible text, as source trees are: 4 MiB of numbered lines. */
const DATA = Buffer.from(
  Array.from({ length: 80_000 }, (_, i) => `line ${i} of a compressible file: ${"abc".repeat(i % 7)}\n`)
    .join("")
    .slice(0, 4 * 1024 * 1024),
);

beforeAll(() => {
  runner = runnerUnderTest();
  base = tempDir("rb-compress-");
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  proxies = [];
});

async function proxy(delayMs: number): Promise<ShapingProxy> {
  const url = new URL(runner.tcpAddress);
  const shaping = await startShapingProxy({
    target: { host: url.hostname, port: Number(url.port) },
    delayMs,
    mbitPerSecond: 2000,
    listenHost: nonLoopbackAddress(),
  });
  proxies.push(shaping);
  return shaping;
}

let builds = 0;

/** Builds a new context (so that nothing is cached) through `address` and exports it locally. */
async function build(address: string, mode: string): Promise<{ result: ProcessResult; out: string }> {
  const context = join(base, `context-${++builds}`);
  mkdirSync(context);
  writeFileSync(join(context, "Dockerfile"), "FROM scratch\nCOPY data.txt /data.txt\n");
  writeFileSync(join(context, "data.txt"), DATA);
  const out = join(base, `out-${builds}`);
  const flags = connectionFlags(runner);
  flags[flags.indexOf("--addr") + 1] = address;
  // The proxy listens on a non-loopback address; the runner's certificate names 127.0.0.1.
  if (address !== runner.tcpAddress) flags.push("--tlsservername", "127.0.0.1");
  const result = await runCli([
    "build",
    ...flags,
    "--progress",
    "plain",
    "--upload-compression",
    mode,
    "--no-cache",
    "-o",
    `type=local,dest=${out}`,
    context,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return { result, out };
}

describe("upload compression", () => {
  it("on: the upload and the runner's answers shrink, and the files arrive whole", async () => {
    const shaping = await proxy(0);
    const { result, out } = await build(shaping.address, "on");
    assert.match(result.stderr, /^Upload compression: gzip \(asked for\)\.$/m);
    assert.ok(readFileSync(join(out, "data.txt")).equals(DATA));
    const { up, down } = shaping.bytes();
    assert.ok(up < DATA.length / 2, `${up} bytes went up for a context of ${DATA.length}`);
    assert.ok(down < DATA.length / 2, `${down} bytes came down for an output of ${DATA.length}`);
    // The compressed session shares the build's connection: no second TLS handshake before it.
    assert.equal(shaping.connections(), 1, "one connection for every call");
  });

  it("off: the bytes go as they are", async () => {
    const shaping = await proxy(0);
    const { result, out } = await build(shaping.address, "off");
    assert.match(result.stderr, /^Upload compression: none \(turned off\)\.$/m);
    assert.ok(readFileSync(join(out, "data.txt")).equals(DATA));
    const { up, down } = shaping.bytes();
    assert.ok(up > DATA.length, `${up} bytes went up for a context of ${DATA.length}`);
    assert.ok(down > DATA.length, `${down} bytes came down for an output of ${DATA.length}`);
  });

  it("auto: gzip over a link with a 20 ms round trip, none on loopback", async () => {
    const shaping = await proxy(10);
    const far = await build(shaping.address, "auto");
    assert.match(
      far.result.stderr,
      /^Upload compression: gzip \(the runner's round trip is [\d.]+ ms, a wide-area link\)\.$/m,
    );
    assert.ok(shaping.bytes().up < DATA.length / 2);
    const near = await build(runner.tcpAddress, "auto");
    assert.match(near.result.stderr, /^Upload compression: none \(loopback\)\.$/m);
    assert.ok(readFileSync(join(near.out, "data.txt")).equals(DATA));
  });

  it("refuses a mode it does not know, in one sentence, before connecting", async () => {
    const result = await runCli([
      "build",
      ...connectionFlags(runner),
      "--upload-compression",
      "deflate",
      base,
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: --upload-compression is "deflate"; use auto, on or off\.\n$/);
  });
});
