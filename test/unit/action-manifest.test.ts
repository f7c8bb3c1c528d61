// action.yml and the code agree: every input the code reads is declared, and nothing else is.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { INPUT } from "../../src/github/inputs.js";

const ROOT = join(import.meta.dirname, "..", "..");

function declaredInputs(): string[] {
  const yaml = readFileSync(join(ROOT, "action.yml"), "utf8");
  const section = /^inputs:\n([\s\S]*?)^\S/m.exec(yaml)?.[1] ?? "";
  return [...section.matchAll(/^ {2}([a-z][a-z0-9-]*):$/gm)].map((match) => match[1]!);
}

describe("action.yml", () => {
  it("declares exactly the inputs the action reads", () => {
    assert.deepEqual(declaredInputs().sort(), Object.values(INPUT).sort());
  });
});
