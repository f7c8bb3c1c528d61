// The plain log: BuildKit's Status messages printed as buildctl --progress=plain prints them.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { StatusResponseSchema } from "../../src/buildkit/proto/moby/buildkit/v1/control_pb.js";
import { PlainProgress } from "../../src/report/plain-progress.js";

const at = (seconds: number, nanos = 0) => ({ seconds: BigInt(seconds), nanos });

function printer() {
  let text = "";
  const progress = new PlainProgress((chunk) => (text += chunk));
  const send = (status: MessageInitShape<typeof StatusResponseSchema>) =>
    progress.update(create(StatusResponseSchema, status));
  return { progress, send, text: () => text };
}

describe("plain progress", () => {
  it("prints headers, log lines with their offsets, transfers and DONE in buildctl's order", () => {
    const { progress, send, text } = printer();
    send({
      vertexes: [{ digest: "a", name: "[internal] load build definition from Dockerfile", started: at(100) }],
    });
    send({ statuses: [{ id: "transferring dockerfile:", vertex: "a", current: 10n, started: at(100) }] });
    // The vertex completes before its transfer does: DONE waits for the transfer line.
    send({
      vertexes: [
        {
          digest: "a",
          name: "[internal] load build definition from Dockerfile",
          started: at(100),
          completed: at(100, 50_000_000),
        },
      ],
    });
    send({
      statuses: [
        {
          id: "transferring dockerfile:",
          vertex: "a",
          current: 143n,
          started: at(100),
          completed: at(100, 40_000_000),
        },
      ],
    });
    send({ vertexes: [{ digest: "b", name: "[1/2] RUN echo hi", started: at(101) }] });
    send({ logs: [{ vertex: "b", msg: new TextEncoder().encode("hel"), timestamp: at(101, 123_000_000) }] });
    send({
      logs: [{ vertex: "b", msg: new TextEncoder().encode("lo\nworld\n"), timestamp: at(101, 200_000_000) }],
    });
    send({
      vertexes: [
        { digest: "b", name: "[1/2] RUN echo hi", started: at(101), completed: at(101, 400_000_000) },
      ],
    });
    send({
      vertexes: [
        { digest: "c", name: "[2/2] COPY x /x", cached: true, started: at(102), completed: at(102) },
      ],
    });
    progress.finish();
    assert.equal(
      text(),
      [
        "#1 [internal] load build definition from Dockerfile",
        "#1 transferring dockerfile: 143B 0.0s done",
        "#1 DONE 0.1s",
        "",
        "#2 [1/2] RUN echo hi",
        "#2 0.200 hello",
        "#2 0.200 world",
        "#2 DONE 0.4s",
        "",
        "#3 [2/2] COPY x /x",
        "#3 CACHED",
        "",
      ].join("\n"),
    );
    assert.deepEqual(
      progress.steps().map((step) => [step.index, step.cached, step.durationMs]),
      [
        [1, false, 50],
        [2, false, 400],
        [3, true, 0],
      ],
    );
  });

  it("prints a transfer that completes in the message after its vertex before the DONE", () => {
    const { progress, send, text } = printer();
    send({
      vertexes: [{ digest: "a", name: "[internal] load .dockerignore", started: at(1), completed: at(1) }],
    });
    send({
      statuses: [{ id: "transferring context:", vertex: "a", current: 2n, started: at(1), completed: at(1) }],
    });
    send({ vertexes: [{ digest: "b", name: "[internal] load build context", started: at(2) }] });
    progress.finish();
    assert.equal(
      text(),
      "#1 [internal] load .dockerignore\n#1 transferring context: 2B done\n#1 DONE 0.0s\n\n#2 [internal] load build context\n",
    );
  });

  it("prints one DONE for a vertex that completes, starts again and completes, as the context loads do", () => {
    const { progress, send, text } = printer();
    const name = "[internal] load build definition from Dockerfile";
    send({ vertexes: [{ digest: "a", name, started: at(1) }] });
    send({ vertexes: [{ digest: "a", name, started: at(1), completed: at(1, 1_000_000) }] });
    send({ vertexes: [{ digest: "a", name, started: at(1, 2_000_000) }] });
    send({
      statuses: [
        { id: "transferring dockerfile:", vertex: "a", current: 140n, started: at(1), completed: at(1) },
      ],
    });
    send({ vertexes: [{ digest: "a", name, started: at(1, 2_000_000), completed: at(1, 30_000_000) }] });
    progress.finish();
    assert.equal(text(), `#1 ${name}\n#1 transferring dockerfile: 140B done\n#1 DONE 0.0s\n`);
  });

  it("prints a held-back DONE at the end when the transfer never reports its end", () => {
    const { progress, send, text } = printer();
    send({ vertexes: [{ digest: "a", name: "load", started: at(1) }] });
    send({ statuses: [{ id: "transferring context:", vertex: "a", current: 5n, started: at(1) }] });
    send({ vertexes: [{ digest: "a", name: "load", started: at(1), completed: at(2) }] });
    assert.doesNotMatch(text(), /DONE/);
    progress.finish();
    assert.match(text(), /^#1 DONE 1\.0s$/m);
  });

  it("reports a failed step with its last lines again, as buildctl closes its log", () => {
    const { progress, send, text } = printer();
    send({ vertexes: [{ digest: "a", name: "[1/1] RUN false", started: at(1) }] });
    send({
      logs: [{ vertex: "a", msg: new TextEncoder().encode("about to fail\n"), timestamp: at(1, 5_000_000) }],
    });
    send({
      vertexes: [
        { digest: "a", name: "[1/1] RUN false", started: at(1), completed: at(2), error: "exit code: 1" },
      ],
    });
    progress.finish();
    assert.match(text(), /^#1 ERROR: exit code: 1$/m);
    assert.equal(progress.failureReport(), "------\n > [1/1] RUN false:\n#1 0.005 about to fail\n------\n");
    assert.equal(progress.steps()[0]!.error, "exit code: 1");
  });
});
