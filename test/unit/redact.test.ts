import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { Redactor } from "../../src/report/redact.js";

/** Feeds `chunks` through a fresh redactor and returns everything it printed. */
function stream(secrets: string[], chunks: string[]): string {
  const redactor = new Redactor(secrets);
  return chunks.map((chunk) => redactor.push(chunk)).join("") + redactor.flush();
}

/** Every way to cut `input` in two and in three pieces gives the same output. */
function assertSplitInvariant(secrets: string[], input: string, expected: string): void {
  assert.equal(stream(secrets, [input]), expected, "whole");
  for (let i = 0; i <= input.length; i++) {
    assert.equal(stream(secrets, [input.slice(0, i), input.slice(i)]), expected, `cut at ${i}`);
    for (let j = i; j <= input.length; j++) {
      const pieces = [input.slice(0, i), input.slice(i, j), input.slice(j)];
      assert.equal(stream(secrets, pieces), expected, `cut at ${i} and ${j}`);
    }
  }
  const characters = [...input];
  assert.equal(stream(secrets, characters), expected, "one character at a time");
}

describe("Redactor", () => {
  it("replaces every occurrence of every secret", () => {
    const redactor = new Redactor(["hunter2", "s3cr3t"]);
    assert.equal(redactor.redact("pw=hunter2 token=s3cr3t again hunter2"), "pw=*** token=*** again ***");
  });

  it("passes text through unchanged without secrets, and ignores empty ones", () => {
    assert.equal(stream([], ["a", "b"]), "ab");
    assert.equal(stream([""], ["abc"]), "abc");
  });

  it("hides a value split across chunks, wherever it is cut", () => {
    assertSplitInvariant(["hunter2"], "#5 0.1 hunter2\n#5 0.2 hunte\n", "#5 0.1 ***\n#5 0.2 hunte\n");
  });

  it("hides the union of overlapping values, leaving no part of either", () => {
    // Greedy leftmost replacement would print "***cdef" and show most of "bcdef".
    assertSplitInvariant(["ab", "bcdef"], "xabcdefx", "x***x");
    assertSplitInvariant(["abc", "bcd"], "abcd abc bcd", "*** *** ***");
    assertSplitInvariant(["secret", "secretive"], "a secretive secret", "a *** ***");
  });

  it("keeps touching occurrences apart and repeated ones hidden", () => {
    assertSplitInvariant(["ab"], "abab-aab", "******-a***");
    assertSplitInvariant(["aa"], "aaa", "***");
  });

  it("holds back only a tail that could still become a secret", () => {
    const redactor = new Redactor(["password123"]);
    assert.equal(redactor.push("line one\n"), "line one\n");
    assert.equal(redactor.push("say pass"), "say ");
    assert.equal(redactor.push("port\n"), "passport\n");
    assert.equal(redactor.push("x password1"), "x ");
    assert.equal(redactor.flush(), "password1");
  });

  it("never holds back more than the longest secret's length minus one", () => {
    const redactor = new Redactor(["abcdef", "ab"]);
    const printed = redactor.push("zzzzabcde");
    assert.ok("zzzzabcde".length - printed.length <= 5);
    assert.equal(printed + redactor.flush(), "zzzz***cde");
  });

  it("also masks each line of a multi-line secret, but not short lines alone", () => {
    const redactor = new Redactor(["{\n  first-line\n  second-line\n}"]);
    assert.equal(
      redactor.redact("#7 0.1 {\n#7 0.1   first-line\n#7 0.1   second-line\n"),
      "#7 0.1 {\n#7 0.1   ***\n#7 0.1   ***\n",
    );
  });

  it("learns secrets added while streaming", () => {
    const redactor = new Redactor();
    assert.equal(redactor.push("tok"), "tok");
    redactor.add("token-value");
    assert.equal(redactor.push("en-value token-value"), "en-value ***");
  });

  it("gives the same output for random texts and secrets however the text is chunked", () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = (length: number) => Array.from({ length }, () => "abc"[random(3)]).join("");
    for (let round = 0; round < 300; round++) {
      const secrets = Array.from({ length: 1 + random(3) }, () => word(1 + random(5)));
      const input = word(random(30));
      const expected = new Redactor(secrets).redact(input);
      for (const secret of secrets) assert.ok(!expected.includes(secret), `${secret} in ${expected}`);
      const chunks: string[] = [];
      for (let rest = input; rest !== "";) {
        const length = random(rest.length + 1);
        chunks.push(rest.slice(0, length));
        rest = rest.slice(length);
      }
      assert.equal(stream(secrets, chunks), expected, `${JSON.stringify(secrets)} ${JSON.stringify(chunks)}`);
    }
  });

  it("releases a streamed text whole once flushed", () => {
    const output = stream(["password1"], ["user pass", "word1 done\n"]);
    assert.equal(output, "user *** done\n");
  });
});
