// What an integration test reads of the runner that scripts/test.ts started for the run.
import { join } from "node:path";

export interface RunnerUnderTest {
  tcpAddress: string;
  unixAddress: string;
  binDir: string;
  logFile: string;
  certs: {
    caCert: string;
    clientCert: string;
    clientKey: string;
    otherCaCert: string;
    otherClientCert: string;
    otherClientKey: string;
    serverKey: string;
  };
}

/** The CLI flags (buildctl's names) that reach the test runner over mTLS TCP. */
export function connectionFlags(runner: RunnerUnderTest): string[] {
  return [
    "--addr",
    runner.tcpAddress,
    "--tlscacert",
    runner.certs.caCert,
    "--tlscert",
    runner.certs.clientCert,
    "--tlskey",
    runner.certs.clientKey,
  ];
}

export function runnerUnderTest(): RunnerUnderTest {
  const tcpAddress = process.env.RB_TEST_TCP_ADDR;
  const certsDir = process.env.RB_TEST_CERTS_DIR;
  if (!tcpAddress || !certsDir) {
    throw new Error("No test runner: run integration tests through `npm test`, which starts one.");
  }
  const file = (name: string) => join(certsDir, name);
  return {
    tcpAddress,
    unixAddress: process.env.RB_TEST_UNIX_ADDR!,
    binDir: process.env.RB_TEST_BIN_DIR!,
    logFile: process.env.RB_TEST_RUNNER_LOG!,
    certs: {
      caCert: file("ca.pem"),
      clientCert: file("client.pem"),
      clientKey: file("client-key.pem"),
      otherCaCert: file("other-ca.pem"),
      otherClientCert: file("other-client.pem"),
      otherClientKey: file("other-client-key.pem"),
      serverKey: file("server-key.pem"),
    },
  };
}
