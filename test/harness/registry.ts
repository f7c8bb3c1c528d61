// A real registry for the tests: Debian's docker-registry (distribution v2.8), installed by
// install-buildkit.sh, serving TLS on a free loopback port with a certificate from a throwaway
// harness CA, and htpasswd (bcrypt) auth for one test user. The test runner's buildkitd trusts
// the CA through its config (buildkitdConfig()).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates } from "./certs.js";
import { ensureBuildkitBinaries, freePort, stopProcess } from "./runner.js";

export const TEST_REGISTRY_USER = "rb-test";

export interface TestRegistry {
  /** host:port, as in image names: `${address}/test/image:tag`. */
  address: string;
  username: string;
  password: string;
  /** The CA that signed the registry's certificate (PEM file). */
  caCert: string;
  dir: string;
  logFile: string;
  /** buildkitd TOML that makes the daemon trust this registry's CA. */
  buildkitdConfig(): string;
  stop(): Promise<void>;
}

/**
 * Bearer token auth instead of htpasswd (registry `auth.token`): the registry challenges with
 * `Bearer realm=…` and accepts JWTs signed by the key of `rootCertBundle`. Such a registry serves
 * plain HTTP, which the daemon uses for loopback registries anyway.
 */
export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
}

export async function startTestRegistry(
  options: { tokenAuth?: TokenAuthOptions } = {},
): Promise<TestRegistry> {
  const token = options.tokenAuth;
  // install-buildkit.sh installs docker-registry and htpasswd along with the buildkit binaries.
  await ensureBuildkitBinaries();
  const dir = mkdtempSync(join(tmpdir(), "remote-buildkit-registry-"));
  const certs = makeCertificates(join(dir, "certs"));
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const htpasswd = join(dir, "htpasswd");
  writeFileSync(htpasswd, await bcryptLine(TEST_REGISTRY_USER, password));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  mkdirSync(join(dir, "data"));
  const configFile = join(dir, "config.yml");
  writeFileSync(
    configFile,
    [
      "version: 0.1",
      "log:",
      "  level: info",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${address}`,
      "  secret: remote-buildkit-test-registry",
      ...(token ? [] : ["  tls:", `    certificate: ${certs.serverCert}`, `    key: ${certs.serverKey}`]),
      "auth:",
      ...(token
        ? [
            "  token:",
            `    realm: ${token.realm}`,
            `    service: ${token.service}`,
            `    issuer: ${token.issuer}`,
            `    rootcertbundle: ${token.rootCertBundle}`,
          ]
        : ["  htpasswd:", "    realm: remote-buildkit-test", `    path: ${htpasswd}`]),
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "registry.log");
  const log = openSync(logFile, "a");
  const child = spawn("docker-registry", ["serve", configFile], { stdio: ["ignore", log, log] });
  closeSync(log);
  const registry: TestRegistry = {
    address,
    username: TEST_REGISTRY_USER,
    password,
    caCert: certs.caCert,
    dir,
    logFile,
    // http = false: without it the daemon speaks plain HTTP to any loopback registry
    // (util/resolver: docker.MatchLocalhost), and our registry speaks only TLS.
    buildkitdConfig: () =>
      `[registry."${address}"]\n  http = false\n  ca = [${JSON.stringify(certs.caCert)}]\n`,
    stop: () => stopProcess(child).then(() => rmSync(dir, { recursive: true, force: true })),
  };
  try {
    await waitUntilAnswering(registry, child, token === undefined);
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return registry;
}

/** htpasswd -B reads the password on stdin (-i), so it is not on a command line. */
function bcryptLine(user: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("htpasswd", ["-niB", user], { timeout: 30_000 }, (error, stdout) =>
      error ? reject(new Error(`htpasswd failed: ${error.message}`)) : resolve(stdout.trim() + "\n"),
    );
    child.stdin!.end(password);
  });
}

/** Polls GET /v2/ (over TLS with the CA, unless token auth) until the registry answers (401: it wants the password). */
async function waitUntilAnswering(registry: TestRegistry, child: ChildProcess, tls: boolean): Promise<void> {
  const ca = readFileSync(registry.caCert);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${child.exitCode}; see ${registry.logFile}`);
    }
    const status = await new Promise<number | undefined>((resolve) => {
      const url = `${tls ? "https" : "http"}://${registry.address}/v2/`;
      const req = (tls ? httpsRequest : httpRequest)(url, { ca, timeout: 2_000 }, (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(undefined));
      req.end();
    });
    if (status === 401) return;
    if (Date.now() > deadline) {
      throw new Error(
        `docker-registry did not answer within 30 s (last status ${status}); see ${registry.logFile}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The environment that points integration tests at the registry (read by env.ts). */
export function registryEnv(registry: TestRegistry): Record<string, string> {
  return {
    RB_TEST_REGISTRY: registry.address,
    RB_TEST_REGISTRY_USER: registry.username,
    RB_TEST_REGISTRY_PASSWORD: registry.password,
    RB_TEST_REGISTRY_CA: registry.caCert,
  };
}
