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

/** The test registry that scripts/test.ts started (test/harness/registry.ts): TLS and htpasswd. */
export interface RegistryUnderTest {
  /** host:port, as in image names. */
  address: string;
  username: string;
  password: string;
  /** The PEM file of the CA that signed the registry's certificate; the runner trusts it. */
  caCert: string;
}

export function registryUnderTest(): RegistryUnderTest {
  const address = process.env.RB_TEST_REGISTRY;
  if (!address) {
    throw new Error("No test registry: run integration tests through `npm test`, which starts one.");
  }
  return {
    address,
    username: process.env.RB_TEST_REGISTRY_USER!,
    password: process.env.RB_TEST_REGISTRY_PASSWORD!,
    caCert: process.env.RB_TEST_REGISTRY_CA!,
  };
}
