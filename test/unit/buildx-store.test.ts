import { beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { formatPlatform } from "../../src/buildkit/index.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../src/errors.js";
import { buildxConfigDir, readBuildxBuilder } from "../../src/runner/buildx-store.js";
import { makeCertificates, type CertificateSet } from "../harness/certs.js";
import { writeBuildxBuilder } from "../helpers/buildx-store.js";
import { tempDir } from "../helpers/temp.js";

let certs: CertificateSet;
let pem: (path: string) => string;

beforeAll(() => {
  certs = makeCertificates(join(tempDir("rb-buildx-store-certs-"), "certs"));
  pem = (path) => readFileSync(path, "utf8");
});

function assertRefused(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: Error) => {
    assert.ok(error instanceof InputError, `${error.name}: ${error.message}`);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n|BEGIN/);
    return true;
  });
}

describe("buildxConfigDir", () => {
  it("is BUILDX_CONFIG, else DOCKER_CONFIG/buildx, else ~/.docker/buildx", () => {
    assert.equal(buildxConfigDir({ BUILDX_CONFIG: "/b", DOCKER_CONFIG: "/d" }, "/home/u"), "/b");
    assert.equal(buildxConfigDir({ DOCKER_CONFIG: "/d" }, "/home/u"), "/d/buildx");
    assert.equal(buildxConfigDir({}, "/home/u"), "/home/u/.docker/buildx");
  });
});

describe("readBuildxBuilder", () => {
  it("reads the current remote builder as setup-buildx leaves it: endpoints, per-node TLS, platforms", () => {
    const dir = tempDir("rb-buildx-");
    const text = writeBuildxBuilder(dir, {
      name: "builder-3f2c",
      driver: "remote",
      current: true,
      nodes: [
        {
          name: "builder-3f2c0",
          endpoint: "tcp://amd64.example:1234",
          platforms: ["linux/amd64"],
          tls: { ca: pem(certs.caCert), cert: pem(certs.clientCert), key: pem(certs.clientKey) },
        },
        {
          name: "arm64",
          endpoint: "tcp://arm64.example:1234",
          platforms: ["linux/arm64", "linux/arm/v7"],
          tls: { ca: pem(certs.otherCaCert) },
          driverOpts: { servername: "buildkitd-arm64" },
        },
      ],
    });
    // What buildx's encoding/json writes, for the record of the format.
    assert.ok(
      text.startsWith(
        '{"Name":"builder-3f2c","Driver":"remote","Nodes":[{"Name":"builder-3f2c0","Endpoint":',
      ),
    );
    assert.match(
      text,
      /"Platforms":\[\{"architecture":"arm64","os":"linux"\},\{"architecture":"arm","os":"linux","variant":"v7"\}\]/,
    );
    assert.match(
      text,
      /"DriverOpts":\{"cacert":"[^"]+\/certs\/cacert_arm64\.example-1234\.pem","servername":"buildkitd-arm64"\}/,
    );

    const builder = readBuildxBuilder({ env: { BUILDX_CONFIG: dir } });
    assert.equal(builder?.name, "builder-3f2c");
    assert.equal(builder?.defaultLoad, false);
    const [amd64, arm64] = builder!.runners;
    assert.equal(amd64!.name, "builder-3f2c0");
    assert.equal(amd64!.endpoint.address, "tcp://amd64.example:1234");
    assert.deepEqual(amd64!.platforms?.map(formatPlatform), ["linux/amd64"]);
    assert.equal(amd64!.tls.ca?.toString(), pem(certs.caCert));
    assert.equal(amd64!.tls.key?.toString(), pem(certs.clientKey));
    assert.deepEqual(arm64!.platforms?.map(formatPlatform), ["linux/arm64", "linux/arm/v7"]);
    assert.equal(arm64!.tls.ca?.toString(), pem(certs.otherCaCert));
    assert.equal(arm64!.tls.serverName, "buildkitd-arm64");
  });

  it("takes a builder by name (the builder input, then BUILDX_BUILDER) over the current one", () => {
    const dir = tempDir("rb-buildx-");
    writeBuildxBuilder(dir, {
      name: "current-one",
      driver: "remote",
      current: true,
      nodes: [{ name: "a", endpoint: "tcp://a.example:1" }],
    });
    writeBuildxBuilder(dir, {
      name: "Named",
      driver: "remote",
      nodes: [{ name: "b", endpoint: "tcp://b.example:1", driverOpts: { "default-load": "true" } }],
    });
    const named = readBuildxBuilder({
      env: { BUILDX_CONFIG: dir, BUILDX_BUILDER: "current-one" },
      builder: "Named",
    });
    assert.equal(named?.runners[0]?.endpoint.address, "tcp://b.example:1");
    assert.equal(named?.defaultLoad, true);
    const fromEnv = readBuildxBuilder({ env: { BUILDX_CONFIG: dir, BUILDX_BUILDER: "named" } });
    assert.equal(fromEnv?.runners[0]?.endpoint.address, "tcp://b.example:1");
  });

  it("finds nothing when buildx has no store or no current builder", () => {
    assert.equal(
      readBuildxBuilder({ env: { BUILDX_CONFIG: join(tempDir("rb-buildx-"), "missing") } }),
      undefined,
    );
    const dir = tempDir("rb-buildx-");
    writeFileSync(
      join(dir, "current"),
      JSON.stringify({ Key: "unix:///var/run/docker.sock", Name: "", Global: false }),
    );
    assert.equal(readBuildxBuilder({ env: { BUILDX_CONFIG: dir } }), undefined);
  });

  it("refuses a builder with another driver, naming the driver", () => {
    const dir = tempDir("rb-buildx-");
    for (const driver of ["docker-container", "kubernetes"]) {
      writeBuildxBuilder(dir, {
        name: driver,
        driver,
        current: true,
        nodes: [{ name: `${driver}0`, endpoint: "unix:///var/run/docker.sock" }],
      });
      assertRefused(
        () => readBuildxBuilder({ env: { BUILDX_CONFIG: dir } }),
        new RegExp(
          `^The buildx builder "${driver}" uses the ${driver} driver; remote-buildkit takes only remote builders \\(driver: remote\\)`,
        ),
      );
    }
  });

  it("refuses a named builder that is not there, and a node whose TLS file is gone", () => {
    const dir = tempDir("rb-buildx-");
    assertRefused(
      () => readBuildxBuilder({ env: { BUILDX_CONFIG: dir }, builder: "absent" }),
      /^There is no buildx builder "absent" \(named by the builder input\) in .*; create it with setup-buildx/,
    );
    writeBuildxBuilder(dir, {
      name: "gone",
      driver: "remote",
      current: true,
      nodes: [{ name: "n0", endpoint: "tcp://a.example:1", driverOpts: { cacert: "/nonexistent/ca.pem" } }],
    });
    assertRefused(
      () => readBuildxBuilder({ env: { BUILDX_CONFIG: dir } }),
      /^Node "n0" of the buildx builder "gone", driver-opts cacert "\/nonexistent\/ca\.pem" cannot be read: no such file\.$/,
    );
  });
});

describe("readBuildxBuilder with remoteOnly (buildx's own choice, not a name given)", () => {
  it("leaves a current builder of another driver, or buildx's default one, alone", () => {
    const container = tempDir("rb-buildx-");
    writeBuildxBuilder(container, {
      name: "local-container",
      driver: "docker-container",
      current: true,
      nodes: [{ name: "local-container0", endpoint: "unix:///var/run/docker.sock" }],
    });
    assert.equal(readBuildxBuilder({ env: { BUILDX_CONFIG: container }, remoteOnly: true }), undefined);
    // `docker buildx use default` names a builder that has no instance file.
    const dflt = tempDir("rb-buildx-");
    writeFileSync(
      join(dflt, "current"),
      '{"Key":"unix:///var/run/docker.sock","Name":"default","Global":false}',
    );
    assert.equal(readBuildxBuilder({ env: { BUILDX_CONFIG: dflt }, remoteOnly: true }), undefined);
  });

  it("still refuses a builder of another driver asked for by name", () => {
    const dir = tempDir("rb-buildx-");
    writeBuildxBuilder(dir, {
      name: "local-container",
      driver: "docker-container",
      nodes: [{ name: "local-container0", endpoint: "unix:///var/run/docker.sock" }],
    });
    assertRefused(
      () => readBuildxBuilder({ env: { BUILDX_CONFIG: dir }, builder: "local-container", remoteOnly: true }),
      /uses the docker-container driver; remote-buildkit takes only remote builders/,
    );
  });
});
