// Control characters from the runner reach the terminal or an annotation only as visible escapes.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { escapeControlCharacters } from "../../src/report/control-characters.js";
import { PlainReporter } from "../../src/report/plain.js";
import { runCli } from "../../src/cli/run.js";

describe("escapeControlCharacters", () => {
  it("keeps text, newlines, tabs and CRLF line ends", () => {
    const text = "#5 0.1 hello\tworld é ✓\r\n#5 DONE 0.1s\n";
    assert.equal(escapeControlCharacters(text), text);
  });

  it("writes ESC, other C0 controls, DEL, C1 and a lone CR as \\xNN", () => {
    assert.equal(
      escapeControlCharacters("a\x1b[2Jb\x07c\x00d\x7fe\x9bf\rg\x08"),
      "a\\x1b[2Jb\\x07c\\x00d\\x7fe\\x9bf\\x0dg\\x08",
    );
  });

  it("writes Unicode's bidi overrides and line separators as \\uNNNN", () => {
    assert.equal(escapeControlCharacters("x\u202ey\u2028"), "x\\u202ey\\u2028");
  });

  it("is applied by the plain reporter", () => {
    let written = "";
    const reporter = new PlainReporter({ write: (text) => (written += text), gitlab: false });
    reporter.error("The build failed: \x1b]0;owned\x07");
    assert.equal(written, "error: The build failed: \\x1b]0;owned\\x07\n");
  });

  it("is applied to the CLI's last error line", async () => {
    let stderr = "";
    const code = await runCli(["frob\x1b[31m"], {
      program: "remote-buildkit",
      stdout: () => {},
      stderr: (text) => (stderr += text),
      env: {},
      signal: new AbortController().signal,
    });
    assert.equal(code, 2);
    assert.equal(
      stderr,
      'error: Unknown command "frob\\x1b[31m": commands are build, info (see "remote-buildkit --help").\n',
    );
  });
});

describe("the action's reporter", () => {
  it("escapes control characters in log lines and annotations", async () => {
    const { GithubReporter } = await import("../../src/github/reporter.js");
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const reporter = new GithubReporter();
      reporter.info("vertex \x1b[2Jname");
      reporter.error("The build failed: \x1b]0;owned\x07");
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(written, ["vertex \\x1b[2Jname\n", "::error::The build failed: \\x1b]0;owned\\x07\n"]);
  });
});
