import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { formatPlatform } from "../../src/buildkit/index.js";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../src/errors.js";
import {
  parseRunnerList,
  readRunnerListFile,
  runnerPoolFromSources,
  runnersFromIndexedEnv,
} from "../../src/runner/pool-config.js";
import { makeCertificates, type CertificateSet } from "../harness/certs.js";
import { tempDir } from "../helpers/temp.js";

let certs: CertificateSet;
let pem: { ca: string; cert: string; key: string; otherKey: string };
const source = { label: "BUILDKIT_RUNNERS", baseDir: "/" };

beforeAll(() => {
  certs = makeCertificates(join(tempDir("rb-pool-config-"), "certs"));
  const read = (path: string) => readFileSync(path, "utf8");
  pem = {
    ca: read(certs.caCert),
    cert: read(certs.clientCert),
    key: read(certs.clientKey),
    otherKey: read(certs.otherClientKey),
  };
});

/** Asserts an InputError whose message matches, is one sentence and holds no PEM. */
async function assertRefused(run: () => unknown, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => run(),
    (error: Error) => {
      assert.ok(error instanceof InputError, `${error.name}: ${error.message}`);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n|BEGIN|PRIVATE KEY/);
      assert.match(error.message, /^([A-Z]|--).*\.$/);
      return true;
    },
  );
}

const indent = (text: string, spaces: number) =>
  text
    .trim()
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");

describe("parseRunnerList (setup-buildx's append schema)", () => {
  it("reads each runner's endpoint, driver-opts paths, server name and platforms", async () => {
    const runners = await parseRunnerList(
      [
        "- name: amd64",
        "  endpoint: tcp://amd64.example:1234",
        "  platforms: linux/amd64,linux/386",
        "  driver-opts:",
        `    - cacert=${certs.caCert}`,
        `    - cert=${certs.clientCert}`,
        `    - key=${certs.clientKey}`,
        "- endpoint: tcp://arm64.example:1234",
        "  platforms: [linux/arm64/v8]",
        "  driver-opts:",
        `    - cacert=${certs.otherCaCert}`,
        "    - servername=buildkitd-arm64",
      ].join("\n"),
      source,
    );
    assert.equal(runners.length, 2);
    const [amd64, arm64] = runners;
    assert.equal(amd64!.name, "amd64");
    assert.equal(amd64!.endpoint.address, "tcp://amd64.example:1234");
    assert.deepEqual(amd64!.platforms?.map(formatPlatform), ["linux/amd64", "linux/386"]);
    assert.equal(amd64!.tls.ca?.toString(), pem.ca);
    assert.equal(amd64!.tls.key?.toString(), pem.key);
    assert.equal(arm64!.name, "tcp://arm64.example:1234");
    assert.deepEqual(arm64!.platforms?.map(formatPlatform), ["linux/arm64"]);
    assert.equal(arm64!.tls.ca?.toString(), readFileSync(certs.otherCaCert, "utf8"));
    assert.equal(arm64!.tls.cert, undefined);
    assert.equal(arm64!.tls.serverName, "buildkitd-arm64");
  });

  it("takes driver-opts as a mapping with PEM text, and unix and ssh endpoints", async () => {
    const runners = await parseRunnerList(
      [
        "- endpoint: tcp://a.example:1234",
        "  driver-opts:",
        "    cacert: |",
        indent(pem.ca, 6),
        "    cert: |",
        indent(pem.cert, 6),
        "    key: |",
        indent(pem.key, 6),
        "- endpoint: unix:///run/buildkit/buildkitd.sock",
        "- endpoint: ssh://builder@b.example/run/buildkit/buildkitd.sock",
      ].join("\n"),
      source,
    );
    assert.equal(runners[0]!.tls.cert?.toString().trim(), pem.cert.trim());
    assert.equal(runners[1]!.endpoint.kind, "unix");
    assert.equal(runners[2]!.endpoint.kind, "ssh");
  });

  it("reads a runners file, with certificate paths relative to the file", async () => {
    const dir = tempDir("rb-runners-file-");
    mkdirSync(join(dir, "tls"));
    writeFileSync(join(dir, "tls", "ca.pem"), pem.ca);
    writeFileSync(
      join(dir, "runners.yml"),
      "- endpoint: tcp://a.example:1\n  driver-opts: [cacert=tls/ca.pem]\n",
    );
    const [runner] = await readRunnerListFile(join(dir, "runners.yml"));
    assert.equal(runner!.tls.ca?.toString(), pem.ca);
    await assertRefused(
      () => readRunnerListFile(join(dir, "missing.yml")),
      /^--runners-file ".*missing\.yml" cannot be read: no such file\.$/,
    );
  });

  const refusals: Array<[string, string, RegExp]> = [
    ["not YAML", "- endpoint: [unclosed", /^BUILDKIT_RUNNERS is not valid YAML: /],
    ["not a list", "endpoint: tcp://a:1", /^BUILDKIT_RUNNERS is not a list; give a YAML list of runners/],
    ["empty", "", /^BUILDKIT_RUNNERS is empty/],
    [
      "no endpoint",
      "- name: x\n  platforms: linux/amd64",
      /^Runner 1 \("x"\) in BUILDKIT_RUNNERS, endpoint is missing/,
    ],
    [
      "a bad endpoint",
      "- endpoint: a.example:1",
      /^Runner 1 in BUILDKIT_RUNNERS, endpoint: endpoint "a\.example:1" has no scheme/,
    ],
    [
      "an unknown field",
      "- endpoint: tcp://a:1\n  driver: remote",
      /^Runner 1 in BUILDKIT_RUNNERS has the field "driver"; use name, endpoint/,
    ],
    [
      "buildkitd-flags",
      "- endpoint: tcp://a:1\n  buildkitd-flags: --debug",
      /has buildkitd-flags, which apply to a runner that is started/,
    ],
    [
      "another driver-opt",
      "- endpoint: tcp://a:1\n  driver-opts: [default-load=true]",
      /has driver-opts default-load, which a remote runner does not take/,
    ],
    [
      "a driver-opt without =",
      "- endpoint: tcp://a:1\n  driver-opts: [cacert]",
      /driver-opts entry that is not key=value/,
    ],
    [
      "a bad platform",
      "- endpoint: tcp://a:1\n  platforms: amd64",
      /^Runner 1 in BUILDKIT_RUNNERS, platforms "amd64" is not a platform/,
    ],
    [
      "a missing CA file",
      "- name: b\n  endpoint: tcp://a:1\n  driver-opts: [cacert=/nonexistent/ca.pem]",
      /^Runner 1 \("b"\) in BUILDKIT_RUNNERS, cacert "\/nonexistent\/ca\.pem" cannot be read: no such file\.$/,
    ],
  ];
  for (const [what, text, message] of refusals) {
    it(`refuses ${what} with one sentence naming the runner and field`, async () => {
      await assertRefused(() => parseRunnerList(text, source), message);
    });
  }

  it("refuses a key that does not match its certificate without repeating either", async () => {
    const text = [
      "- name: second",
      "  endpoint: tcp://a.example:1",
      "  driver-opts:",
      "    cert: |",
      indent(pem.cert, 6),
      "    key: |",
      indent(pem.otherKey, 6),
    ].join("\n");
    await assertRefused(
      () => parseRunnerList(`- endpoint: unix:///x.sock\n${text}`, source),
      /^Runner 2 \("second"\) in BUILDKIT_RUNNERS, key does not belong to the certificate in runner 2 \("second"\) in BUILDKIT_RUNNERS, cert\.$/,
    );
  });
});

describe("runnersFromIndexedEnv (BUILDKIT_RUNNER_<i>_*)", () => {
  it("reads each index in order, PEM text or paths", () => {
    const runners = runnersFromIndexedEnv({
      BUILDKIT_RUNNER_10_ENDPOINT: "tcp://ten.example:1",
      BUILDKIT_RUNNER_2_ENDPOINT: "tcp://two.example:1",
      BUILDKIT_RUNNER_2_TLS_CACERT: pem.ca,
      BUILDKIT_RUNNER_2_TLS_CERT: pem.cert,
      BUILDKIT_RUNNER_2_TLS_KEY: certs.clientKey,
      BUILDKIT_RUNNER_2_TLS_SERVERNAME: "two",
      BUILDKIT_RUNNER_2_PLATFORMS: "linux/arm64",
      BUILDKIT_RUNNER_10_NAME: "ten",
      UNRELATED: "x",
    });
    assert.deepEqual(
      runners.map((runner) => runner.name),
      ["tcp://two.example:1", "ten"],
    );
    assert.equal(runners[0]!.tls.serverName, "two");
    assert.equal(runners[0]!.tls.key?.toString(), pem.key);
    assert.deepEqual(runners[0]!.platforms?.map(formatPlatform), ["linux/arm64"]);
    assert.deepEqual(runnersFromIndexedEnv({}), []);
  });

  it("names the variable in each refusal, never its value", async () => {
    await assertRefused(
      () =>
        runnersFromIndexedEnv({
          BUILDKIT_RUNNER_1_ENDPOINT: "tcp://a:1",
          BUILDKIT_RUNNER_1_TLS_KEY: pem.key,
        }),
      /^BUILDKIT_RUNNER_1_TLS_KEY is given without BUILDKIT_RUNNER_1_TLS_CERT: give both or neither\.$/,
    );
    await assertRefused(
      () => runnersFromIndexedEnv({ BUILDKIT_RUNNER_3_TLS_CACERT: pem.ca }),
      /^BUILDKIT_RUNNER_3_ENDPOINT is missing; every runner needs one\.$/,
    );
    await assertRefused(
      () =>
        runnersFromIndexedEnv({ BUILDKIT_RUNNER_1_ENDPOINT: "tcp://a:1", BUILDKIT_RUNNER_1_TLS_CA: pem.ca }),
      /^BUILDKIT_RUNNER_1_TLS_CA is not a runner setting; use BUILDKIT_RUNNER_1_ with NAME, ENDPOINT, TLS_CACERT/,
    );
    await assertRefused(
      () =>
        runnersFromIndexedEnv({
          BUILDKIT_RUNNER_1_ENDPOINT: "tcp://a:1",
          BUILDKIT_RUNNER_1_TLS_CACERT: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----",
        }),
      /^BUILDKIT_RUNNER_1_TLS_CACERT is not a valid PEM certificate\.$/,
    );
  });
});

describe("runnerPoolFromSources", () => {
  it("takes one of --runners-file, BUILDKIT_RUNNERS and the indexed variables", async () => {
    assert.equal(await runnerPoolFromSources({ env: {} }), undefined);
    const fromText = await runnerPoolFromSources({
      env: { BUILDKIT_RUNNERS: "- endpoint: tcp://a.example:1\n" },
    });
    assert.equal(fromText?.[0]?.endpoint.address, "tcp://a.example:1");
    const fromIndexed = await runnerPoolFromSources({
      env: { BUILDKIT_RUNNER_0_ENDPOINT: "tcp://b.example:1" },
    });
    assert.equal(fromIndexed?.[0]?.endpoint.address, "tcp://b.example:1");
    await assertRefused(
      () =>
        runnerPoolFromSources({
          env: { BUILDKIT_RUNNERS: "- endpoint: tcp://a:1", BUILDKIT_RUNNER_0_ENDPOINT: "tcp://b:1" },
          runnersFile: "runners.yml",
        }),
      /^Both --runners-file and BUILDKIT_RUNNERS and BUILDKIT_RUNNER_<i>_\* variables describe the runners; give only one of them\.$/,
    );
  });
});
