// The build plan: inputs validated into one sentence each, and mapped to the frontend's attrs.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { planBuild, type BuildPlan } from "../../src/job/plan.js";
import { solveRequest } from "../../src/job/solve-request.js";
import { prepareBuild } from "../../src/job/request.js";
import { InputError } from "../../src/errors.js";
import { inputsOf, type GivenInputs } from "../helpers/inputs.js";
import { tempDir } from "../helpers/temp.js";

/** The Solve request's parts that come from the plan alone. */
const request = (plan: BuildPlan) =>
  solveRequest({ plan, exporters: [], attestations: {}, cache: { imports: [], exports: [] } });
const frontendAttrs = (plan: BuildPlan) => request(plan).frontendAttrs;
const localDirs = (plan: BuildPlan) => request(plan).localDirs;
const entitlements = (plan: BuildPlan) => request(plan).entitlements;

function contextDir(): string {
  const dir = tempDir("rb-plan-");
  writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
  mkdirSync(join(dir, "extra"));
  return dir;
}

/** The action's build inputs, as given, planned in `cwd`. */
async function plan(overrides: GivenInputs, cwd = contextDir()) {
  const read = await inputsOf({ context: ".", ...overrides }, { cwd, env: { FROM_ENV: "env value" } });
  return planBuild(read.values, read.names, cwd);
}

async function rejects(overrides: GivenInputs, message: RegExp): Promise<void> {
  await assert.rejects(
    () => plan(overrides),
    (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("build plan", () => {
  it("maps every input to the dockerfile frontend's attribute", async () => {
    const dir = contextDir();
    const built = await plan(
      {
        target: "final",
        buildArgs: ["A=1", "B=x=y", "FROM_ENV"],
        labels: ["org.example=yes"],
        platforms: ["linux/amd64,linux/arm64", "linux/arm/v7"],
        noCacheFilters: ["base,test"],
        buildContexts: [
          "extra=./extra",
          "alpine=docker-image://alpine:3.20",
          "src=https://example.test/x.git",
        ],
        addHosts: ["example.test:10.0.0.1,other.test=10.0.0.2", "v6.test:[::1]"],
        network: "none",
        shmSizeBytes: "64m",
        ulimits: ["nofile=1024:2048", "nproc=512"],
        pull: true,
      },
      dir,
    );
    assert.deepEqual(frontendAttrs(built), {
      filename: "Dockerfile",
      target: "final",
      "build-arg:A": "1",
      "build-arg:B": "x=y",
      "build-arg:FROM_ENV": "env value",
      "label:org.example": "yes",
      platform: "linux/amd64,linux/arm64,linux/arm/v7",
      "no-cache": "base,test",
      "context:extra": "local:extra",
      "context:alpine": "docker-image://alpine:3.20",
      "context:src": "https://example.test/x.git",
      "add-hosts": "example.test=10.0.0.1,other.test=10.0.0.2,v6.test=::1",
      "force-network-mode": "none",
      "shm-size": String(64 * 1024 * 1024),
      ulimit: "nofile=1024:2048,nproc=512",
      "image-resolve-mode": "pull",
    });
    assert.deepEqual(localDirs(built), { context: dir, dockerfile: dir, extra: join(dir, "extra") });
    assert.deepEqual(entitlements(built), []);
  });

  it("keeps a named context called context apart from the main one", async () => {
    const dir = contextDir();
    const built = await plan({ buildContexts: ["context=./extra"] }, dir);
    assert.equal(frontendAttrs(built)["context:context"], "local:_context");
    assert.equal(localDirs(built)._context, join(dir, "extra"));
    assert.equal(localDirs(built).context, dir);
  });

  it("asks for the network.host entitlement only for host networking", async () => {
    assert.deepEqual(entitlements(await plan({ network: "host" })), ["network.host"]);
    assert.equal(frontendAttrs(await plan({ network: "default" }))["force-network-mode"], undefined);
  });

  it("asks the runner for the entitlements allowed, and gives the frontend the cgroup parent", async () => {
    const built = await plan({
      allow: ["network.host,security.insecure", "network.host"],
      cgroupParent: "/ci",
    });
    assert.deepEqual(entitlements(built), ["network.host", "security.insecure"]);
    assert.equal(frontendAttrs(built)["cgroup-parent"], "/ci");
    assert.deepEqual(entitlements(await plan({ network: "host" })), ["network.host"]);
    await rejects(
      { allow: ["device"] },
      /^input allow "device" is not an entitlement BuildKit grants; use network\.host or security\.insecure\.$/,
    );
  });

  it("takes attests as buildx's --attest, over the provenance and sbom inputs", async () => {
    const attestations = async (given: GivenInputs) => {
      const read = await inputsOf({ context: ".", ...given }, { cwd: contextDir() });
      return prepareBuild(read, { cwd: contextDir(), env: {}, mask: () => {} }).attestations;
    };
    assert.deepEqual(await attestations({ attests: ["type=provenance,mode=max", "type=sbom"] }), {
      provenance: "mode=max",
      sbom: "",
    });
    assert.deepEqual(await attestations({ attests: ["type=provenance,disabled=true"], provenance: "true" }), {
      provenance: undefined,
      sbom: undefined,
    });
    assert.deepEqual(await attestations({ provenance: "true" }), { provenance: "mode=min", sbom: undefined });
    await rejects({ attests: ["type=vex"] }, /^input attests "type=vex" needs type=provenance or type=sbom/);
  });

  it("reads sizes as docker does", async () => {
    assert.equal((await plan({ shmSizeBytes: "1g" })).shmSizeBytes, 1024 ** 3);
    assert.equal((await plan({ shmSizeBytes: "512MiB" })).shmSizeBytes, 512 * 1024 ** 2);
    assert.equal((await plan({ shmSizeBytes: "4096" })).shmSizeBytes, 4096);
  });

  it("rejects each bad input with a sentence that names it", async () => {
    await rejects({ context: "missing" }, /^input context "missing" does not exist\.$/);
    await rejects({ file: "nope/Dockerfile" }, /^input file "nope\/Dockerfile" does not exist\.$/);
    await rejects({ buildArgs: ["=x"] }, /^input build-args "=x" has no name/);
    await rejects({ buildArgs: ["UNSET_ARG"] }, /no environment variable UNSET_ARG is set/);
    await rejects({ labels: ["bare"] }, /^input labels "bare" has no "="/);
    await rejects({ platforms: ["linux"] }, /^input platforms "linux" is not a platform/);
    await rejects({ platforms: ["linux/foo"] }, /unknown architecture "foo"/);
    await rejects({ platforms: ["beos/amd64"] }, /unknown operating system "beos"/);
    await rejects({ buildContexts: ["noequals"] }, /^input build-contexts "noequals" is not NAME=VALUE/);
    await rejects({ buildContexts: ["x=./missing"] }, /the directory "\.\/missing" does not exist/);
    await rejects({ buildContexts: ["x=oci-layout:///tmp/layout"] }, /form we do not support yet/);
    await rejects({ addHosts: ["example.test"] }, /^input add-hosts "example.test" is not HOST:IP/);
    await rejects({ addHosts: ["example.test:not-an-ip"] }, /is not HOST:IP/);
    await rejects({ network: "bridge" }, /^input network "bridge" is not a network mode/);
    await rejects({ shmSizeBytes: "lots" }, /^input shm-size "lots" is not a size/);
    await rejects({ ulimits: ["nofile"] }, /^input ulimit "nofile" is not a ulimit/);
    await rejects({ ulimits: ["nofile=10:5"] }, /soft limit above its hard limit/);
  });
});
