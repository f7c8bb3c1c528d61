// The CLI's help, as a user reads it: the whole text against a copy kept in test/fixtures/help/
// (RB_UPDATE_HELP=1 rewrites the copies after a deliberate change; review their diff), and its
// layout: a blank line before every section title, every flag's help in one column.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildHelp } from "../../src/cli/commands/build.js";
import { infoHelp } from "../../src/cli/commands/info.js";
import { mainHelp } from "../../src/cli/run.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "help");
const HELP_COLUMN = 34;
const TEXTS = {
  main: mainHelp("remote-buildkit"),
  build: buildHelp("remote-buildkit"),
  info: infoHelp("remote-buildkit"),
};

describe("the CLI's help", () => {
  for (const [name, text] of Object.entries(TEXTS)) {
    it(`${name}: reads as kept in test/fixtures/help/${name}.txt`, () => {
      const file = join(FIXTURES, `${name}.txt`);
      if (process.env.RB_UPDATE_HELP === "1") writeFileSync(file, `${text}\n`);
      assert.equal(`${text}\n`, readFileSync(file, "utf8"));
    });

    it(`${name}: has a blank line before each section title and every flag's help in one column`, () => {
      const lines = text.split("\n");
      lines.forEach((line, index) => {
        if (/^[A-Z][^:]*:/.test(line) && !line.startsWith("Usage:")) {
          assert.equal(lines[index - 1], "", `a blank line before "${line}"`);
        }
        assert.ok(line.length <= 100, `"${line}" fits in 100 columns`);
        const flag = /^ {2}(-\w, | {4})--\S+( \S+)?/.exec(line);
        if (!flag) return;
        const rest = line.slice(flag[0].length);
        if (rest === "") {
          // Too long for the column: the help starts on the next line, in the column.
          assert.match(lines[index + 1]!, new RegExp(`^ {${HELP_COLUMN}}\\S`), `the help of "${line}"`);
        } else {
          assert.ok(flag[0].length <= HELP_COLUMN - 2, `two spaces at least after "${flag[0].trim()}"`);
          assert.equal(flag[0].length + rest.search(/\S/), HELP_COLUMN, `the help of "${flag[0].trim()}"`);
        }
      });
    });
  }

  it("names the program as it was run, in the usage lines and hints", () => {
    assert.match(mainHelp("npx remote-buildkit"), /^Usage: npx remote-buildkit COMMAND \[flags\]/);
    assert.match(mainHelp("node dist/cli.mjs"), /Run "node dist\/cli\.mjs COMMAND --help"/);
    assert.match(buildHelp("node dist/cli.mjs"), /^Usage: node dist\/cli\.mjs build \[flags\] CONTEXT/);
  });
});
