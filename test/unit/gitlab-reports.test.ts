// GitLab's reports the CLI writes: the step outputs as a dotenv file, BuildKit's warnings as a
// Code Quality report.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { dotenvText } from "../../src/outputs/dotenv.js";
import { codeQualityIssues, type LocalWarning } from "../../src/report/code-quality.js";

describe("the dotenv report", () => {
  it("writes each output as NAME=value, upper-cased with underscores, leaving out metadata and empty ones", () => {
    const text = dotenvText({
      endpoint: "tcp://127.0.0.1:1234",
      "buildkit-version": "v0.32.2",
      workers: '[{"id":"w1","platforms":["linux/amd64"]}]',
      "runner-reason": "given: tcp://127.0.0.1:1234",
      digest: "",
      metadata: '{"containerimage.digest":"sha256:abc"}',
    });
    assert.equal(
      text,
      [
        "ENDPOINT=tcp://127.0.0.1:1234",
        "BUILDKIT_VERSION=v0.32.2",
        'WORKERS=[{"id":"w1","platforms":["linux/amd64"]}]',
        "RUNNER_REASON=given: tcp://127.0.0.1:1234",
        "",
      ].join("\n"),
    );
  });
});

describe("the Code Quality report", () => {
  const warning = (message: string, path: string, line: number, url = ""): LocalWarning => ({
    message,
    url,
    locations: [{ filename: "Dockerfile", startLine: line, endLine: line, sourceLines: [], path }],
  });

  it("names the check, the file relative to the project and the line; the fingerprint is stable", () => {
    const warnings = [
      warning(
        "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
        "/builds/p/docker/Dockerfile",
        1,
      ),
      warning(
        "Something else",
        "/elsewhere/Dockerfile",
        3,
        "https://docs.docker.com/go/dockerfile/rule/some-rule/",
      ),
    ];
    const issues = codeQualityIssues(warnings, ["/builds/p", "/work"]);
    assert.equal(issues[0]!.check_name, "FromAsCasing");
    assert.deepEqual(issues[0]!.location, { path: "docker/Dockerfile", lines: { begin: 1 } });
    assert.equal(issues[0]!.severity, "minor");
    assert.equal(issues[1]!.check_name, "buildkit/some-rule");
    assert.equal(issues[1]!.location.path, "/elsewhere/Dockerfile");
    assert.equal(codeQualityIssues(warnings, ["/builds/p"])[0]!.fingerprint, issues[0]!.fingerprint);
    assert.notEqual(issues[0]!.fingerprint, issues[1]!.fingerprint);
  });
});
