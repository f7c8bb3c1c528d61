// action.yml and the code agree: every input the input table gives the action is declared, with
// the same default, and nothing else is; the outputs are the ones the job sets.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Row } from "../../src/job/inputs/row.js";
import { INPUTS } from "../../src/job/inputs/table.js";
import { STEP_OUTPUTS } from "../../src/job/platform.js";

const ROOT = join(import.meta.dirname, "..", "..");
const YAML = readFileSync(join(ROOT, "action.yml"), "utf8");
const ROWS = Object.values(INPUTS) as Row[];

/** The action's inputs, by their names in action.yml. */
const INPUT = ROWS.flatMap((row) => (row.action ? [row.action] : []));

/** A top-level section of action.yml: each entry's name and its `default:`, if any. */
function declared(section: "inputs" | "outputs"): Map<string, string | undefined> {
  const body = new RegExp(`^${section}:\\n([\\s\\S]*?)^\\S`, "m").exec(YAML)?.[1] ?? "";
  const entries = new Map<string, string | undefined>();
  for (const match of body.matchAll(/^ {2}([a-z][a-z0-9-]*):\n((?: {4}.*\n| {6}.*\n)*)/gm)) {
    const value = /^ {4}default: (.*)$/m.exec(match[2]!)?.[1]?.replace(/^"(.*)"$/, "$1");
    entries.set(match[1]!, value);
  }
  return entries;
}

function declaredInputs(): string[] {
  return [...declared("inputs").keys()];
}

describe("action.yml", () => {
  it("declares exactly the inputs the action reads", () => {
    assert.deepEqual(declaredInputs().sort(), Object.values(INPUT).sort());
  });

  it("gives each input the default the input table gives it", () => {
    const inputs = declared("inputs");
    for (const row of ROWS) {
      if (!row.action) continue;
      const inYaml = inputs.get(row.action);
      // An expression (the job's token) is GitHub's to fill in; the table has none.
      if (inYaml?.startsWith("${{")) assert.equal(row.default, undefined, row.action);
      else assert.equal(inYaml, row.default, `the default of ${row.action}`);
    }
  });

  it("declares exactly the outputs the job sets", () => {
    assert.deepEqual([...declared("outputs").keys()].sort(), [...STEP_OUTPUTS].sort());
  });
});
