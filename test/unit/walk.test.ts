import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { chmodSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MODE_DIR, MODE_SYMLINK } from "../../src/buildkit/context/stat.js";
import {
  walkContext,
  type StandInFile,
  type WalkEntry,
  type WalkFilter,
} from "../../src/buildkit/context/walk.js";
import { tempDir } from "../helpers/temp.js";

const NO_FILTER: WalkFilter = { includePatterns: [], excludePatterns: [], followPaths: [] };

async function walk(
  root: string,
  filter: WalkFilter = NO_FILTER,
  standIn?: StandInFile,
): Promise<WalkEntry[]> {
  const entries: WalkEntry[] = [];
  for await (const entry of walkContext(root, filter, standIn)) entries.push(entry);
  return entries;
}

function tree(): string {
  const root = tempDir("rb-walk-");
  mkdirSync(join(root, "a"));
  writeFileSync(join(root, "a", "x"), "x");
  writeFileSync(join(root, "a.txt"), "hello");
  writeFileSync(join(root, "B"), "");
  mkdirSync(join(root, "empty"));
  symlinkSync("../outside/target", join(root, "link"));
  linkSync(join(root, "a.txt"), join(root, "z-hardlink"));
  chmodSync(join(root, "a.txt"), 0o640);
  utimesSync(join(root, "B"), 1_000, 1_700_000_000.5);
  return root;
}

describe("walkContext", () => {
  it("walks depth-first with names sorted bytewise, a directory before its contents", async () => {
    const paths = (await walk(tree())).map((entry) => entry.path);
    assert.deepEqual(paths, ["B", "a", "a/x", "a.txt", "empty", "link", "z-hardlink"]);
  });

  it("sends Go file modes, symlinks as links and later hard links as links to the first", async () => {
    const entries = new Map((await walk(tree())).map((entry) => [entry.path, entry]));
    assert.equal(entries.get("a")!.mode, MODE_DIR + 0o755);
    assert.equal(entries.get("a")!.size, 0n);
    assert.equal(entries.get("a.txt")!.mode, 0o640);
    assert.equal(entries.get("a.txt")!.hasContent, true);
    assert.equal(entries.get("link")!.mode, MODE_SYMLINK + 0o777);
    assert.equal(entries.get("link")!.linkname, "../outside/target");
    assert.equal(entries.get("link")!.hasContent, false);
    assert.equal(entries.get("z-hardlink")!.linkname, "a.txt");
    assert.equal(entries.get("z-hardlink")!.hasContent, false);
    assert.equal(entries.get("B")!.modTimeNs, 1_700_000_000_500_000_000n);
  });

  it("drops excluded entries and sends the parents of re-included ones first", async () => {
    const root = tree();
    const paths = (await walk(root, { ...NO_FILTER, excludePatterns: ["a", "!a/x", "*.txt", "z-*"] })).map(
      (e) => e.path,
    );
    assert.deepEqual(paths, ["B", "a", "a/x", "empty", "link"]);
  });

  it("keeps only what include patterns and followpaths name, with their parents", async () => {
    const root = tree();
    const paths = (await walk(root, { ...NO_FILTER, followPaths: ["a/x"] })).map((e) => e.path);
    assert.deepEqual(paths, ["a", "a/x"]);
  });

  describe("a stand-in file", () => {
    function source(content: string): string {
      const dir = tempDir("rb-walk-source-");
      writeFileSync(join(dir, ".dockerignore"), content);
      chmodSync(join(dir, ".dockerignore"), 0o600);
      utimesSync(join(dir, ".dockerignore"), 1_000, 1_600_000_000.25);
      return join(dir, ".dockerignore");
    }

    it("is walked at the top in name order, with its source's metadata", async () => {
      const standIn = { name: "Dockerfile.dockerignore", source: source("*.log\n") };
      const entries = await walk(tree(), NO_FILTER, standIn);
      assert.deepEqual(
        entries.map((entry) => entry.path),
        ["B", "Dockerfile.dockerignore", "a", "a/x", "a.txt", "empty", "link", "z-hardlink"],
      );
      const entry = entries[1]!;
      assert.equal(entry.absolutePath, standIn.source);
      assert.equal(entry.mode, 0o600);
      assert.equal(entry.size, 6n);
      assert.equal(entry.modTimeNs, 1_600_000_000_250_000_000n);
      assert.equal(entry.hasContent, true);
      assert.equal(entry.standIn, "source");
    });

    it("is kept or left out by the walk's patterns, as a file there would be", async () => {
      const standIn = { name: "Dockerfile.dockerignore", source: source("") };
      const followed = await walk(tree(), { ...NO_FILTER, followPaths: ["a.txt", standIn.name] }, standIn);
      assert.deepEqual(
        followed.map((entry) => entry.path),
        ["Dockerfile.dockerignore", "a.txt"],
      );
      const other = await walk(tree(), { ...NO_FILTER, followPaths: ["a.txt"] }, standIn);
      assert.deepEqual(
        other.map((entry) => entry.path),
        ["a.txt"],
      );
      const excluded = await walk(tree(), { ...NO_FILTER, excludePatterns: ["*.dockerignore"] }, standIn);
      assert.ok(!excluded.some((entry) => entry.path === standIn.name));
    });

    it("is an empty file with nothing behind it when its source does not exist", async () => {
      const missing = join(tempDir("rb-walk-none-"), ".dockerignore");
      const entries = await walk(tree(), NO_FILTER, { name: "app.Dockerfile.dockerignore", source: missing });
      const entry = entries.find((candidate) => candidate.path === "app.Dockerfile.dockerignore")!;
      assert.equal(entry.standIn, "empty");
      assert.equal(entry.absolutePath, "");
      assert.equal(entry.mode, 0o644);
      assert.equal(entry.size, 0n);
      assert.equal(entry.hasContent, true);
    });

    it("gives way to an entry of its name in the directory", async () => {
      const root = tree();
      writeFileSync(join(root, "Dockerfile.dockerignore"), "the user's own\n");
      const entries = await walk(root, NO_FILTER, { name: "Dockerfile.dockerignore", source: source("x\n") });
      const named = entries.filter((entry) => entry.path === "Dockerfile.dockerignore");
      assert.equal(named.length, 1);
      assert.equal(named[0]!.absolutePath, join(root, "Dockerfile.dockerignore"));
    });

    it("is not there when its source is a symlink or a directory", async () => {
      const dir = tempDir("rb-walk-link-");
      writeFileSync(join(dir, "target"), "*.log\n");
      symlinkSync("target", join(dir, ".dockerignore"));
      mkdirSync(join(dir, "a-dir"));
      for (const source of [join(dir, ".dockerignore"), join(dir, "a-dir")]) {
        const entries = await walk(tree(), NO_FILTER, { name: "Dockerfile.dockerignore", source });
        assert.ok(!entries.some((entry) => entry.path === "Dockerfile.dockerignore"), source);
      }
    });
  });
});
