import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ConnectionError } from "../../src/buildkit/errors.js";
import { parseEndpoint } from "../../src/buildkit/endpoint.js";
import { InputError } from "../../src/errors.js";
import { formatPlatform, parsePlatform } from "../../src/buildkit/platform.js";
import { nativePlatformsOf, resolvePool } from "../../src/runner/pool.js";
import { listItems, parsePlatforms } from "../../src/values.js";

/** A platform's text as BuildKit compares it. */
const normalizePlatform = (text: string) => formatPlatform(parsePlatform(text)!);
/** A platforms input's text, checked and normalized without repeats. */
const parsePlatformList = (text: string, name: string) =>
  parsePlatforms(listItems([text], ","), name).map(formatPlatform);
import {
  releaseArch,
  releaseUrl,
  versionToStart,
  DEFAULT_RELEASE_URL,
} from "../../src/runner/release/versions.js";
import { FileStateStore, StateError, stateKey, startWithState } from "../../src/runner/state.js";
import { parseVersionPin } from "../../src/runner/version-pin.js";
import { runnerInputNames } from "../../src/job/request.js";
import { inputsOf } from "../helpers/inputs.js";

/** The runner inputs' names as the CLI's sentences say them. */
const NAMES = runnerInputNames(await inputsOf({}, { adapter: "cli", command: "info" }));
/** BUILDKIT_HOST as the CLI reads it. */
const parseEndpointList = async (text: string) =>
  (await inputsOf({}, { adapter: "cli", command: "info", env: { BUILDKIT_HOST: text } })).values.endpoint;
import { recorder } from "../helpers/reporter.js";
import { listDir } from "../helpers/tree.js";
import { tempDir } from "../helpers/temp.js";
import { BUILDKIT_VERSION } from "../../src/version.js";

const scratch = tempDir("rb-pool-unit-");

describe("pool inputs", () => {
  it("splits BUILDKIT_HOST on commas, in order", async () => {
    const list = await parseEndpointList(" tcp://a:1, unix:///run/b.sock ,,tcp://c:3");
    assert.deepEqual(
      list.map((e) => e.address),
      ["tcp://a:1", "unix:///run/b.sock", "tcp://c:3"],
    );
  });

  it("normalizes platforms the way BuildKit compares them", () => {
    assert.equal(normalizePlatform("linux/arm64/v8"), "linux/arm64");
    assert.equal(normalizePlatform("Linux/x86_64"), "linux/amd64");
    assert.equal(normalizePlatform("linux/arm"), "linux/arm/v7");
    assert.deepEqual(parsePlatformList("linux/amd64, linux/arm64/v8,linux/amd64", "platforms"), [
      "linux/amd64",
      "linux/arm64",
    ]);
    assert.throws(() => parsePlatformList("linux", "platforms"), InputError);
  });

  it("counts a worker's own architecture family as native, not what QEMU adds", () => {
    const runner = {
      client: undefined as never,
      info: {
        endpoint: "tcp://a:1",
        version: undefined,
        platforms: [],
        workers: [
          {
            id: "w",
            labels: {},
            platforms: ["linux/amd64", "linux/amd64/v2", "linux/386", "linux/arm64", "linux/riscv64"],
          },
        ],
      },
    };
    const native = (declared?: string[]) =>
      nativePlatformsOf(
        runner,
        declared?.map((text) => parsePlatform(text)!),
      ).map(formatPlatform);
    assert.deepEqual(native(undefined), ["linux/amd64", "linux/amd64/v2", "linux/386"]);
    assert.deepEqual(native(["linux/arm64/v8"]), ["linux/arm64"]);
  });
});

describe("resolvePool without a reachable runner", () => {
  it("skips each down runner with its reason and fails with one sentence", async () => {
    const reporter = recorder();
    const candidates = ["a", "b"].map((name) => ({
      endpoint: parseEndpoint(`unix://${join(scratch, `${name}.sock`)}`),
      tls: {},
    }));
    await assert.rejects(
      resolvePool(candidates, {
        connectTimeoutMs: 2_000,
        allowPlaintext: false,
        onVersionMismatch: "error",
        names: NAMES,
        reporter,
      }),
      (error: Error) => {
        assert.ok(error instanceof ConnectionError);
        assert.match(error.message, /^No runner of unix:\/\/.*a\.sock, unix:\/\/.*b\.sock is usable: /);
        return true;
      },
    );
    assert.equal(
      reporter.lines.filter((line) => /^warning: Skipping runner .*: down \(/.test(line)).length,
      2,
    );
  });

  it("refuses plaintext to a remote host before connecting to any", async () => {
    await assert.rejects(
      resolvePool([{ endpoint: parseEndpoint("tcp://build.example:1234"), tls: {} }], {
        connectTimeoutMs: 1_000,
        allowPlaintext: false,
        onVersionMismatch: "error",
        names: NAMES,
        reporter: recorder(),
      }),
      InputError,
    );
  });
});

describe("start inputs", () => {
  it("fills the release URL pattern", () => {
    assert.equal(
      releaseUrl(DEFAULT_RELEASE_URL, "v0.32.2", "arm64"),
      "https://github.com/moby/buildkit/releases/download/v0.32.2/buildkit-v0.32.2.linux-arm64.tar.gz",
    );
    assert.equal(releaseArch("x64"), "amd64");
    assert.equal(releaseArch("arm"), "arm-v7");
  });

  it("starts the exact pin, or the default version when a range allows it", async () => {
    assert.equal(versionToStart(undefined, "pin"), BUILDKIT_VERSION);
    assert.equal(versionToStart(await parseVersionPin("v0.31.1", "pin"), "pin"), "0.31.1");
    assert.equal(versionToStart(await parseVersionPin(">=0.30 <0.33", "pin"), "pin"), BUILDKIT_VERSION);
    const excluding = await parseVersionPin("<0.30", "pin");
    assert.throws(() => versionToStart(excluding, "pin"), InputError);
  });

  it("keys the state by version, OS and architecture", () => {
    assert.equal(stateKey("v0.32.2", "linux", "amd64"), "buildkit-state-v0.32.2-linux-amd64");
  });
});

describe("FileStateStore", () => {
  it("saves and restores a directory, and says false when nothing is saved", async () => {
    const store = new FileStateStore(join(scratch, "store"));
    const source = join(scratch, "state-a");
    mkdirSync(join(source, "sub"), { recursive: true });
    writeFileSync(join(source, "sub", "file"), "content");
    await store.save("k1", source);
    const target = join(scratch, "state-b");
    assert.equal(await store.restore("nothing", target), false);
    assert.equal(await store.restore("k1", target), true);
    assert.equal(readFileSync(join(target, "sub", "file"), "utf8"), "content");
  });

  it("says so in one sentence when the saved tarball is corrupt, and leaves the dir empty", async () => {
    const root = join(scratch, "corrupt-store");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "bad.tar"), "this is not a tarball at all".repeat(40));
    const store = new FileStateStore(root);
    const target = join(scratch, "state-c");
    await assert.rejects(store.restore("bad", target), (error: Error) => {
      assert.ok(error instanceof StateError);
      assert.match(error.message, /^The saved runner state .*bad\.tar cannot be extracted: .+\.$/);
      return true;
    });
    assert.equal(existsSync(join(target, "sub")), false);

    // startWithState turns it into a warning and starts on an empty dir.
    const reporter = recorder();
    let startedOn: string[] | undefined;
    const started = await startWithState({
      store,
      key: "bad",
      stateDir: target,
      reporter,
      start: async (dir) => {
        startedOn = listDir(dir);
        return { stateDir: dir } as never;
      },
    });
    assert.equal(started.restored, false);
    assert.deepEqual(startedOn, []);
    assert.ok(
      reporter.lines.some((line) =>
        /^warning: .*cannot be extracted.*Starting with an empty cache\.$/.test(line),
      ),
    );
  });
});
