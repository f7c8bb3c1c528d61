// The session's Auth, Secrets and SSH services against the real runner and the test registry:
// builds driven through our Session and Solve directly (the CLI and action wire them later).
import { afterAll, beforeAll, describe, it, jest } from "@jest/globals";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import { type BuildkitClient } from "../../src/buildkit/index.js";
import { authService } from "../../src/buildkit/session/auth.js";
import { fileSyncService } from "../../src/buildkit/session/filesync.js";
import { healthService } from "../../src/buildkit/session/health.js";
import { secretsService } from "../../src/buildkit/session/secrets.js";
import { sshService } from "../../src/buildkit/session/ssh.js";
import { Session, type SessionService } from "../../src/buildkit/session/tunnel.js";
import { solve } from "../../src/buildkit/solve.js";
import { loadRegistryCredentials } from "../../src/credentials/docker-config.js";
import { Redactor } from "../../src/report/redact.js";
import {
  registryUnderTest,
  runnerUnderTest,
  type RegistryUnderTest,
  type RunnerUnderTest,
} from "../harness/env.js";
import { testRunnerClient } from "../helpers/client.js";
import { makeContext, run } from "../helpers/contexts.js";
import { manifestStatus } from "../helpers/registry.js";
import { startTestRegistry, type TestRegistry, type TokenAuthOptions } from "../harness/registry.js";
import { makeSelfSigned } from "../harness/certs.js";
import { tempDir } from "../helpers/temp.js";

const MINUTE = 60_000;
// Each test and hook here has 5 minutes.
jest.setTimeout(5 * MINUTE);

let runner: RunnerUnderTest;
let registry: RegistryUnderTest;
let client: BuildkitClient;

beforeAll(() => {
  runner = runnerUnderTest();
  registry = registryUnderTest();
  client = testRunnerClient(runner);
});
afterAll(() => client.close());

interface BuildOutcome {
  /** Every log line the build's steps printed. */
  log: string;
  error?: Error;
  exporterResponse?: Record<string, string>;
}

/** Builds `context` through a session with `services` (plus health and the context dirs). */
async function build(
  context: string,
  services: SessionService[],
  exporters: Array<{ type: string; attrs: Record<string, string> }> = [],
): Promise<BuildOutcome> {
  const signal = AbortSignal.timeout(3 * MINUTE);
  const session = new Session(client, {
    sharedKey: "session-services-test",
    services: [healthService(), fileSyncService({ context, dockerfile: context }), ...services],
    signal,
  });
  let log = "";
  try {
    const exporterResponse = await solve(client, {
      sessionId: session.id,
      frontend: "dockerfile.v0",
      frontendAttrs: { filename: "Dockerfile", "no-cache": "" },
      exporters,
      onStatus: (status) => {
        for (const entry of status.logs) log += Buffer.from(entry.msg).toString("utf8");
      },
      signal,
    });
    return { log, exporterResponse };
  } catch (error) {
    return { log, error: error as Error };
  } finally {
    session.close();
  }
}

function dockerfile(...lines: string[]): string {
  return makeContext({ Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", ...lines].join("\n") });
}

describe("session Secrets service", () => {
  const secrets = new Map([
    ["token", new TextEncoder().encode("s3cr3t-token-value")],
    ["file", new TextEncoder().encode("line one\nline two\n")],
  ]);

  it("serves each secret to RUN --mount=type=secret, and the redactor hides it in the log", async () => {
    const requested: string[] = [];
    const context = dockerfile(
      run("echo token=$(cat /run/secrets/token)").replace(
        "RUN ",
        "RUN --mount=type=secret,id=token,required=true ",
      ),
      run("cat /run/secrets/file").replace("RUN ", "RUN --mount=type=secret,id=file,required=true "),
    );
    const outcome = await build(context, [
      secretsService(secrets, { onRequest: (id) => requested.push(id) }),
    ]);
    assert.equal(outcome.error, undefined, outcome.log);
    assert.match(outcome.log, /token=s3cr3t-token-value/);
    assert.match(outcome.log, /line one\nline two/);
    assert.deepEqual([...new Set(requested)].sort(), ["file", "token"]);
    const redacted = new Redactor(["s3cr3t-token-value"]).redact(outcome.log);
    assert.match(redacted, /token=\*\*\*/);
    assert.ok(!redacted.includes("s3cr3t-token-value"));
  });

  it("answers an unknown id NotFound: a required mount fails naming it, an optional one is skipped", async () => {
    const required = await build(
      dockerfile(run("true").replace("RUN ", "RUN --mount=type=secret,id=missing,required=true ")),
      [secretsService(secrets)],
    );
    assert.ok(required.error, "the build should fail");
    assert.match(required.error.message, /secret missing: not found/);

    const optional = await build(
      dockerfile(
        run("test -e /run/secrets/missing && echo present || echo absent").replace(
          "RUN ",
          "RUN --mount=type=secret,id=missing ",
        ),
      ),
      [secretsService(secrets)],
    );
    assert.equal(optional.error, undefined, optional.log);
    assert.match(optional.log, /absent/);
  });
});

describe("session Auth service", () => {
  it("answers Credentials for the registry host the daemon asks about, and the push succeeds", async () => {
    const asked: string[] = [];
    const masked: string[] = [];
    const lookup = loadRegistryCredentials({
      explicit: [{ registry: registry.address, username: registry.username, password: registry.password }],
      useDockerConfig: false,
      onSecret: (value) => masked.push(value),
    });
    const outcome = await build(
      dockerfile(),
      [authService(lookup, { onCredentials: (host) => asked.push(host) })],
      [{ type: "image", attrs: { name: `${registry.address}/session/pushed:ok`, push: "true" } }],
    );
    assert.equal(outcome.error, undefined, outcome.error?.message);
    assert.ok(asked.includes(registry.address), `asked about ${asked.join(", ")}`);
    assert.deepEqual(masked, [registry.password]);
    assert.match(outcome.exporterResponse?.["containerimage.digest"] ?? "", /^sha256:/);
    assert.equal(await manifestStatus(registry, "session/pushed", "ok"), 200);
  });

  it("fails the push with a wrong password, and the error names the registry but not the password", async () => {
    const lookup = loadRegistryCredentials({
      explicit: [
        { registry: registry.address, username: registry.username, password: "wrong-password-value" },
      ],
      useDockerConfig: false,
      onSecret: () => {},
    });
    const outcome = await build(
      dockerfile(),
      [authService(lookup)],
      [{ type: "image", attrs: { name: `${registry.address}/session/pushed:wrong`, push: "true" } }],
    );
    assert.ok(outcome.error, "the push should fail");
    assert.match(outcome.error.message, /401 Unauthorized/);
    assert.ok(outcome.error.message.includes(registry.address));
    assert.ok(!outcome.error.message.includes("wrong-password-value"));
    assert.equal(await manifestStatus(registry, "session/pushed", "wrong"), 404);
  });

  it("passes a lookup's error to the daemon and to onError", async () => {
    const errors: unknown[] = [];
    const outcome = await build(
      dockerfile(),
      [
        authService(
          () => {
            throw new Error("the credential helper docker-credential-x failed");
          },
          { onError: (error) => errors.push(error) },
        ),
      ],
      [{ type: "image", attrs: { name: `${registry.address}/session/pushed:helper`, push: "true" } }],
    );
    assert.ok(outcome.error, "the push should fail");
    assert.match(outcome.error.message, /docker-credential-x failed/);
    // The daemon may ask again for a request it retries (seen once in a cold CI run): every ask
    // fails the same way, and each reaches onError.
    assert.ok(errors.length >= 1);
    for (const error of errors) assert.match((error as Error).message, /docker-credential-x failed/);
  });
});

describe("session Auth service with a Bearer-token registry", () => {
  const user = "token-user";
  const password = "token-password-value";
  let tokens: TokenServer;
  let tokenRegistry: TestRegistry;

  beforeAll(async () => {
    tokens = await startTokenServer(user, password);
    tokenRegistry = await startTestRegistry({ tokenAuth: tokens.options });
  });
  afterAll(async () => {
    await tokenRegistry?.stop();
    await tokens?.close();
  });

  it("refuses GetTokenAuthority so that the daemon fetches the token itself with our credentials", async () => {
    const service = authService(
      loadRegistryCredentials({
        explicit: [{ registry: tokenRegistry.address, username: user, password }],
        useDockerConfig: false,
        onSecret: () => {},
      }),
    );
    let authorityCalls = 0;
    const refuse = service.implementation.getTokenAuthority as (...args: unknown[]) => void;
    service.implementation.getTokenAuthority = (...args: unknown[]) => {
      authorityCalls++;
      refuse(...args);
    };
    const outcome = await build(
      dockerfile(),
      [service],
      [{ type: "image", attrs: { name: `${tokenRegistry.address}/session/token:ok`, push: "true" } }],
    );
    assert.equal(outcome.error, undefined, outcome.error?.message);
    assert.ok(authorityCalls > 0, "the daemon asked for a token authority first");
    assert.ok(tokens.issued.length > 0, "the daemon fetched a token from the realm");
    assert.ok(tokens.issued.every((grant) => grant.user === user));
    assert.ok(
      tokens.issued.some((grant) =>
        grant.scopes.some((scope) => scope.includes("session/token:") && scope.includes("push")),
      ),
    );
  });
});

describe("session SSH service", () => {
  let agent: ChildProcess | undefined;
  let agentSocket: string;
  let probeDir: string;

  beforeAll(async () => {
    const dir = tempDir("rb-ssh-agent-");
    agentSocket = join(dir, "agent.sock");
    agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "rb-forwarded-key",
      "-f",
      join(dir, "key"),
    ]);
    for (let i = 0; ; i++) {
      try {
        execFileSync("ssh-add", [join(dir, "key")], {
          env: { ...process.env, SSH_AUTH_SOCK: agentSocket },
          stdio: "pipe",
        });
        break;
      } catch (error) {
        if (i > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    probeDir = buildAgentProbe();
  });
  afterAll(() => {
    agent?.kill();
  });

  it("forwards the agent: a RUN lists the key through the mounted socket", async () => {
    const context = dockerfile(
      "COPY agent-probe /bin/agent-probe",
      'RUN --mount=type=ssh ["/bin/agent-probe"]',
    );
    writeFileSync(join(context, "agent-probe"), readFileSync(join(probeDir, "agent-probe")), { mode: 0o755 });
    const outcome = await build(context, [sshService(new Map([["default", agentSocket]]))]);
    assert.equal(outcome.error, undefined, outcome.log);
    assert.match(outcome.log, /rb-forwarded-key/);
  });

  it("reports an ssh id that was not forwarded", async () => {
    const context = dockerfile(run("true").replace("RUN ", "RUN --mount=type=ssh,id=other,required=true "));
    const outcome = await build(context, [sshService(new Map([["default", agentSocket]]))]);
    assert.ok(outcome.error, "the build should fail");
    assert.match(outcome.error.message, /no SSH agent "other" was forwarded by the client/);
  });
});

/**
 * A static program for the build container that asks $SSH_AUTH_SOCK for its identities and
 * prints the answer (busybox has no unix-socket client). Built with the Go that builds buildkitd.
 */
function buildAgentProbe(): string {
  const dir = tempDir("rb-agent-probe-");
  writeFileSync(join(dir, "go.mod"), "module agentprobe\n\ngo 1.21\n");
  writeFileSync(
    join(dir, "main.go"),
    `package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	conn, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	// SSH_AGENTC_REQUEST_IDENTITIES (11), framed by a 4-byte length.
	if _, err := conn.Write([]byte{0, 0, 0, 1, 11}); err != nil {
		fmt.Println("write:", err)
		os.Exit(1)
	}
	var length uint32
	if err := binary.Read(conn, binary.BigEndian, &length); err != nil {
		fmt.Println("read:", err)
		os.Exit(1)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(conn, body); err != nil {
		fmt.Println("read:", err)
		os.Exit(1)
	}
	fmt.Printf("agent answered type %d: %q\\n", body[0], body)
}
`,
  );
  execFileSync("go", ["build", "-o", "agent-probe", "."], {
    cwd: dir,
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
    stdio: "pipe",
    timeout: 5 * MINUTE,
  });
  return dir;
}

interface TokenServer {
  options: TokenAuthOptions;
  /** Who got a token, for which scopes. */
  issued: Array<{ user: string; scopes: string[] }>;
  close(): Promise<void>;
}

/**
 * A minimal token server (the registry's `auth.token` realm): checks the user and password sent
 * by GET with basic auth or by an OAuth2 password POST, and signs an ES256 JWT that carries the
 * signing certificate in x5c, which the registry verifies against its root bundle.
 */
async function startTokenServer(user: string, password: string): Promise<TokenServer> {
  const dir = tempDir("rb-token-server-");
  makeSelfSigned(dir, "issuer", "/CN=rb token issuer");
  const key = createPrivateKey(readFileSync(join(dir, "issuer-key.pem")));
  const der = new X509Certificate(readFileSync(join(dir, "issuer.pem"))).raw.toString("base64");
  const service = "rb-test-registry";
  const issuer = "rb-test-issuer";
  const issued: TokenServer["issued"] = [];
  const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://token");
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      let given: { user: string; password: string } | undefined;
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
      if (basic) {
        const [name, ...rest] = Buffer.from(basic[1]!, "base64").toString().split(":");
        given = { user: name!, password: rest.join(":") };
      } else if (form.get("grant_type") === "password") {
        given = { user: form.get("username") ?? "", password: form.get("password") ?? "" };
      }
      if (!given || given.user !== user || given.password !== password) {
        res.writeHead(401).end();
        return;
      }
      const scopes = [...url.searchParams.getAll("scope"), ...form.getAll("scope")].flatMap((scope) =>
        scope.split(" "),
      );
      const access = scopes.map((scope) => {
        const [type, name, actions] = scope.split(":");
        return { type, name, actions: (actions ?? "").split(",").filter((action) => action !== "") };
      });
      const now = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [der] }));
      const claims = base64url(
        JSON.stringify({
          iss: issuer,
          sub: user,
          aud: service,
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: randomUUID(),
          access,
        }),
      );
      const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
        key,
        dsaEncoding: "ieee-p1363",
      });
      const token = `${header}.${claims}.${base64url(signature)}`;
      issued.push({ user: given.user, scopes });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    options: {
      realm: `http://127.0.0.1:${port}/token`,
      service,
      issuer,
      rootCertBundle: join(dir, "issuer.pem"),
    },
    issued,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
