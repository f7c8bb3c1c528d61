// A pool whose runners have different CAs, described as setup-buildx's append list: each runner is
// reached with its own CA and client certificate, through resolvePool as it is, and through the
// CLI (--runners-file, BUILDKIT_RUNNER_<i>_*, --builder) for a build across both.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { formatPlatform, parsePlatform } from "../../src/buildkit/index.js";
import { runnerInputNames } from "../../src/job/request.js";
import { inputsOf } from "../helpers/inputs.js";
import { resolvePool } from "../../src/runner/pool.js";
import { parseRunnerList } from "../../src/runner/pool-config.js";
import { readBuildxBuilder } from "../../src/runner/buildx-store.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeBuildxBuilder } from "../helpers/buildx-store.js";
import { tempDir } from "../helpers/temp.js";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { cleanEnv, isOneSentence, runCli } from "../helpers/cli.js";
import { makeContext } from "../helpers/contexts.js";
import { getManifest, OCI_INDEX_TYPE } from "../helpers/registry.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { recorder } from "../helpers/reporter.js";

jest.setTimeout(5 * 60_000);

/** The runner inputs' names as the CLI's sentences say them. */
const NAMES = runnerInputNames(await inputsOf({}, { adapter: "cli", command: "info" }));
let first: RunnerUnderTest;
let second: TestRunner;
let registry: RegistryUnderTest;

beforeAll(async () => {
  first = runnerUnderTest();
  registry = registryUnderTest();
  // Its own CA, server and client certificates (test/harness/certs.ts makes a set per runner);
  // it trusts the test registry, for the push of its platform.
  second = await startTestRunner({
    config: `[registry."${registry.address}"]\n  http = false\n  ca = [${JSON.stringify(registry.caCert)}]\n`,
  });
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
    names: NAMES,
    reporter,
    signal: AbortSignal.timeout(60_000),
  };
}

describe("a pool of runners with different CAs", () => {
  it("reaches each runner with its own CA and client certificate", async () => {
    assert.notEqual(first.certs.caCert, second.certs.caCert);
    const candidates = await parseRunnerList(runnersYaml(first.certs, second.certs), {
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
    const candidates = await parseRunnerList(runnersYaml(first.certs, swapped), {
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

describe("the CLI with runners that each have their own TLS material", () => {
  const pushEnv = (extra: NodeJS.ProcessEnv = {}) =>
    cleanEnv({
      BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
      NODE_EXTRA_CA_CERTS: registry.caCert,
      ...extra,
    });

  it("builds one image across both from --runners-file, each runner reached with its own CA and certificate", async () => {
    assert.notEqual(readFileSync(first.certs.caCert, "utf8"), readFileSync(second.certs.caCert, "utf8"));
    const dir = tempDir("rb-runners-file-");
    const file = join(dir, "runners.yml");
    writeFileSync(file, runnersYaml(first.certs, second.certs));
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const result = await runCli(
      [
        "build",
        "--runners-file",
        file,
        "--platform",
        "linux/amd64,linux/arm64",
        "--push",
        "-t",
        `${registry.address}/rb/own-tls:1`,
        "--no-docker-config",
        context,
      ],
      pushEnv(),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      result.stderr.includes(
        `Building linux/amd64 on ${first.tcpAddress}, linux/arm64 on ${second.tcpAddress}, then one image index.`,
      ),
      result.stderr,
    );
    assert.match(result.stderr, /^\[linux\/arm64\] #\d+ \[1\/1\] COPY busybox \/bin\/busybox$/m);
    const answer = await getManifest(registry, "rb/own-tls", "1", { accept: [OCI_INDEX_TYPE] });
    assert.equal(answer.status, 200, answer.body);
    const index = JSON.parse(answer.body) as { manifests: Array<{ platform: { architecture: string } }> };
    assert.deepEqual(index.manifests.map((entry) => entry.platform.architecture).sort(), ["amd64", "arm64"]);
  });

  it("takes BUILDKIT_RUNNER_<i>_* variables with PEM text, and routes a platform to the runner that declares it", async () => {
    const pem = (path: string) => readFileSync(path, "utf8");
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const result = await runCli(
      ["build", "--platform", "linux/arm64", context],
      cleanEnv({
        BUILDKIT_RUNNER_0_ENDPOINT: first.tcpAddress,
        BUILDKIT_RUNNER_0_PLATFORMS: "linux/amd64",
        BUILDKIT_RUNNER_0_TLS_CACERT: pem(first.certs.caCert),
        BUILDKIT_RUNNER_0_TLS_CERT: pem(first.certs.clientCert),
        BUILDKIT_RUNNER_0_TLS_KEY: pem(first.certs.clientKey),
        BUILDKIT_RUNNER_1_ENDPOINT: second.tcpAddress,
        BUILDKIT_RUNNER_1_PLATFORMS: "linux/arm64",
        BUILDKIT_RUNNER_1_TLS_CACERT: pem(second.certs.caCert),
        BUILDKIT_RUNNER_1_TLS_CERT: pem(second.certs.clientCert),
        BUILDKIT_RUNNER_1_TLS_KEY: pem(second.certs.clientKey),
        BUILDKIT_RUNNER_1_TLS_SERVERNAME: "localhost",
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`^Runner: +${second.tcpAddress.replace(/[.]/g, "\\.")}$`, "m"));
    assert.ok(!result.stderr.includes("BEGIN"), "no PEM text in the log");
  });

  it("reaches the one runner of --builder with that node's TLS material", async () => {
    const dir = tempDir("rb-buildx-store-cli-");
    const pem = (path: string) => readFileSync(path, "utf8");
    writeBuildxBuilder(dir, {
      name: "remote-arm",
      driver: "remote",
      nodes: [
        {
          name: "remote-arm0",
          endpoint: second.tcpAddress,
          tls: {
            ca: pem(second.certs.caCert),
            cert: pem(second.certs.clientCert),
            key: pem(second.certs.clientKey),
          },
        },
      ],
    });
    const result = await runCli(["info", "--builder", "remote-arm"], cleanEnv({ BUILDX_CONFIG: dir }));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.includes(second.tcpAddress), result.stdout);
  });

  it("refuses a runner list together with --addr, in one sentence", async () => {
    const dir = tempDir("rb-runners-file-");
    const file = join(dir, "runners.yml");
    writeFileSync(file, runnersYaml(first.certs, second.certs));
    const result = await runCli(["info", "--runners-file", file, "--addr", first.tcpAddress]);
    assert.equal(result.code, 2);
    assert.ok(isOneSentence(result.stderr), result.stderr);
    assert.match(
      result.stderr,
      /describes the runners, each with its own endpoint and TLS material; leave out --addr\.$/m,
    );
  });
});
