import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { PlainReporter } from "../../src/report/plain.js";

describe("PlainReporter", () => {
  it("writes levels as prefixes and hides debug lines unless asked", () => {
    let out = "";
    const reporter = new PlainReporter({ write: (text) => (out += text), gitlab: false });
    reporter.info("hello");
    reporter.warning("careful");
    reporter.error("broken");
    reporter.debug("hidden");
    assert.equal(out, "hello\nwarning: careful\nerror: broken\n");
  });

  it("wraps a group in GitLab's collapsible section markers in GitLab CI", async () => {
    let out = "";
    const reporter = new PlainReporter({
      write: (text) => (out += text),
      gitlab: true,
      now: () => 1_700_000_000_000,
    });
    const result = await reporter.group("Connecting", async () => {
      reporter.info("inside");
      return 42;
    });
    assert.equal(result, 42);
    assert.equal(
      out,
      "\x1b[0Ksection_start:1700000000:remote_buildkit_1[collapsed=false]\r\x1b[0KConnecting\n" +
        "inside\n" +
        "\x1b[0Ksection_end:1700000000:remote_buildkit_1\r\x1b[0K\n",
    );
  });

  it("closes the GitLab section when the body fails", async () => {
    let out = "";
    const reporter = new PlainReporter({ write: (text) => (out += text), gitlab: true, now: () => 0 });
    await assert.rejects(
      reporter.group("Failing", () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.match(out, /section_end:0:remote_buildkit_1/);
  });
});
