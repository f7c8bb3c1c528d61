// The runner lifecycle against real buildkitd processes that this file starts itself (the
// harness's Go-built binaries): a verified download from a loopback HTTP server, start, build,
// stop, state saved and restored (through our FileStateStore: GitHub's cache service cannot run
// here), and a pool of two runners with platform routing and failover.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { PolicyError } from "../../src/errors.js";
import { resolvePool, type RunnerCandidate } from "../../src/runner/pool.js";
import { startBuildkitd, type StartedRunner } from "../../src/runner/daemon/start.js";
import { stopProcessById } from "../../src/runner/daemon/stop.js";
import { RunnerStartError } from "../../src/runner/errors.js";
import { DownloadError } from "../../src/runner/release/download.js";
import { ensureBuildkitd } from "../../src/runner/release/ensure.js";
import { DirToolStore } from "../../src/runner/release/tool-store.js";
import { isAlive } from "../../src/runner/privilege.js";
import { FileStateStore, startWithState, stateKey, stopAndSave } from "../../src/runner/state.js";
import { parseVersionPin } from "../../src/runner/version-pin.js";
import { parsePlatforms } from "../../src/values.js";
import { formatPlatform } from "../../src/buildkit/index.js";
import { ensureBuildkitBinaries, PINNED_BUILDKIT_VERSION } from "../harness/runner.js";
import { dockerfileBuildArgs } from "../helpers/buildctl.js";
import { makeContext, run } from "../helpers/contexts.js";
import { escapeRegExp } from "../helpers/regex.js";
import { runnerInputNames } from "../../src/job/request.js";
import { inputsOf } from "../helpers/inputs.js";
import { recorder } from "../helpers/reporter.js";
import { listDir } from "../helpers/tree.js";
import { tempDir } from "../helpers/temp.js";

const execFileAsync = promisify(execFile);
/** The runner inputs' names as the CLI's sentences say them. */
const NAMES = runnerInputNames(await inputsOf({}, { adapter: "cli", command: "info" }));
const MINUTE = 60_000;
const VERSION = PINNED_BUILDKIT_VERSION.replace(/^v/, "");
const ARCH = "amd64";

let binDir: string;
let scratch: string;
/** Every runner this file starts, stopped in afterAll() whatever happened. */
const started: StartedRunner[] = [];

beforeAll(async () => {
  binDir = await ensureBuildkitBinaries();
  scratch = tempDir("rb-lifecycle-");
});

afterAll(async () => {
  await Promise.all(started.map((runner) => runner.stop()));
  for (const runner of started)
    assert.equal(isAlive(runner.pid), false, `buildkitd ${runner.pid} still runs`);
});

async function start(stateDir: string, args: string[] = []): Promise<StartedRunner> {
  const runner = await startBuildkitd({
    buildkitd: { path: join(binDir, "buildkitd"), binDir, source: "path" },
    stateDir,
    args,
    reporter: recorder(),
    signal: AbortSignal.timeout(2 * MINUTE),
  });
  started.push(runner);
  return runner;
}

/** buildctl (the reference client) builds `context` with a plain log; returns that log. */
async function buildctl(runner: StartedRunner, context: string): Promise<string> {
  const { stderr } = await execFileAsync(
    join(binDir, "buildctl"),
    ["--addr", runner.endpoint.address, ...dockerfileBuildArgs(context, "--progress", "plain")],
    { timeout: 3 * MINUTE, maxBuffer: 16 * 1024 * 1024 },
  );
  return stderr;
}

describe("downloading a pinned buildkitd", () => {
  let server: Server;
  let base: string;
  let tarball: Buffer;
  let sha256: string;
  const apiRequests: { mode: string; authorization?: string }[] = [];
  const file = `buildkit-v${VERSION}.linux-${ARCH}.tar.gz`;

  beforeAll(async () => {
    // A release-shaped tarball: bin/buildkitd and bin/buildctl, as BuildKit publishes them.
    const release = join(scratch, "release");
    mkdirSync(join(release, "bin"), { recursive: true });
    for (const name of ["buildkitd", "buildctl"])
      copyFileSync(join(binDir, name), join(release, "bin", name));
    const tarPath = join(scratch, file);
    await execFileAsync("tar", ["-czf", tarPath, "-C", release, "bin"], { timeout: 2 * MINUTE });
    tarball = readFileSync(tarPath);
    sha256 = createHash("sha256").update(tarball).digest("hex");

    // /good: tarball and its .sha256; /bad: a wrong .sha256; /hang: never answers; /api/MODE:
    // GitHub's REST answer for the release (assets with their digests, as api.github.com lists
    // them), with the right digest (good), a wrong one (bad), none (nodigest), or a rate limit
    // unless the token is sent (limited); else 404.
    server = createServer((request, response) => {
      const url = request.url ?? "";
      if (url.startsWith("/hang/")) return; // never answers
      const api = /^\/api\/(\w+)\/repos\/moby\/buildkit\/releases\/tags\/v([\d.]+)$/.exec(url);
      if (api) {
        const [, apiMode, version] = api;
        apiRequests.push({ mode: apiMode!, authorization: request.headers.authorization });
        if (apiMode === "limited" && request.headers.authorization !== "Bearer test-token") {
          response.writeHead(403).end(JSON.stringify({ message: "API rate limit exceeded" }));
          return;
        }
        const digest =
          apiMode === "nodigest" ? null : `sha256:${apiMode === "bad" ? "0".repeat(64) : sha256}`;
        response.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            tag_name: `v${version}`,
            assets: [
              {
                name: `buildkit-v${version}.linux-${ARCH}.provenance.json`,
                digest: `sha256:${"1".repeat(64)}`,
              },
              { name: `buildkit-v${version}.linux-${ARCH}.tar.gz`, digest },
            ],
          }),
        );
        return;
      }
      const [, mode] = url.split("/");
      if ((mode === "good" || mode === "bad") && url.endsWith(`/v${VERSION}/${file}`)) {
        response.writeHead(200, { "content-length": tarball.length }).end(tarball);
      } else if (mode === "good" && url.endsWith(`/v${VERSION}/${file}.sha256`)) {
        response.writeHead(200).end(`${sha256}  ${file}\n`);
      } else if (mode === "bad" && url.endsWith(`.sha256`)) {
        response.writeHead(200).end(`${"0".repeat(64)}  ${file}\n`);
      } else {
        response.writeHead(404).end("not found");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const pattern = (mode: string) => `${base}/${mode}/v{version}/buildkit-v{version}.linux-{arch}.tar.gz`;
  const ensure = (
    mode: string,
    store: DirToolStore,
    extra: {
      downloadTimeoutMs?: number;
      version?: string;
      githubApi?: { url?: string; token?: string };
    } = {},
  ) =>
    ensureBuildkitd({
      version: extra.version ?? VERSION,
      arch: ARCH,
      urlPattern: pattern(mode),
      githubApi: extra.githubApi,
      downloadTimeoutMs: extra.downloadTimeoutMs,
      searchPath: false,
      store,
      reporter: recorder(),
      signal: AbortSignal.timeout(2 * MINUTE),
    });

  /** What the cache dir holds besides finished versions: nothing, after a failure. */
  const leftovers = (store: DirToolStore) => listDir(store.root).filter((name) => name.startsWith("."));

  it(
    "verifies the sha256 from the .sha256 file, keeps it, finds it in the cache next time, and starts it",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-good"));
      const first = await ensure("good", store);
      assert.equal(first.source, "download");
      assert.equal(first.path, join(store.root, `buildkit-v${VERSION}`, "bin", "buildkitd"));
      assert.deepEqual(leftovers(store), []);
      const second = await ensure("good", store);
      assert.equal(second.source, "cache");

      const runner = await startBuildkitd({
        buildkitd: second,
        stateDir: join(scratch, "state-downloaded"),
        reporter: recorder(),
        signal: AbortSignal.timeout(2 * MINUTE),
      });
      started.push(runner);
      assert.match(runner.endpoint.address, /^unix:\/\/.*buildkitd\.sock$/);
      await runner.stop();
      assert.equal(isAlive(runner.pid), false);
    },
    5 * MINUTE,
  );

  it(
    "takes the sha256 from GitHub's release listing (the asset's digest) when asked there",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-api-good"));
      // The tarball's mirror has no .sha256 (as BuildKit's releases have none): only the API knows it.
      const found = await ensure("bad", store, {
        githubApi: { url: `${base}/api/good`, token: "test-token" },
      });
      assert.equal(found.source, "download");
      assert.deepEqual(apiRequests.at(-1), { mode: "good", authorization: "Bearer test-token" });
    },
    5 * MINUTE,
  );

  it(
    "refuses a download whose sha256 is not the one GitHub lists",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-api-bad"));
      await assert.rejects(
        ensure("good", store, { githubApi: { url: `${base}/api/bad` } }),
        (error: Error) => {
          assert.ok(error instanceof RunnerStartError);
          assert.match(
            error.message,
            new RegExp(`has sha256 ${sha256}, but 0{64} was expected; it was not used\\.$`),
          );
          return true;
        },
      );
      assert.deepEqual(listDir(store.root), []);
      assert.equal(apiRequests.at(-1)?.authorization, undefined, "no token, no authorization header");
    },
    5 * MINUTE,
  );

  it(
    "says so when GitHub lists no digest, or limits a caller without a token",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-api-none"));
      await assert.rejects(ensure("good", store, { githubApi: { url: `${base}/api/nodigest` } }), {
        message: `GitHub lists no sha256 for ${file} in BuildKit's v${VERSION} release; give the expected sha256 instead.`,
      });
      await assert.rejects(
        ensure("good", store, { githubApi: { url: `${base}/api/limited` } }),
        (error: Error) => {
          assert.match(
            error.message,
            new RegExp(
              `^GitHub's API did not list the sha256 of buildkit-v${escapeRegExp(VERSION)}\\.linux-amd64\\.tar\\.gz \\(http:.*/api/limited/repos/moby/buildkit/releases/tags/v${escapeRegExp(VERSION)}: HTTP 403\\); it limits callers without a token: give a token, or the expected sha256\\.$`,
            ),
          );
          return true;
        },
      );
      assert.deepEqual(leftovers(store), []);
    },
    5 * MINUTE,
  );

  it(
    "refuses a tarball whose sha256 does not match, and keeps nothing",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-bad"));
      await assert.rejects(ensure("bad", store), (error: Error) => {
        assert.ok(error instanceof RunnerStartError);
        assert.match(
          error.message,
          new RegExp(`has sha256 ${sha256}, but 0{64} was expected; it was not used\\.$`),
        );
        return true;
      });
      assert.deepEqual(listDir(store.root), []);
    },
    5 * MINUTE,
  );

  it(
    "gives up on a download that does not answer within the timeout",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-hang"));
      await assert.rejects(ensure("hang", store, { downloadTimeoutMs: 1_000 }), (error: Error) => {
        assert.ok(error instanceof DownloadError);
        assert.match(
          error.message,
          new RegExp(
            `^Downloading BuildKit v${escapeRegExp(VERSION)} from http:.* did not finish within 1 s\\.$`,
          ),
        );
        return true;
      });
      assert.deepEqual(leftovers(store), []);
    },
    5 * MINUTE,
  );

  it(
    "says that a version does not exist (404)",
    async () => {
      const store = new DirToolStore(join(scratch, "cache-missing"));
      await assert.rejects(ensure("good", store, { version: "9.9.9" }), (error: Error) => {
        assert.ok(error instanceof DownloadError);
        assert.match(
          error.message,
          /^BuildKit v9\.9\.9 is not at http:.*buildkit-v9\.9\.9\.linux-amd64\.tar\.gz \(HTTP 404\): no such release, or the mirror does not have it\.$/,
        );
        return true;
      });
      assert.deepEqual(leftovers(store), []);
    },
    5 * MINUTE,
  );
});

describe("a started runner's state kept between runs", () => {
  it("builds, stops, saves; restored into a fresh dir, the same build is CACHED", async () => {
    const store = new FileStateStore(join(scratch, "states"));
    const key = stateKey(VERSION);
    const context = makeContext({
      Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run("echo warm > /warm")].join("\n"),
    });

    const reporter = recorder();
    const startOn = (stateDir: string) =>
      startWithState({ store, key, stateDir, reporter, start: (dir) => start(dir) });
    const first = await startOn(join(scratch, "state-1"));
    assert.equal(first.restored, false);
    const cold = await buildctl(first.runner, context);
    assert.doesNotMatch(cold, /CACHED/);
    await stopAndSave(first.runner, store, key, reporter);
    assert.equal(isAlive(first.runner.pid), false);

    const second = await startOn(join(scratch, "state-2"));
    assert.equal(second.restored, true);
    const warm = await buildctl(second.runner, context);
    assert.match(warm, /RUN \["\/bin\/busybox", "sh", "-c", "echo warm > \/warm"\]\n#\d+ CACHED/);
    await second.runner.stop();
    assert.equal(isAlive(second.runner.pid), false);
  });

  it("stops a detached runner by its pid alone, as the action's post step does", async () => {
    const runner = await startBuildkitd({
      buildkitd: { path: join(binDir, "buildkitd"), binDir, source: "path" },
      stateDir: join(scratch, "state-detached"),
      detached: true,
      reporter: recorder(),
      signal: AbortSignal.timeout(2 * MINUTE),
    });
    started.push(runner);
    await stopProcessById(runner.pid);
    assert.equal(isAlive(runner.pid), false);
    await runner.stop(); // already gone: resolves at once, and removes the socket dir
  });

  it("starts with an empty cache, saying why, when buildkitd cannot start on the restored state", async () => {
    const store = new FileStateStore(join(scratch, "states-corrupt"));
    // A state buildkitd cannot open: its snapshotter directory is a file.
    const corrupt = join(scratch, "corrupt-source");
    mkdirSync(corrupt, { recursive: true });
    writeFileSync(join(corrupt, "runc-overlayfs"), "not a directory");
    await store.save("corrupt", corrupt);

    const reporter = recorder();
    const result = await startWithState({
      store,
      key: "corrupt",
      stateDir: join(scratch, "state-corrupt"),
      reporter,
      start: (dir) => start(dir),
    });
    assert.equal(result.restored, false);
    const warning = reporter.lines.find((line) => line.startsWith("warning: "));
    assert.match(
      warning ?? "",
      /^warning: buildkitd did not start on the restored state corrupt \(buildkitd exited during start \(1\): buildkitd: mkdir .*runc-overlayfs: not a directory\); starting with an empty cache\.$/,
    );
    // The failed daemon is gone; only the fresh one runs.
    assert.equal(started.filter((runner) => isAlive(runner.pid)).length, 1);
    await result.runner.stop();
  });
});

describe("a pool of two runners", () => {
  let amd64: StartedRunner;
  let arm64: StartedRunner;
  const candidate = (runner: StartedRunner, platforms?: string[]): RunnerCandidate => ({
    endpoint: runner.endpoint,
    tls: {},
    platforms: platforms && parsePlatforms(platforms, "platforms"),
  });
  const pool = async (
    candidates: RunnerCandidate[],
    platforms: string[],
    strict = false,
    reporter = recorder(),
  ) =>
    resolvePool(candidates, {
      platforms: parsePlatforms(platforms, "platforms"),
      strict,
      connectTimeoutMs: 3_000,
      allowPlaintext: false,
      versionPin: await parseVersionPin(PINNED_BUILDKIT_VERSION, "--buildkit-version"),
      onVersionMismatch: "error",
      names: NAMES,
      reporter,
      signal: AbortSignal.timeout(MINUTE),
    });

  beforeAll(async () => {
    [amd64, arm64] = await Promise.all([
      start(join(scratch, "pool-amd64"), ["--oci-worker-platform", "linux/amd64"]),
      start(join(scratch, "pool-arm64"), ["--oci-worker-platform", "linux/arm64"]),
    ]);
  });

  it("gives each started runner its own trace socket, so two start side by side", () => {
    // buildkitd's default /run/buildkit/otel-grpc.sock is removed and re-bound by each daemon:
    // two starting at once failed with "address already in use" in CI.
    for (const runner of [amd64, arm64]) {
      assert.ok(existsSync(join(runner.runtimeDir, "otel-grpc.sock")), runner.runtimeDir);
    }
  });

  it("gives each started runner its runtime dir as TMPDIR, so what buildkitd leaves there goes when it stops", () => {
    // buildkitd leaves an empty .buildkit-ssh-sock* directory in its TMPDIR for every SSH mount.
    for (const runner of [amd64, arm64]) {
      const environment = readFileSync(`/proc/${runner.pid}/environ`, "utf8").split("\0");
      assert.ok(environment.includes(`TMPDIR=${runner.runtimeDir}`), environment.join(" "));
    }
  });

  it("routes each platform to the runner that builds it natively", async () => {
    // Preference order puts arm64 first: amd64 still goes to the amd64 runner.
    const resolved = await pool([candidate(arm64), candidate(amd64)], ["linux/amd64", "linux/arm64"]);
    try {
      assert.deepEqual(
        resolved.assignments.map((a) => [
          a.platform && formatPlatform(a.platform),
          a.runner.info.endpoint,
          a.native,
        ]),
        [
          ["linux/amd64", amd64.endpoint.address, true],
          ["linux/arm64", arm64.endpoint.address, true],
        ],
      );
      assert.equal(
        resolved.summary,
        `chose ${amd64.endpoint.address} for linux/amd64: native; chose ${arm64.endpoint.address} for linux/arm64: native`,
      );
    } finally {
      resolved.close();
    }
  });

  it("lets declared platforms override what the workers report, and closes the runners not chosen", async () => {
    const resolved = await pool([candidate(arm64), candidate(amd64, ["linux/arm64"])], ["linux/arm64"]);
    resolved.close();
    assert.equal(resolved.assignments[0]!.runner.info.endpoint, arm64.endpoint.address);
    assert.equal(new Set(resolved.assignments.map((assignment) => assignment.runner)).size, 1);
  });

  it("with no platform, takes the first healthy runner's default", async () => {
    const resolved = await pool([candidate(arm64), candidate(amd64)], []);
    resolved.close();
    assert.equal(
      resolved.summary,
      `chose ${arm64.endpoint.address} for its default platform (linux/arm64): first healthy runner`,
    );
  });

  it("fails over when a runner is down: the other one builds, and the log says why", async () => {
    await amd64.stop();
    const reporter = recorder();
    const resolved = await pool([candidate(amd64), candidate(arm64)], ["linux/amd64"], false, reporter);
    try {
      const [assignment] = resolved.assignments;
      assert.equal(assignment!.runner.info.endpoint, arm64.endpoint.address);
      assert.equal(assignment!.native, false);
      assert.match(
        resolved.summary,
        new RegExp(
          `^${escapeRegExp(amd64.endpoint.address)}: down \\(there is no runner socket at ${escapeRegExp(amd64.endpoint.address)} \\(no such file\\)\\); ` +
            `chose ${escapeRegExp(arm64.endpoint.address)} for linux/amd64: no healthy runner builds it natively, so it is emulated on the first healthy runner$`,
        ),
      );
      assert.ok(
        reporter.lines.some((line) =>
          line.startsWith(`warning: Skipping runner ${amd64.endpoint.address}: down (`),
        ),
      );
      // The build still succeeds on the runner that is up.
      const log = await buildctl(
        arm64,
        makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" }),
      );
      assert.match(log, /DONE/);
    } finally {
      resolved.close();
    }
  });

  it("in strict mode, fails with one sentence when a platform has no native runner", async () => {
    await assert.rejects(
      pool([candidate(amd64), candidate(arm64)], ["linux/amd64"], true),
      (error: Error) => {
        assert.ok(error instanceof PolicyError);
        assert.equal(
          error.message,
          `No healthy runner builds linux/amd64 natively, and strict platform routing forbids emulation; healthy runners: ${arm64.endpoint.address} (linux/arm64).`,
        );
        return true;
      },
    );
  });

  it("skips a runner that misses the version pin", async () => {
    await assert.rejects(
      resolvePool([candidate(arm64)], {
        connectTimeoutMs: 3_000,
        allowPlaintext: false,
        versionPin: await parseVersionPin("<0.30", "--buildkit-version"),
        onVersionMismatch: "error",
        names: NAMES,
        reporter: recorder(),
        signal: AbortSignal.timeout(MINUTE),
      }),
      PolicyError,
    );
  });
});
