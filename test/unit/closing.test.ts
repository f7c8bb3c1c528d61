import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import type { RunnerInfo } from "../../src/buildkit/index.js";
import { buildClosingLines, type ClosingInput } from "../../src/report/closing.js";

const runner = { endpoint: "tcp://runner:1234", version: { version: "v0.32.2" } } as RunnerInfo;
const DIGEST = `sha256:${"a".repeat(64)}`;

function closing(input: Partial<ClosingInput>): string[] {
  return buildClosingLines({
    runner,
    steps: [
      { index: 1, name: "[1/2] COPY a /a", cached: true, error: "", durationMs: 0 },
      { index: 2, name: "[2/2] RUN make", cached: false, error: "", durationMs: 1200 },
    ],
    outputs: [],
    push: false,
    digest: "",
    durationMs: 3250,
    ...input,
  });
}

describe("the closing lines of a build", () => {
  it("say the outcome, the runner, the time and the cached steps, and that nothing was exported", () => {
    assert.deepEqual(closing({}), [
      "Build succeeded in 3.3s on tcp://runner:1234 (BuildKit v0.32.2): 1 of 2 steps from the cache.",
      "No output requested: the result stays in the runner's cache.",
    ]);
  });

  it("name each output: images pushed or not, by digest, and files written", () => {
    const lines = closing({
      digest: DIGEST,
      push: true,
      outputs: [
        { type: "image", names: ["registry/app:1", "registry/app:latest"] },
        { type: "image", names: ["registry/app"], pushByDigest: true },
        { type: "image", names: ["registry/local:1"], push: false },
        { type: "local", dir: "/work/out" },
        { type: "oci", file: "/work/image.tar" },
        { type: "docker", file: "/work/docker.tar" },
        { type: "tar", file: "/work/files.tar" },
      ],
    });
    assert.deepEqual(lines.slice(1), [
      `Pushed registry/app:1, registry/app:latest, digest ${DIGEST}`,
      `Pushed the image by digest to registry/app, digest ${DIGEST}`,
      `Built the image registry/local:1, digest ${DIGEST}; not pushed, it stays on the runner`,
      "Wrote the result's files to /work/out",
      "Wrote an OCI image layout tar to /work/image.tar",
      "Wrote a docker image tar to /work/docker.tar",
      "Wrote a tar of the result's files to /work/files.tar",
    ]);
  });

  it("say when BuildKit did not give its version", () => {
    const [first] = closing({ runner: { ...runner, version: undefined }, steps: [] });
    assert.equal(
      first,
      "Build succeeded in 3.3s on tcp://runner:1234 (BuildKit version unknown): 0 of 0 steps from the cache.",
    );
  });
});
