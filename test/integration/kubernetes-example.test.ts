// examples/kubernetes/: the fleet's manifests pass kubeconform (built from its Go module) against
// Kubernetes v1.37's strict schemas (from PyPI's kubernetes-validate, offline once cached), and the
// pool configuration next to them matches them: one runner per pod Service, with the ConfigMap's
// max-parallelism; its buildkitd.toml is one that buildkitd v0.32.2 reads, and its pre-stop hook
// waits exactly while a build is in flight.
import { beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { parseRunnerList } from "../../src/runner/pool-config.js";
import { makeCertificates } from "../harness/certs.js";
import { startTestRunner } from "../harness/runner.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { holdBuild, waitForBuildsInFlight } from "../helpers/held-build.js";
import { tempDir } from "../helpers/temp.js";

const execFileAsync = promisify(execFile);
const EXAMPLE = join(REPO_ROOT, "examples", "kubernetes");

// Building kubeconform and fetching the schemas the first time takes a while.
jest.setTimeout(10 * 60_000);

let kubeconform: string;
let schemaDir: string;

beforeAll(async () => {
  const { stdout } = await execFileAsync(
    "bash",
    [join(REPO_ROOT, "test", "harness", "install-kubeconform.sh")],
    {
      timeout: 10 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  [kubeconform, schemaDir] = stdout.trim().split("\n").slice(-2) as [string, string];
});

interface Summary {
  valid: number;
  invalid: number;
  errors: number;
  skipped: number;
}

/** kubeconform -strict on one file: its exit code, summary and the messages of what failed. */
async function validate(file: string): Promise<{ code: number; summary: Summary; messages: string[] }> {
  const args = [
    "-strict",
    "-summary",
    "-output",
    "json",
    "-schema-location",
    join(schemaDir, "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
    file,
  ];
  const result = await execFileAsync(kubeconform, args, { timeout: 60_000 }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  const parsed = JSON.parse(result.stdout) as { summary: Summary; resources: Array<{ msg: string }> };
  return { code: result.code, summary: parsed.summary, messages: parsed.resources.map((r) => r.msg) };
}

type Manifest = {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
};

function manifests(): Manifest[] {
  const text = readFileSync(join(EXAMPLE, "buildkitd.yaml"), "utf8");
  return parseAllDocuments(text).map((document) => document.toJS() as Manifest);
}

describe("examples/kubernetes", () => {
  it("passes kubeconform with Kubernetes v1.37's strict schemas, every resource checked", async () => {
    const result = await validate(join(EXAMPLE, "buildkitd.yaml"));
    assert.deepEqual(result.messages, []);
    assert.equal(result.code, 0);
    assert.deepEqual(result.summary, { valid: manifests().length, invalid: 0, errors: 0, skipped: 0 });
    assert.deepEqual([...new Set(manifests().map((manifest) => manifest.kind))].sort(), [
      "ConfigMap",
      "Namespace",
      "PodDisruptionBudget",
      "Service",
      "StatefulSet",
    ]);
  });

  it("would catch a mistake: the check is strict, not a pass-through", async () => {
    const broken = join(tempDir("rb-k8s-"), "broken.yaml");
    const text = readFileSync(join(EXAMPLE, "buildkitd.yaml"), "utf8");
    writeFileSync(
      broken,
      text.replace("maxUnavailable: 1", "maxUnavailabel: 1").replace("replicas: 3", 'replicas: "3"'),
    );
    const result = await validate(broken);
    assert.equal(result.code, 1);
    assert.equal(result.summary.invalid, 2);
    assert.ok(
      result.messages.some((message) => /additional properties 'maxUnavailabel' not allowed/.test(message)),
    );
    assert.ok(
      result.messages.some((message) => /\/spec\/replicas': got string, want null or integer/.test(message)),
    );
  });

  it("comes with a pool configuration that matches it: one runner per pod, the same max-parallelism", async () => {
    const all = manifests();
    const statefulSet = all.find((manifest) => manifest.kind === "StatefulSet")!;
    const replicas = statefulSet.spec!.replicas as number;
    const namespace = statefulSet.metadata.namespace!;
    const podServices = all.filter(
      (manifest) =>
        manifest.kind === "Service" &&
        (manifest.spec!.selector as Record<string, string>)["statefulset.kubernetes.io/pod-name"] !==
          undefined,
    );
    assert.equal(podServices.length, replicas);
    const config = all.find((manifest) => manifest.kind === "ConfigMap") as unknown as {
      data: Record<string, string>;
    };
    const maxParallelism = Number(/^\s*max-parallelism = (\d+)$/m.exec(config.data["buildkitd.toml"]!)![1]);

    // runners.yml's certificate paths are relative to it: a copy next to a set of certificates.
    const dir = tempDir("rb-k8s-runners-");
    makeCertificates(join(dir, "certs"));
    copyFileSync(join(EXAMPLE, "runners.yml"), join(dir, "runners.yml"));
    const runners = await parseRunnerList(readFileSync(join(dir, "runners.yml"), "utf8"), {
      label: "examples/kubernetes/runners.yml",
      baseDir: dir,
    });
    assert.deepEqual(
      runners.map((runner) => runner.name),
      podServices.map((service) => service.metadata.name),
    );
    for (const [index, runner] of runners.entries()) {
      const service = podServices[index]!;
      const port = (service.spec!.ports as Array<{ port: number }>)[0]!.port;
      assert.equal(
        runner.endpoint.address,
        `tcp://${service.metadata.name}.${namespace}.svc.cluster.local:${port}`,
      );
      assert.equal(runner.maxParallelism, maxParallelism);
      assert.ok(
        runner.tls.ca && runner.tls.cert && runner.tls.key,
        `${runner.name} has no client certificate`,
      );
    }
  });
});

describe("examples/kubernetes buildkitd.toml", () => {
  it("is read by buildkitd v0.32.2: its garbage-collection limits are the worker's", async () => {
    const config = manifests().find((manifest) => manifest.kind === "ConfigMap") as unknown as {
      data: Record<string, string>;
    };
    // The harness's flags (addresses, its own certificates) take the place of the file's.
    const runner = await startTestRunner({ config: config.data["buildkitd.toml"]! });
    try {
      const { stdout } = await execFileAsync(
        join(runner.binDir, "buildctl"),
        ["--addr", runner.unixAddress, "debug", "workers", "--verbose"],
        { timeout: 30_000 },
      );
      // buildkitd reads the file's GB as GiB (10 GiB = 10.73741824 GB, as buildctl prints it).
      assert.match(stdout, /Reserved space:\s+10\.73741824GB/);
      assert.match(stdout, /Maximum used space:\s+171\.79869184GB/);
      assert.match(stdout, /Minimum free space:\s+21\.47483648GB/);
    } finally {
      await runner.stop();
    }
  });
});

describe("examples/kubernetes pre-stop hook", () => {
  it("returns at once on an idle runner, and waits while a build is in flight", async () => {
    const statefulSet = manifests().find((manifest) => manifest.kind === "StatefulSet")!;
    const container = (
      statefulSet.spec!.template as {
        spec: { containers: Array<{ lifecycle: { preStop: { exec: { command: string[] } } } }> };
      }
    ).spec.containers[0]!;
    const [shell, flag, script] = container.lifecycle.preStop.exec.command;
    assert.deepEqual([shell, flag], ["sh", "-c"]);
    const runner = await startTestRunner();
    // As in the rootless image: buildctl on PATH, BUILDKIT_HOST at the runner's socket.
    const env = { PATH: `${runner.binDir}:${process.env.PATH}`, BUILDKIT_HOST: runner.unixAddress };
    const hook = () => {
      const child = spawn("sh", ["-c", script!], { env, stdio: "ignore" });
      return new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    };
    let held: ReturnType<typeof holdBuild> | undefined;
    try {
      assert.equal(await hook(), 0, "an idle runner stops at once");
      held = holdBuild(runner.unixAddress);
      await waitForBuildsInFlight(runner.unixAddress, 1);
      let done = false;
      const waiting = hook().then((code) => {
        done = true;
        return code;
      });
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      assert.equal(done, false, "the hook returned while a build was in flight");
      await held.stop();
      // It polls every 5 s: generous bound on noticing the build is over.
      const started = Date.now();
      assert.equal(await waiting, 0);
      assert.ok(Date.now() - started < 30_000);
    } finally {
      await held?.stop();
      await runner.stop();
    }
  });
});
