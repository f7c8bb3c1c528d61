// Rendezvous ranking: stable, spread evenly, and removing a runner moves only the keys it had;
// the default affinity key; max-parallelism in the pool configuration.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { InputError } from "../../src/errors.js";
import { defaultAffinityKey, rankByAffinity, rendezvousWeight } from "../../src/runner/affinity.js";
import { parseRunnerList, runnersFromIndexedEnv } from "../../src/runner/pool-config.js";
import { inputsOf } from "../helpers/inputs.js";

const RUNNERS = ["amd64-a", "amd64-b", "amd64-c", "amd64-d"];
const KEYS = Array.from({ length: 1000 }, (_, index) => `github.com/org/project-${index}|Dockerfile|`);
const identity = (name: string) => name;
const owner = (key: string, runners: readonly string[]) => rankByAffinity(key, runners, identity)[0]!;

describe("rendezvous ranking", () => {
  it("ranks the same way every time and whatever the order the runners are given in", () => {
    for (const key of KEYS.slice(0, 100)) {
      const ranking = rankByAffinity(key, RUNNERS, identity);
      assert.deepEqual(rankByAffinity(key, RUNNERS, identity), ranking);
      assert.deepEqual(rankByAffinity(key, [...RUNNERS].reverse(), identity), ranking);
      assert.deepEqual([...ranking].sort(), [...RUNNERS].sort());
    }
    // A fixed hash, not a per-process seed: the same key goes to the same runner on every machine.
    assert.equal(rendezvousWeight("k", "r"), rendezvousWeight("k", "r"));
    assert.notEqual(rendezvousWeight("k", "r"), rendezvousWeight("r", "k"));
  });

  it("spreads 1,000 keys evenly over four runners", () => {
    const counts = new Map<string, number>();
    for (const key of KEYS) counts.set(owner(key, RUNNERS), (counts.get(owner(key, RUNNERS)) ?? 0) + 1);
    assert.equal(counts.size, RUNNERS.length);
    // A quarter is 250; a fair hash stays well within ±25% of it.
    for (const [runner, count] of counts)
      assert.ok(count > 187 && count < 313, `${runner} has ${count} keys`);
  });

  it("moves only the removed runner's keys, and spreads them over the others", () => {
    const before = new Map(KEYS.map((key) => [key, owner(key, RUNNERS)]));
    const removed = "amd64-b";
    const remaining = RUNNERS.filter((runner) => runner !== removed);
    let moved = 0;
    const movedTo = new Set<string>();
    for (const key of KEYS) {
      const now = owner(key, remaining);
      if (now === before.get(key)) continue;
      moved++;
      movedTo.add(now);
      // Every key that moved was on the removed runner; none of the others' keys moved.
      assert.equal(before.get(key), removed);
    }
    const hadRemoved = [...before.values()].filter((runner) => runner === removed).length;
    assert.equal(moved, hadRemoved);
    // About a quarter of the keys: the removed runner's share, not a reshuffle.
    assert.ok(moved / KEYS.length > 0.18 && moved / KEYS.length < 0.32, `moved ${moved} of 1000`);
    assert.deepEqual([...movedTo].sort(), remaining);
  });

  it("moves to a new runner about its share, and only to it", () => {
    const added = [...RUNNERS, "amd64-e"];
    let moved = 0;
    for (const key of KEYS) {
      const now = owner(key, added);
      if (now === owner(key, RUNNERS)) continue;
      moved++;
      assert.equal(now, "amd64-e");
    }
    assert.ok(moved / KEYS.length > 0.14 && moved / KEYS.length < 0.26, `moved ${moved} of 1000`);
  });
});

describe("the default affinity key", () => {
  const base = { cwd: "/home/runner/work/app/app", contextDir: "/home/runner/work/app/app/web" };

  it("is the repository, the Dockerfile relative to the working directory, and the target", () => {
    const key = defaultAffinityKey({
      ...base,
      env: { GITHUB_REPOSITORY: "org/app" },
      dockerfile: "/home/runner/work/app/app/web/Dockerfile",
      target: "release",
    });
    assert.equal(key, "org/app|web/Dockerfile|release");
    // The same checkout elsewhere: the same key.
    const moved = defaultAffinityKey({
      cwd: "/builds/x",
      contextDir: "/builds/x/web",
      env: { GITHUB_REPOSITORY: "org/app" },
      dockerfile: "web/Dockerfile",
      target: "release",
    });
    assert.equal(moved, key);
  });

  it("takes GitLab's project path, else the context's absolute path", () => {
    const gitlab = defaultAffinityKey({
      ...base,
      env: { CI_PROJECT_PATH: "group/app" },
      dockerfile: "Dockerfile",
    });
    assert.equal(gitlab, "group/app|Dockerfile|");
    const local = defaultAffinityKey({ ...base, env: {}, dockerfile: "web/Dockerfile" });
    assert.equal(local, "/home/runner/work/app/app/web|/home/runner/work/app/app/web/Dockerfile|");
  });

  it("differs between targets and Dockerfiles of one repository", () => {
    const key = (dockerfile: string, target?: string) =>
      defaultAffinityKey({ ...base, env: { GITHUB_REPOSITORY: "org/app" }, dockerfile, target });
    assert.notEqual(key("Dockerfile", "a"), key("Dockerfile", "b"));
    assert.notEqual(key("a/Dockerfile"), key("b/Dockerfile"));
  });
});

describe("max-parallelism in the pool configuration", () => {
  const source = { label: "BUILDKIT_RUNNERS", baseDir: "/" };

  it("reads it from the list and from BUILDKIT_RUNNER_<i>_MAX_PARALLELISM", async () => {
    const [a, b] = await parseRunnerList(
      "- name: a\n  endpoint: tcp://a:1\n  max-parallelism: 4\n- endpoint: tcp://b:1\n",
      source,
    );
    assert.equal(a!.maxParallelism, 4);
    assert.equal(b!.maxParallelism, undefined);
    const [c] = runnersFromIndexedEnv({
      BUILDKIT_RUNNER_1_ENDPOINT: "tcp://c:1",
      BUILDKIT_RUNNER_1_MAX_PARALLELISM: "2",
    });
    assert.equal(c!.maxParallelism, 2);
  });

  it("refuses what is not a whole number of builds, naming the runner and the field", async () => {
    for (const value of ["0", "-1", "1.5", "many"]) {
      await assert.rejects(
        () => parseRunnerList(`- name: a\n  endpoint: tcp://a:1\n  max-parallelism: ${value}\n`, source),
        (error: unknown) =>
          error instanceof InputError &&
          error.message ===
            `Runner 1 ("a") in BUILDKIT_RUNNERS, max-parallelism is "${value}"; give a whole number of builds, 1 or more.`,
      );
    }
    assert.throws(
      () =>
        runnersFromIndexedEnv({
          BUILDKIT_RUNNER_2_ENDPOINT: "tcp://c:1",
          BUILDKIT_RUNNER_2_MAX_PARALLELISM: "x",
        }),
      (error: unknown) =>
        error instanceof InputError &&
        error.message ===
          'BUILDKIT_RUNNER_2_MAX_PARALLELISM is "x"; give a whole number of builds, 1 or more.',
    );
  });
});

describe("the fleet's inputs", () => {
  it("default to affinity routing, a 5-minute wait and no fallback", async () => {
    const { values } = await inputsOf({});
    assert.equal(values.routing, "affinity");
    assert.equal(values.affinityKey, undefined);
    assert.equal(values.busyTimeoutMs, 300_000);
    assert.equal(values.fallback, "none");
    const cli = (
      await inputsOf(
        { routing: "Ordered", affinityKey: " team/app ", busyTimeoutMs: "90s", fallback: "local" },
        { adapter: "cli" },
      )
    ).values;
    assert.deepEqual(
      [cli.routing, cli.affinityKey, cli.busyTimeoutMs, cli.fallback],
      ["ordered", "team/app", 90_000, "local"],
    );
  });

  it("refuse a value they do not take, in one sentence naming the input", async () => {
    const refused = (given: Parameters<typeof inputsOf>[0], adapter: "action" | "cli", message: string) =>
      assert.rejects(
        () => inputsOf(given, { adapter }),
        (error: unknown) => error instanceof InputError && error.message === message,
      );
    await refused({ routing: "random" }, "action", 'input routing is "random"; use affinity or ordered.');
    await refused({ routing: "random" }, "cli", '--routing is "random"; use affinity or ordered.');
    await refused({ fallback: "remote" }, "action", 'input fallback is "remote"; use none or local.');
    await refused(
      { busyTimeoutMs: "soon" },
      "cli",
      '--busy-timeout is "soon"; give a positive duration such as 30s, 1500ms, 2m or 1h.',
    );
  });
});
