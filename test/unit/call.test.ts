// The call input in buildx's syntax: NAME[,format=…][,ignorestatus=…], check being the frontend's lint.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { InputError } from "../../src/errors.js";
import { parseCall } from "../../src/job/call.js";

describe("parseCall", () => {
  it("reads build (the default), check, outline and targets with their options", () => {
    assert.deepEqual(parseCall(undefined, "input call"), { name: "build" });
    assert.deepEqual(parseCall("build", "input call"), { name: "build" });
    assert.deepEqual(parseCall("check", "input call"), { name: "lint", format: "text", ignoreStatus: false });
    assert.deepEqual(parseCall("check,ignorestatus=true", "input call"), {
      name: "lint",
      format: "text",
      ignoreStatus: true,
    });
    assert.deepEqual(parseCall("outline,format=json", "input call"), {
      name: "outline",
      format: "json",
      ignoreStatus: false,
    });
    assert.equal(parseCall("targets", "input call").name, "targets");
  });

  it("refuses another method or option in one sentence", () => {
    for (const [value, message] of [
      ["describe", /^input call "describe" is not a method; use build, check, outline or targets\.$/],
      ["check,format=yaml", /^input call "check,format=yaml" has "format=yaml"; the options are/],
      ["build,format=json", /^input call "build,format=json": build takes no options\.$/],
    ] as const) {
      assert.throws(
        () => parseCall(value, "input call"),
        (error: Error) => error instanceof InputError && message.test(error.message),
      );
    }
  });
});
