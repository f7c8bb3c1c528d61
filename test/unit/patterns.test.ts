import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { PatternMatcher } from "../../src/buildkit/context/patterns.js";

function matcher(...patterns: string[]): PatternMatcher {
  return new PatternMatcher(patterns);
}

describe("PatternMatcher (.dockerignore semantics)", () => {
  it("matches a name and everything below it", () => {
    const m = matcher("node_modules");
    assert.equal(m.matches("node_modules"), true);
    assert.equal(m.matches("node_modules/a/b.js"), true);
    assert.equal(m.matches("src/node_modules"), false);
  });

  it("keeps * and ? inside one directory level", () => {
    const m = matcher("*.log", "a?c");
    assert.equal(m.matches("x.log"), true);
    assert.equal(m.matches("dir/x.log"), false);
    assert.equal(m.matches("abc"), true);
    assert.equal(m.matches("a/c"), false);
  });

  it("lets ** cross directories, at the start, middle and end", () => {
    assert.equal(matcher("**/*.tmp").matches("a/b/c.tmp"), true);
    assert.equal(matcher("**/*.tmp").matches("c.tmp"), true);
    assert.equal(matcher("a/**/z").matches("a/z"), true);
    assert.equal(matcher("a/**/z").matches("a/b/c/z"), true);
    assert.equal(matcher("a/**").matches("a/b/c"), true);
    assert.equal(matcher("a/**").matches("ab"), false);
  });

  it("lets the last matching pattern win, with ! exceptions", () => {
    const m = matcher("*.md", "!README.md", "docs");
    assert.equal(m.matches("CHANGES.md"), true);
    assert.equal(m.matches("README.md"), false);
    assert.equal(m.matches("docs/README.md"), true);
    assert.equal(m.hasExclusions, true);
  });

  it("re-includes a file inside an excluded directory", () => {
    const m = matcher("build", "!build/keep.txt");
    assert.equal(m.matches("build/other.txt"), true);
    assert.equal(m.matches("build/keep.txt"), false);
  });

  it("cleans patterns as moby does", () => {
    assert.equal(matcher("/abs").matches("abs"), true);
    assert.equal(matcher("./dir/../file").matches("file"), true);
    assert.equal(matcher("dir/").matches("dir/x"), true);
  });

  it("treats regex characters and escapes literally", () => {
    assert.equal(matcher("a+b(c).txt").matches("a+b(c).txt"), true);
    assert.equal(matcher("a.txt").matches("abtxt"), false);
    assert.equal(matcher("\\*star").matches("*star"), true);
    assert.equal(matcher("\\*star").matches("xstar"), false);
    assert.equal(matcher("[ab].txt").matches("b.txt"), true);
  });

  it("matches names with spaces and non-ASCII characters", () => {
    assert.equal(matcher("my file*").matches("my file (1).txt"), true);
    assert.equal(matcher("données/é?").matches("données/éa"), true);
  });

  it("refuses a lone !", () => {
    assert.throws(() => matcher("!"), /Illegal exclusion pattern "!"/);
  });

  it("knows which directories an include pattern can reach into", () => {
    const m = matcher("src/app/Dockerfile", "**/*.go");
    assert.equal(m.couldMatchInside("src"), true);
    assert.equal(m.couldMatchInside("src/app"), true);
    assert.equal(m.couldMatchInside("docs"), true); // through **
    assert.equal(matcher("src/app/Dockerfile").couldMatchInside("docs"), false);
    assert.equal(matcher("src/app/Dockerfile").couldMatchInside("src/app/Dockerfile"), false);
  });

  it("gives the same answers for many named paths with and without an exception among them", () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `dir/f${i}.txt`);
    // No exception: named paths are looked up in sets. An exception that matches nothing here
    // sends the same patterns through the one-by-one path; the answers must agree.
    const fast = new PatternMatcher([...names, "*.md"]);
    const general = new PatternMatcher([...names, "*.md", "!never-matches"]);
    for (const path of [
      "dir/f0.txt",
      "dir/f9999.txt",
      "dir/f10000.txt",
      "dir",
      "README.md",
      "dir/f1.txt/x",
      "other",
    ]) {
      assert.equal(fast.matches(path), general.matches(path), path);
    }
    assert.equal(fast.matches("dir/f9999.txt"), true);
    assert.equal(fast.matches("dir/f10000.txt"), false);
    assert.equal(fast.matches("dir/f1.txt/inside"), true);
    assert.equal(fast.couldMatchInside("dir"), true);
    assert.equal(fast.couldMatchInside("other"), false);
    assert.equal(general.couldMatchInside("dir"), true);
  });
});
