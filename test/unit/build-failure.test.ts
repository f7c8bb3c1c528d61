// How a failed Solve becomes an error: a transport lost under the build is a ConnectionLostError
// (the build may run again elsewhere); the runner's own answer stays an RpcError (never retried).
import { afterAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import {
  BuildkitClient,
  ConnectionLostError,
  parseEndpoint,
  RpcError,
  RunnerGoneError,
} from "../../src/buildkit/index.js";

const client = new BuildkitClient({
  endpoint: parseEndpoint("tcp://127.0.0.1:1234"),
  tls: {},
  connectTimeoutMs: 1000,
});
afterAll(() => client.close());

function serviceError(code: number, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
}

describe("a failed Solve", () => {
  for (const details of ["Connection dropped", "read ECONNRESET", "No connection established"]) {
    it(`is a lost connection for UNAVAILABLE (${details})`, () => {
      const error = client.translateBuildFailure(serviceError(status.UNAVAILABLE, details));
      assert.ok(error instanceof ConnectionLostError && error instanceof RunnerGoneError);
      assert.equal(
        error.message,
        `The connection to the runner at tcp://127.0.0.1:1234 was lost mid-build (${details}).`,
      );
      assert.equal((error as ConnectionLostError).endpoint, "tcp://127.0.0.1:1234");
    });
  }

  it("is the runner's answer for a build that failed for its own reasons", () => {
    const error = client.translateBuildFailure(
      serviceError(
        status.UNKNOWN,
        'process "/bin/busybox sh -c exit 1" did not complete successfully: exit code: 1',
      ),
    );
    assert.ok(error instanceof RpcError);
    assert.ok(!(error instanceof RunnerGoneError));
  });

  it("is a cancellation when the signal was aborted", () => {
    const controller = new AbortController();
    controller.abort();
    const error = client.translateBuildFailure(
      serviceError(status.CANCELLED, "Cancelled on client"),
      controller.signal,
    );
    assert.equal(error.name, "CancelledError");
  });
});
