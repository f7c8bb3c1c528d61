// Our workflow commands (src/github/workflow-commands.ts) against @actions/core's, the reference:
// for the same calls in the same environment, the same lines on stdout and the same bytes in the
// output, state and summary files (their heredoc delimiters are random in both: compared as one).
import { afterEach, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as reference from "@actions/core";
import * as ours from "../../src/github/workflow-commands.js";
import { tempDir } from "../helpers/temp.js";

type Commands = typeof ours;

const VARIABLES = ["GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY", "INPUT_MY_INPUT", "STATE_pid"];
const saved = new Map(VARIABLES.map((name) => [name, process.env[name]]));

afterEach(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** What `calls` wrote to stdout and to the three files, with files of their own for each run. */
async function capture(
  withFiles: boolean,
  calls: () => Promise<void> | void,
): Promise<{ stdout: string; files: string[] }> {
  const dir = tempDir("rb-commands-");
  const files = ["output", "state", "summary"].map((name) => join(dir, name));
  const variables = ["GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY"];
  // The runner creates the files, empty, before the step.
  variables.forEach((name, i) => {
    if (withFiles) {
      writeFileSync(files[i]!, "");
      process.env[name] = files[i];
    } else delete process.env[name];
  });
  let stdout = "";
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await calls();
  } finally {
    process.stdout.write = write;
  }
  const delimiters = (text: string) => text.replace(/ghadelimiter_[0-9a-f-]{36}/g, "ghadelimiter_UUID");
  return {
    stdout,
    files: files.map((file) => (existsSync(file) ? delimiters(readFileSync(file, "utf8")) : "(none)")),
  };
}

async function same(withFiles: boolean, calls: (commands: Commands) => Promise<void> | void): Promise<void> {
  const theirs = await capture(withFiles, () => calls(reference as unknown as Commands));
  const mine = await capture(withFiles, () => calls(ours));
  assert.deepEqual(mine, theirs);
}

const TRICKY = "line one: 50% done,\r\nline two %0A ::error::not a command";

describe("workflow commands, as @actions/core writes them", () => {
  for (const withFiles of [true, false]) {
    it(`outputs and state ${withFiles ? "in GitHub's files" : "as the old commands, without the files"}`, async () => {
      await same(withFiles, (commands) => {
        commands.setOutput("digest", "sha256:0123");
        commands.setOutput("metadata", `{"a": 1}\n${TRICKY}`);
        commands.saveState("pid", "4242");
        commands.saveState("dir", TRICKY);
      });
    });
  }

  it("masks, log lines, debug lines and annotations, escaped alike", async () => {
    await same(true, (commands) => {
      commands.setSecret(TRICKY);
      commands.info(TRICKY);
      commands.debug(TRICKY);
      commands.warning(TRICKY);
      commands.warning("on a line", {
        title: "Title: a, b",
        file: "dir,1/Dockerfile:x",
        startLine: 3,
        endLine: 5,
      });
      commands.error(TRICKY, {});
      commands.error("only a title", { title: "Build failed" });
      commands.error("no line", { file: "Dockerfile", startLine: undefined, title: "" });
    });
  });

  it("a group around a body's lines, closed when the body fails too", async () => {
    await same(true, async (commands) => {
      const value = await commands.group(`group ${TRICKY}`, async () => {
        commands.info("inside");
        return 7;
      });
      assert.equal(value, 7);
      await assert.rejects(
        commands.group("failing", async () => {
          throw new Error("body failed");
        }),
        /body failed/,
      );
    });
  });

  it("the job summary appended to", async () => {
    const markdown = `## Build\n\n| a | b |\n| - | - |\n| ${TRICKY} | 2 |\n`;
    const theirs = await capture(true, async () => {
      await reference.summary.addRaw(markdown).write();
      await reference.summary.addRaw(markdown).write();
    });
    const mine = await capture(true, async () => {
      await ours.appendSummary(markdown);
      await ours.appendSummary(markdown);
    });
    assert.deepEqual(mine, theirs);
    // Where the runner gives no summary file, nothing is written and nothing fails.
    assert.deepEqual(await capture(false, () => ours.appendSummary(markdown)), {
      stdout: "",
      files: ["(none)", "(none)", "(none)"],
    });
  });

  it("inputs and state read alike: trimmed, lists without empty lines", () => {
    process.env.INPUT_MY_INPUT = "  first \n\n  second\n third  \n";
    process.env.STATE_pid = "4242";
    assert.equal(ours.getInput("my input"), reference.getInput("my input"));
    assert.deepEqual(ours.getMultilineInput("my input"), reference.getMultilineInput("my input"));
    assert.deepEqual(ours.getMultilineInput("my input"), ["first", "second", "third"]);
    assert.equal(ours.getInput("absent"), reference.getInput("absent"));
    assert.equal(ours.getState("pid"), "4242");
    assert.equal(ours.getState("absent"), reference.getState("absent"));
  });
});
