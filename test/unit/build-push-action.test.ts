// A `uses:` swap from docker/build-push-action: each of its inputs is an input of ours (action.yml,
// with the same default where it has one), or pending on another branch, or refused with a reason
// the README's "Coming from build-push-action" section gives.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BUILD_PUSH_ACTION_INPUTS,
  NOT_SUPPORTED,
  refusedBuildPushActionInput,
} from "../../src/job/inputs/build-push-action.js";

const ROOT = join(import.meta.dirname, "..", "..");
const ACTION_YML = readFileSync(join(ROOT, "action.yml"), "utf8");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/**
 * Inputs being added on another branch, if any. When they are in action.yml, empty this list: the
 * first test says so.
 */
const PENDING: readonly string[] = [];

/** build-push-action's defaults for the inputs that have one (its action.yml). */
const DEFAULTS: Record<string, string> = { load: "false", "no-cache": "false", pull: "false", push: "false" };

/** Our action.yml's inputs and their defaults. */
function ourInputs(): Map<string, string | undefined> {
  const body = /^inputs:\n([\s\S]*?)^\S/m.exec(ACTION_YML)?.[1] ?? "";
  const inputs = new Map<string, string | undefined>();
  for (const match of body.matchAll(/^ {2}([a-z][a-z0-9-]*):\n((?: {4}.*\n| {6}.*\n)*)/gm)) {
    inputs.set(match[1]!, /^ {4}default: (.*)$/m.exec(match[2]!)?.[1]?.replace(/^"(.*)"$/, "$1"));
  }
  return inputs;
}

const section = /^## Coming from build-push-action\n([\s\S]*?)(?=^## )/m.exec(README)?.[1] ?? "";

describe("build-push-action's inputs", () => {
  it("are each ours, pending, or not supported with a reason", () => {
    const ours = ourInputs();
    for (const name of BUILD_PUSH_ACTION_INPUTS) {
      const where = [
        ours.has(name) && "action.yml",
        PENDING.includes(name) && "PENDING",
        name in NOT_SUPPORTED && "NOT_SUPPORTED",
      ].filter(Boolean);
      assert.equal(where.length, 1, `${name}: ${where.join(" and ") || "nowhere"}`);
      if (PENDING.includes(name)) {
        assert.ok(!ours.has(name), `${name} is in action.yml now: delete it from PENDING`);
      }
    }
  });

  it("keep build-push-action's defaults where we have the input", () => {
    const ours = ourInputs();
    for (const [name, value] of Object.entries(DEFAULTS)) {
      if (ours.has(name)) assert.equal(ours.get(name), value, name);
    }
  });

  it("that we do not take are refused by the action in one sentence, and named in the README", () => {
    assert.ok(section.length > 0, "the README has a Coming from build-push-action section");
    for (const name of [...PENDING, ...Object.keys(NOT_SUPPORTED)]) {
      const refusal = refusedBuildPushActionInput(name);
      assert.match(refusal ?? "", new RegExp(`^input ${name} is docker/build-push-action's, and .*\\.$`));
      assert.ok(section.includes(`\`${name}\``), `the README's section names ${name}`);
    }
    for (const name of BUILD_PUSH_ACTION_INPUTS) {
      if (ourInputs().has(name)) assert.equal(refusedBuildPushActionInput(name), undefined, name);
    }
  });
});
