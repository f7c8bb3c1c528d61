// Image names as docker reads them, for the image index we put in the registry.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { parseReference } from "../../src/outputs/registry.js";

describe("image references", () => {
  it("splits host, repository and tag as docker does", () => {
    assert.deepEqual(parseReference("127.0.0.1:5000/team/app:1.2"), {
      host: "127.0.0.1:5000",
      repository: "team/app",
      tag: "1.2",
    });
    assert.deepEqual(parseReference("ghcr.io/org/app"), {
      host: "ghcr.io",
      repository: "org/app",
      tag: "latest",
    });
    assert.deepEqual(parseReference("localhost/app:dev"), {
      host: "localhost",
      repository: "app",
      tag: "dev",
    });
    assert.deepEqual(parseReference("alpine:3.20"), {
      host: "docker.io",
      repository: "library/alpine",
      tag: "3.20",
    });
    assert.deepEqual(parseReference("org/app"), { host: "docker.io", repository: "org/app", tag: "latest" });
  });
});
