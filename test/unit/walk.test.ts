import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { chmodSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MODE_DIR, MODE_SYMLINK } from "../../src/buildkit/context/stat.js";
import { walkContext, type WalkEntry, type WalkFilter } from "../../src/buildkit/context/walk.js";
import { tempDir } from "../helpers/temp.js";

const NO_FILTER: WalkFilter = { includePatterns: [], excludePatterns: [], followPaths: [] };

async function walk(root: string, filter: WalkFilter = NO_FILTER): Promise<WalkEntry[]> {
  const entries: WalkEntry[] = [];
  for await (const entry of walkContext(root, filter)) entries.push(entry);
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
});
