// The pinned BuildKit version is defined once (src/version.ts); the files that cannot import it
// (the harness's shell script, workflow files, the action's and the README's prose) name the same.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILDKIT_VERSION } from "../../src/version.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** Each file with the places in it that name the pinned version (the version is the last group). */
const PLACES: Array<[string, RegExp]> = [
  ["test/harness/install-buildkit.sh", /BUILDKIT_VERSION="\$\{BUILDKIT_VERSION:-v([\d.]+)\}"/g],
  [".github/workflows/action.yml", /(buildkit-version: |test "\$VERSION" = |started buildkitd )v([\d.]+)/g],
  ["test/fixtures/runner-cache/workflow.yml", /buildkit-version: v([\d.]+)/g],
  ["action.yml", /BuildKit version \(v([\d.]+)\)|an exact version \(v([\d.]+)\)/g],
  ["README.md", /`buildkitd` v([\d.]+)|must run: `v([\d.]+)`/g],
];

describe("the pinned BuildKit version", () => {
  for (const [file, pattern] of PLACES) {
    it(`is the one of src/version.ts in ${file}`, () => {
      const text = readFileSync(join(ROOT, file), "utf8");
      const found = [...text.matchAll(pattern)].map((match) => match.slice(1).filter(Boolean).at(-1));
      assert.ok(found.length > 0, `no pinned version found in ${file}`);
      for (const version of found) assert.equal(version, BUILDKIT_VERSION);
    });
  }
});
