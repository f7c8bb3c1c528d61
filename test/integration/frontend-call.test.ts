// Frontend subrequests (buildx's --call check|outline|targets) through the gateway API, against the
// real runner: the lint findings, check=error=true, a parse error, outline and targets, and a
// cancelled call that leaves no build behind on the runner.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import {
  BUILDCTL_TLS_FLAGS,
  BuildkitClient,
  CancelledError,
  ConnectionError,
  loadTlsMaterial,
  parseEndpoint,
  RpcError,
} from "../../src/buildkit/index.js";
import {
  callFrontend,
  type DescribeResult,
  type FrontendCall,
  type LintResult,
} from "../../src/buildkit/frontend-call.js";
import { fileSyncService } from "../../src/buildkit/session/filesync.js";
import { healthService } from "../../src/buildkit/session/health.js";
import { Session } from "../../src/buildkit/session/tunnel.js";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { unfinishedBuildsAfterCancel } from "../helpers/buildctl.js";
import { testRunnerClient } from "../helpers/client.js";
import { makeContext } from "../helpers/contexts.js";

let runner: RunnerUnderTest;
let defaultClient: BuildkitClient;

beforeAll(() => {
  runner = runnerUnderTest();
  defaultClient = testRunnerClient(runner);
});
afterAll(() => defaultClient.close());

/** A "registry" that accepts connections and never answers: resolving a base image from it hangs. */
async function silentRegistry(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Runs `call` on `dockerfile` through a session that serves its directory; the log's vertex names. */
async function callOn(
  call: FrontendCall,
  dockerfile: string,
  options: {
    signal?: AbortSignal;
    onVertex?: (name: string) => void;
    attrs?: Record<string, string>;
    /** Another runner's client; the test runner's by default. */
    client?: BuildkitClient;
  } = {},
) {
  const client = options.client ?? defaultClient;
  const context = makeContext({ Dockerfile: dockerfile });
  const signal = options.signal ?? AbortSignal.timeout(2 * 60_000);
  const session = new Session(client, {
    sharedKey: "frontend-call-test",
    services: [healthService(), fileSyncService({ context, dockerfile: context })],
    signal,
  });
  const vertices: string[] = [];
  try {
    const result = await callFrontend(client, {
      call,
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: { filename: "Dockerfile", ...options.attrs },
      onStatus: (status) => {
        for (const vertex of status.vertexes) {
          vertices.push(vertex.name);
          options.onVertex?.(vertex.name);
        }
      },
      signal,
    });
    return { result, vertices };
  } finally {
    session.close();
  }
}

describe("lint (call: check)", () => {
  it("returns a finding with its rule, text and Dockerfile line, and status 1", async () => {
    const { result } = await callOn("lint", "FROM scratch as base\nCOPY busybox /bin/busybox\n");
    const lint = result as LintResult;
    assert.equal(lint.call, "lint");
    assert.equal(lint.findings.length, 1, lint.text);
    const [finding] = lint.findings;
    assert.equal(finding!.rule, "FromAsCasing");
    assert.match(finding!.description, /'as' keyword should match the case of the 'from' keyword/);
    assert.match(finding!.detail, /'as' and 'FROM' keywords' casing do not match/);
    assert.match(finding!.url, /^https:\/\/docs\.docker\.com\/.*from-as-casing/);
    assert.deepEqual(finding!.location, { file: "Dockerfile", startLine: 1, endLine: 1 });
    assert.equal(lint.buildError, undefined);
    assert.equal(lint.statusCode, 1);
    assert.match(lint.text, /FromAsCasing/);
  });

  it("returns no finding and status 0 for a clean Dockerfile", async () => {
    const { result } = await callOn("lint", "FROM scratch AS base\nCOPY busybox /bin/busybox\n");
    const lint = result as LintResult;
    assert.deepEqual(lint.findings, []);
    assert.equal(lint.statusCode, 0);
    assert.equal(lint.buildError, undefined);
  });

  it("returns a build error when the Dockerfile says # check=error=true", async () => {
    const { result } = await callOn(
      "lint",
      "# check=error=true\nFROM scratch as base\nCOPY busybox /bin/busybox\n",
    );
    const lint = result as LintResult;
    assert.equal(lint.findings[0]?.rule, "FromAsCasing");
    assert.deepEqual(lint.findings[0]?.location, { file: "Dockerfile", startLine: 2, endLine: 2 });
    assert.match(lint.buildError?.message ?? "", /lint violation found for rules: FromAsCasing/);
    assert.equal(lint.statusCode, 1);
  });

  it("returns the parse error and its line for a Dockerfile that does not parse", async () => {
    const { result } = await callOn("lint", "FROM scratch\nCOPY --frm=x busybox /bin/busybox\n");
    const lint = result as LintResult;
    assert.match(lint.buildError?.message ?? "", /dockerfile parse error on line 2: unknown flag: --frm/);
    assert.deepEqual(lint.buildError?.location, { file: "Dockerfile", startLine: 2, endLine: 2 });
    assert.equal(lint.statusCode, 1);
  });
});

describe("outline and targets", () => {
  const multiStage = [
    "ARG GREETING=hello",
    "FROM scratch AS base",
    "COPY busybox /bin/busybox",
    "",
    "# release is the image that ships.",
    "FROM base AS release",
    "ARG LEVEL=info",
    'RUN --mount=type=secret,id=token ["/bin/busybox", "true"]',
    "",
  ].join("\n");

  it("outline returns the default target's build args (only those it uses) and secrets", async () => {
    const { result } = await callOn("outline", multiStage);
    const outline = result as DescribeResult;
    assert.equal(outline.call, "outline");
    const json = outline.json as {
      name?: string;
      args?: Array<{ name: string; value?: string }>;
      secrets?: Array<{ name: string }>;
    };
    assert.equal(json.name, "release");
    assert.deepEqual((json.args ?? []).map((arg) => arg.name).sort(), ["LEVEL"]);
    assert.deepEqual(
      (json.secrets ?? []).map((secret) => secret.name),
      ["token"],
    );
    assert.match(outline.text, /LEVEL/);
  });

  it("targets lists each stage in order, the last as the default, with its description", async () => {
    const { result } = await callOn("targets", multiStage);
    const targets = result as DescribeResult;
    assert.equal(targets.call, "targets");
    const json = targets.json as {
      targets: Array<{ name: string; default?: boolean; description?: string }>;
    };
    assert.deepEqual(
      json.targets.map((target) => target.name),
      ["base", "release"],
    );
    assert.equal(json.targets[1]!.default, true);
    assert.equal(json.targets[0]!.default, undefined);
    assert.equal(json.targets[1]!.description, "is the image that ships.");
    assert.match(targets.text, /release/);
  });
});

describe("failures", () => {
  it("a frontend that fails gets its Return: one sentence, and no build left running", async () => {
    const call = callOn("lint", "FROM scratch\n", { attrs: { filename: "Missing.Dockerfile" } });
    await assert.rejects(call, (error: Error) => {
      assert.ok(error instanceof RpcError, `${error.name}: ${error.message}`);
      assert.match(error.message, /^The runner at tcp:\/\/127\.0\.0\.1:\d+ answered: .*Missing\.Dockerfile/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    assert.deepEqual(await unfinishedBuildsAfterCancel(runner), []);
  });
});

describe("cancellation", () => {
  it(
    "a call cancelled while the frontend waits leaves no build running on the runner",
    async () => {
      const silent = await silentRegistry();
      const controller = new AbortController();
      try {
        const call = callOn("lint", `FROM 127.0.0.1:${silent.port}/silent/image:1\n`, {
          signal: controller.signal,
          onVertex: (name) => {
            if (name.includes("load metadata")) controller.abort();
          },
        });
        await assert.rejects(call, (error: Error) => {
          assert.ok(error instanceof CancelledError, `${error.name}: ${error.message}`);
          assert.equal(error.message, "The lint call was cancelled.");
          return true;
        });
        assert.deepEqual(await unfinishedBuildsAfterCancel(runner), []);
      } finally {
        await silent.close();
      }
    },
    2 * 60_000,
  );

  it("a connection reset mid-call fails the call with one sentence, and the build ends on the runner", async () => {
    // A loopback proxy to the runner whose connections the test resets.
    const target = new URL(runner.tcpAddress.replace(/^tcp:/, "http:"));
    const proxied: Socket[] = [];
    const proxy = createServer((inbound) => {
      const outbound = connect(Number(target.port), target.hostname);
      proxied.push(inbound, outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyAddress = `tcp://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const proxiedClient = new BuildkitClient({
      endpoint: parseEndpoint(proxyAddress),
      tls: loadTlsMaterial(
        { caCert: runner.certs.caCert, cert: runner.certs.clientCert, key: runner.certs.clientKey },
        BUILDCTL_TLS_FLAGS,
      ),
      connectTimeoutMs: 10_000,
    });
    const silent = await silentRegistry();
    let resetAt = 0;
    try {
      const call = callOn("lint", `FROM 127.0.0.1:${silent.port}/silent/image:1\n`, {
        client: proxiedClient,
        onVertex: (name) => {
          if (resetAt === 0 && name.includes("load metadata")) {
            resetAt = Date.now();
            for (const socket of proxied) socket.resetAndDestroy();
          }
        },
      });
      await assert.rejects(call, (error: Error) => {
        assert.ok(
          error instanceof ConnectionError || error instanceof RpcError,
          `${error.name}: ${error.message}`,
        );
        assert.ok(error.message.startsWith(`The runner at ${proxyAddress} `), error.message);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
      assert.ok(resetAt > 0);
      assert.ok(Date.now() - resetAt < 30_000, `noticed after ${Date.now() - resetAt} ms`);
      assert.deepEqual(await unfinishedBuildsAfterCancel(runner), []);
    } finally {
      proxiedClient.close();
      for (const socket of proxied) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await silent.close();
    }
  });
});
