// A pool whose runners have different CAs, described as setup-buildx's append list: each runner is
// reached with its own CA and client certificate, through resolvePool as it is.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { formatPlatform, parsePlatform, silenceIpServerNameWarning } from "../../src/buildkit/index.js";
import { runnerInputNames } from "../../src/job/request.js";
import { inputsOf } from "../helpers/inputs.js";
import { resolvePool } from "../../src/runner/pool.js";
import { parseRunnerList } from "../../src/runner/pool-config.js";
import { readBuildxBuilder } from "../../src/runner/buildx-store.js";
import { readFileSync } from "node:fs";
import { writeBuildxBuilder } from "../helpers/buildx-store.js";
import { tempDir } from "../helpers/temp.js";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { recorder } from "../helpers/reporter.js";

let first: RunnerUnderTest;
let second: TestRunner;

beforeAll(async () => {
  silenceIpServerNameWarning();
  first = runnerUnderTest();
  // Its own CA, server and client certificates (test/harness/certs.ts makes a set per runner).
  second = await startTestRunner();
});
afterAll(() => second?.stop());

/** The append-style list: each runner with the CA and client certificate given. */
function runnersYaml(firstCerts: RunnerUnderTest["certs"], secondCerts: TestRunner["certs"]): string {
  return [
    "- name: first",
    `  endpoint: ${first.tcpAddress}`,
    "  platforms: linux/amd64",
    "  driver-opts:",
    `    - cacert=${firstCerts.caCert}`,
    `    - cert=${firstCerts.clientCert}`,
    `    - key=${firstCerts.clientKey}`,
    "- name: second",
    `  endpoint: ${second.tcpAddress}`,
    "  platforms: linux/arm64",
    "  driver-opts:",
    `    - cacert=${secondCerts.caCert}`,
    `    - cert=${secondCerts.clientCert}`,
    `    - key=${secondCerts.clientKey}`,
    "    - servername=localhost",
  ].join("\n");
}

function poolOptions(reporter = recorder()) {
  return {
    platforms: ["linux/amd64", "linux/arm64"].map((text) => parsePlatform(text)!),
    connectTimeoutMs: 10_000,
    allowPlaintext: false,
    onVersionMismatch: "error" as const,
    names: runnerInputNames(inputsOf({}, { adapter: "cli", command: "info" })),
    reporter,
    signal: AbortSignal.timeout(60_000),
  };
}

describe("a pool of runners with different CAs", () => {
  it("reaches each runner with its own CA and client certificate", async () => {
    assert.notEqual(first.certs.caCert, second.certs.caCert);
    const candidates = parseRunnerList(runnersYaml(first.certs, second.certs), {
      label: "BUILDKIT_RUNNERS",
      baseDir: "/",
    });
    const reporter = recorder();
    const pool = await resolvePool(candidates, poolOptions(reporter));
    try {
      assert.deepEqual(
        pool.assignments.map((assignment) => [
          assignment.platform && formatPlatform(assignment.platform),
          assignment.runner.info.endpoint,
        ]),
        [
          ["linux/amd64", first.tcpAddress],
          ["linux/arm64", second.tcpAddress],
        ],
      );
      assert.equal(
        pool.summary,
        `chose ${first.tcpAddress} for linux/amd64: native; chose ${second.tcpAddress} for linux/arm64: native`,
      );
      assert.ok(!reporter.lines.some((line) => line.startsWith("warning:")), reporter.lines.join("\n"));
      for (const { runner } of pool.assignments) assert.ok((await runner.client.workers()).length > 0);
    } finally {
      pool.close();
    }
  });

  it("skips a runner given another runner's CA, naming why", async () => {
    const swapped = { ...second.certs, caCert: first.certs.caCert };
    const candidates = parseRunnerList(runnersYaml(first.certs, swapped), {
      label: "BUILDKIT_RUNNERS",
      baseDir: "/",
    });
    const reporter = recorder();
    const pool = await resolvePool(candidates, poolOptions(reporter));
    try {
      assert.ok(pool.assignments.every((assignment) => assignment.runner.info.endpoint === first.tcpAddress));
      assert.ok(
        reporter.lines.includes(
          `warning: Skipping runner ${second.tcpAddress}: down (the runner's certificate at ${second.tcpAddress} is not signed by the given CA)`,
        ),
        reporter.lines.join("\n"),
      );
    } finally {
      pool.close();
    }
  });

  it("reaches both through the builder setup-buildx left in the buildx store", async () => {
    const dir = tempDir("rb-buildx-store-");
    const tls = (certs: RunnerUnderTest["certs"]) => ({
      ca: readFileSync(certs.caCert, "utf8"),
      cert: readFileSync(certs.clientCert, "utf8"),
      key: readFileSync(certs.clientKey, "utf8"),
    });
    writeBuildxBuilder(dir, {
      name: "builder-test",
      driver: "remote",
      current: true,
      nodes: [
        {
          name: "builder-test0",
          endpoint: first.tcpAddress,
          platforms: ["linux/amd64"],
          tls: tls(first.certs),
        },
        { name: "arm64", endpoint: second.tcpAddress, platforms: ["linux/arm64"], tls: tls(second.certs) },
      ],
    });
    const builder = readBuildxBuilder({ env: { BUILDX_CONFIG: dir } });
    const pool = await resolvePool(builder!.runners, poolOptions());
    try {
      assert.deepEqual(
        pool.assignments.map((assignment) => assignment.runner.info.endpoint),
        [first.tcpAddress, second.tcpAddress],
      );
    } finally {
      pool.close();
    }
  });
});
