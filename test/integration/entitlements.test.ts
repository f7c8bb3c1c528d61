// build-push-action's allow (buildx's --allow) against real runners: a runner started with
// --allow-insecure-entitlement grants security.insecure and network.host to a build that asks for
// them, and refuses a build that does not ask; the test runner, which allows neither, refuses both.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { connectionFlags, runnerUnderTest } from "../harness/env.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { runCli } from "../helpers/cli.js";
import { makeContext } from "../helpers/contexts.js";

jest.setTimeout(5 * 60_000);

let permissive: TestRunner;
beforeAll(async () => {
  permissive = await startTestRunner({
    args: [
      "--allow-insecure-entitlement",
      "security.insecure",
      "--allow-insecure-entitlement",
      "network.host",
    ],
  });
});
afterAll(() => permissive?.stop());

const permissiveFlags = () => [
  "--addr",
  permissive.tcpAddress,
  "--tlscacert",
  permissive.certs.caCert,
  "--tlscert",
  permissive.certs.clientCert,
  "--tlskey",
  permissive.certs.clientKey,
];

/** A RUN step with every capability (security=insecure) prints its effective set: all bits. */
const INSECURE = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN --security=insecure ["/bin/busybox", "sh", "-c", "/bin/busybox grep CapEff /proc/self/status"]',
].join("\n");
const HOST_NETWORK = [
  "FROM scratch",
  "COPY busybox /bin/busybox",
  'RUN --network=host ["/bin/busybox", "sh", "-c", "echo host-network-ok"]',
].join("\n");

describe("allow", () => {
  it("gives a RUN step every capability with security.insecure on a runner that allows it", async () => {
    const context = makeContext({ Dockerfile: INSECURE });
    const result = await runCli([
      "build",
      ...permissiveFlags(),
      "--no-cache",
      "--allow",
      "security.insecure",
      context,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const capEff = /CapEff:\s+([0-9a-f]+)/.exec(result.stderr)?.[1];
    assert.ok(capEff, result.stderr);
    // CAP_SYS_ADMIN (bit 21) is among them: a default RUN step never has it.
    assert.ok((BigInt(`0x${capEff}`) >> 21n) & 1n, capEff);
  });

  it("fails the same build without allow, naming the entitlement", async () => {
    const context = makeContext({ Dockerfile: INSECURE });
    const result = await runCli(["build", ...permissiveFlags(), "--no-cache", context]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr.trim().split("\n").at(-1)!, /^error: The build failed: .*security\.insecure/);
  });

  it("gives RUN --network=host with network.host", async () => {
    const context = makeContext({ Dockerfile: HOST_NETWORK });
    const allowed = await runCli([
      "build",
      ...permissiveFlags(),
      "--no-cache",
      "--allow",
      "network.host",
      context,
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stderr, /host-network-ok/);
  });

  it("is refused by a runner that does not allow the entitlement", async () => {
    const context = makeContext({ Dockerfile: INSECURE });
    const result = await runCli([
      "build",
      ...connectionFlags(runnerUnderTest()),
      "--no-cache",
      "--allow",
      "security.insecure",
      context,
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr.trim().split("\n").at(-1)!, /^error: .*security\.insecure/);
  });
});
