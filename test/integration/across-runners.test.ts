// One multi-platform image built across two runners, as buildx's multi-node builds do: the test
// runner (linux/amd64) and a second buildkitd declaring linux/arm64 only, in a pool. Each platform
// builds natively on its own runner, and the registry ends up with one image index of both.
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { startTestRunner, type TestRunner } from "../harness/runner.js";
import { cleanEnv, runCli } from "../helpers/cli.js";
import { makeContext, run } from "../helpers/contexts.js";
import { processRunsWith } from "../helpers/processes.js";
import { getManifest, manifestStatus, OCI_INDEX_TYPE } from "../helpers/registry.js";
import { escapeRegExp } from "../helpers/regex.js";

// Each test and hook here has 5 minutes.
jest.setTimeout(5 * 60_000);

let amd64: RunnerUnderTest;
let arm64: TestRunner;
let registry: RegistryUnderTest;
beforeAll(async () => {
  amd64 = runnerUnderTest();
  registry = registryUnderTest();
  arm64 = await startTestRunner({
    args: ["--oci-worker-platform", "linux/arm64"],
    config: `[registry."${registry.address}"]\n  http = false\n  ca = [${JSON.stringify(registry.caCert)}]\n`,
  });
});
afterAll(() => arm64?.stop());

/** Both runners in a pool, for a two-platform build. */
function poolFlags(): string[] {
  return ["--addr", amd64.unixAddress, "--addr", arm64.unixAddress, "--platform", "linux/amd64,linux/arm64"];
}

describe("a multi-platform image across two runners", () => {
  it("builds each platform on its native runner and pushes one image index", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const result = await runCli(
      [
        "build",
        ...poolFlags(),
        "--push",
        "-t",
        `${registry.address}/rb/multi:1`,
        "--no-docker-config",
        context,
      ],
      cleanEnv({
        BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
        // Our client puts the index from this machine, so it trusts the registry's CA too.
        NODE_EXTRA_CA_CERTS: registry.caCert,
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /Building linux\/amd64 on unix:\/\/.*, linux\/arm64 on unix:\/\/.*, then one image index\./,
    );
    assert.match(result.stderr, /^\[linux\/arm64\] #\d+ \[1\/1\] COPY busybox \/bin\/busybox$/m);
    const answer = await getManifest(registry, "rb/multi", "1", { accept: [OCI_INDEX_TYPE] });
    assert.equal(answer.status, 200, answer.body);
    const index = JSON.parse(answer.body) as {
      mediaType: string;
      manifests?: Array<{ platform: { architecture: string } }>;
    };
    assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(index.manifests!.map((entry) => entry.platform.architecture).sort(), ["amd64", "arm64"]);
    assert.match(result.stderr, /^Pushed .*\/rb\/multi:1, digest sha256:[a-f0-9]{64}$/m);
  });

  it("ends the other platforms' builds when one fails", async () => {
    const marker = `sleep 5${Math.floor(Math.random() * 90 + 10)}`;
    const context = makeContext({
      Dockerfile: [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        "ARG TARGETARCH",
        run(`if [ "$TARGETARCH" = arm64 ]; then sleep 1; exit 3; fi; ${marker}`),
      ].join("\n"),
    });
    const result = await runCli(
      [
        "build",
        ...poolFlags(),
        "--push",
        "-t",
        `${registry.address}/rb/multi-fail:1`,
        "--no-cache",
        "--no-docker-config",
        context,
      ],
      cleanEnv({
        BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
        NODE_EXTRA_CA_CERTS: registry.caCert,
      }),
    );
    assert.equal(result.code, 1, result.stderr);
    // The failure that ended the other build, not the other build's cancellation.
    assert.match(result.stderr.trim().split("\n").at(-1)!, /^error: The build failed: .*exit code: 3/);
    for (let i = 0; i < 50 && processRunsWith(marker); i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(processRunsWith(marker), false, "the linux/amd64 build was cancelled on its runner");
  });

  it("exports and imports each platform's cache on its own runner, under its own tag", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const cache = `${registry.address}/rb/multi-cache`;
    const env = cleanEnv({
      BUILDKIT_REGISTRY_AUTH: `${registry.address}=${registry.username}:${registry.password}`,
      NODE_EXTRA_CA_CERTS: registry.caCert,
    });
    const flags = [
      ...poolFlags(),
      "--push",
      "-t",
      `${registry.address}/rb/multi:cached`,
      "--no-docker-config",
    ];
    const exported = await runCli(
      ["build", ...flags, "--cache-to", `type=registry,ref=${cache}:main,mode=max`, context],
      env,
    );
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(await manifestStatus(registry, "rb/multi-cache", "main-linux-amd64"), 200);
    assert.equal(await manifestStatus(registry, "rb/multi-cache", "main-linux-arm64"), 200);
    const imported = await runCli(["build", ...flags, "--cache-from", `${cache}:main`, context], env);
    assert.equal(imported.code, 0, imported.stderr);
    for (const platform of ["amd64", "arm64"]) {
      assert.match(
        imported.stderr,
        new RegExp(
          `^\\[linux/${platform}\\] #\\d+ importing cache manifest from ${escapeRegExp(cache)}:main-linux-${platform}$`,
          "m",
        ),
      );
    }
  });

  it("refuses in strict mode to build across runners without a push", async () => {
    const context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
    const result = await runCli(["build", ...poolFlags(), "--strict-platforms", context]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^error: The platforms linux\/arm64 are native to other runners than unix:\/\/.*; building them there needs a push of the image/,
    );
  });
});
