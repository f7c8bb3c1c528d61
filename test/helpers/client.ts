// Tests that drive the library directly (sessions, solves, probes) all need the same client for the test runner.
import {
  BuildkitClient,
  BUILDCTL_TLS_FLAGS,
  loadTlsMaterial,
  parseEndpoint,
} from "../../src/buildkit/index.js";
import type { RunnerUnderTest } from "../harness/env.js";

/** A BuildkitClient for the test runner over mTLS TCP, with the harness's client certificate. */
export function testRunnerClient(runner: RunnerUnderTest): BuildkitClient {
  return new BuildkitClient({
    endpoint: parseEndpoint(runner.tcpAddress),
    tls: loadTlsMaterial(
      { caCert: runner.certs.caCert, cert: runner.certs.clientCert, key: runner.certs.clientKey },
      BUILDCTL_TLS_FLAGS,
    ),
    connectTimeoutMs: 10_000,
  });
}
