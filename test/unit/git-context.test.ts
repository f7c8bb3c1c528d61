import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import {
  describeGitFetchFailure,
  gitAuthSecretIds,
  gitContextAttrs,
  gitHost,
  isGitUrl,
} from "../../src/buildkit/git-context.js";

describe("isGitUrl (as v0.32.2's Dockerfile frontend decides)", () => {
  for (const url of [
    "https://github.com/org/app.git#main:sub",
    "http://127.0.0.1:8080/repo.git",
    "git://127.0.0.1:9418/repo.git#v1",
    "ssh://git@host/org/app",
    "git@github.com:org/app.git",
    "github.com/org/app",
  ]) {
    it(`takes ${url}`, () => assert.equal(isGitUrl(url), true));
  }
  for (const url of [
    "https://example.com/context.tar.gz",
    "https://example.com/app",
    "./app",
    "/abs/dir",
    "app",
  ]) {
    it(`does not take ${url}`, () => assert.equal(isGitUrl(url), false));
  }
});

describe("gitHost and gitAuthSecretIds", () => {
  it("names the host with its port only when the URL has one, as the runner asks", () => {
    assert.equal(gitHost("https://github.com/org/app.git#main"), "github.com");
    assert.equal(gitHost("http://127.0.0.1:19480/repo.git"), "127.0.0.1:19480");
    assert.equal(gitHost("git@gitlab.example.com:g/p.git"), "gitlab.example.com");
    assert.equal(gitHost("ssh://git@host:2222/org/app"), "host:2222");
    assert.deepEqual(gitAuthSecretIds("https://github.com/org/app.git"), {
      token: "GIT_AUTH_TOKEN.github.com",
      header: "GIT_AUTH_HEADER.github.com",
    });
  });
});

describe("gitContextAttrs", () => {
  it("sends the URL as context and the Dockerfile name", () => {
    assert.deepEqual(
      gitContextAttrs("https://github.com/org/app.git#main:sub", { filename: "build/Dockerfile" }),
      {
        context: "https://github.com/org/app.git#main:sub",
        filename: "build/Dockerfile",
      },
    );
  });

  it("refuses credentials in the URL without repeating them", () => {
    for (const url of [
      "https://gitlab-ci-token:s3cret@gitlab.example.com/g/p.git",
      "https://s3cret@github.com/org/app.git",
    ]) {
      assert.throws(
        () => gitContextAttrs(url),
        (error: Error) => /carries credentials/.test(error.message) && !error.message.includes("s3cret"),
      );
    }
    assert.throws(
      () => gitContextAttrs("https://example.com/app"),
      /is not a Git URL the Dockerfile frontend takes/,
    );
  });
});

describe("describeGitFetchFailure", () => {
  it("turns the runner's fetch failure into one sentence", () => {
    const message =
      "The runner at tcp://r:1 answered: failed to solve: failed to read dockerfile: failed to load cache key: failed to fetch remote http://127.0.0.1:19480/repo.git: git stderr:\nfatal: could not read Username for 'http://127.0.0.1:19480': terminal prompts disabled\n: exit status 128";
    const sentence = describeGitFetchFailure(message)!;
    assert.match(
      sentence,
      /^The runner could not fetch the Git context from http:\/\/127\.0\.0\.1:19480\/repo\.git: the server refused it/,
    );
    assert.match(sentence, /GIT_AUTH_TOKEN\.127\.0\.0\.1:19480/);
    assert.doesNotMatch(sentence, /\n/);
    assert.equal(
      describeGitFetchFailure(
        "failed to fetch remote git://h/r.git: git stderr:\nfatal: remote error: access denied or repository not exported: /r.git\n: exit status 128",
      ),
      "The runner could not fetch the Git context from git://h/r.git (fatal: remote error: access denied or repository not exported: /r.git).",
    );
    assert.equal(
      describeGitFetchFailure("failed to solve: process did not complete successfully"),
      undefined,
    );
  });
});
