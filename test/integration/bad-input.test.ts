// Every bad connection input against the real runner: one sentence that names the input and the
// problem, exit code 1 or 2, no stack trace, and a bounded wait.
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { freePort } from "../harness/runner.js";
import { runnerUnderTest, type RunnerUnderTest } from "../harness/env.js";
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CLI_BUNDLE, cleanEnv, isOneSentence, runCli, runProcess } from "../helpers/cli.js";
import { ensureTestUsers } from "../harness/users.js";
import { buildctlBuild } from "../helpers/buildctl.js";
import { makeContext } from "../helpers/contexts.js";
import { tempDir } from "../helpers/temp.js";
import { BUILDKIT_VERSION } from "../../src/version.js";
import { escapeRegExp } from "../helpers/regex.js";

let runner: RunnerUnderTest;
beforeAll(() => {
  runner = runnerUnderTest();
});

function tls(overrides: Partial<Record<"ca" | "cert" | "key", string | null>> = {}): string[] {
  const pieces = {
    ca: runner.certs.caCert,
    cert: runner.certs.clientCert,
    key: runner.certs.clientKey,
    ...overrides,
  };
  return [
    ...(pieces.ca ? ["--tlscacert", pieces.ca] : []),
    ...(pieces.cert ? ["--tlscert", pieces.cert] : []),
    ...(pieces.key ? ["--tlskey", pieces.key] : []),
  ];
}

async function expectFailure(args: string[], code: number, message: string | RegExp): Promise<void> {
  const result = await runCli(["info", ...args]);
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  assert.ok(isOneSentence(result.stderr), `one sentence, no stack: ${result.stderr}`);
  const sentence = result.stderr.trim().replace(/^error: /, "");
  if (typeof message === "string") assert.equal(sentence, message);
  else assert.match(sentence, message);
  assert.equal(result.stdout, "");
}

describe("bad connection input", () => {
  it("a malformed endpoint", () =>
    expectFailure(
      ["--addr", "tcp//127.0.0.1:1234"],
      2,
      'Endpoint "tcp//127.0.0.1:1234" has no scheme; use tcp://HOST:PORT, unix:///PATH or ssh://[USER@]HOST[:PORT][/SOCKET].',
    ));

  it("an unknown scheme", () =>
    expectFailure(
      ["--addr", "docker-container://buildkitd"],
      2,
      /^Endpoint "docker-container:\/\/buildkitd" uses the scheme docker-container:\/\//,
    ));

  it("nothing listening", async () => {
    const port = await freePort();
    await expectFailure(
      ["--addr", `tcp://127.0.0.1:${port}`, ...tls()],
      1,
      `Nothing is listening at tcp://127.0.0.1:${port} (connection refused).`,
    );
  });

  it("no socket file", () =>
    expectFailure(
      ["--addr", "unix:///nonexistent/buildkitd.sock"],
      1,
      "There is no runner socket at unix:///nonexistent/buildkitd.sock (no such file).",
    ));

  describe("a runner that does not answer", () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    });
    afterAll(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });

    it("fails after the timeout instead of hanging", async () => {
      const { port } = silent.address() as { port: number };
      await expectFailure(
        ["--addr", `tcp://127.0.0.1:${port}`, "--timeout", "1s", ...tls()],
        1,
        `The runner at tcp://127.0.0.1:${port} did not answer within 1 s.`,
      );
    }, 30_000);
  });

  it("a CA that did not sign the runner's certificate", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ ca: runner.certs.otherCaCert })],
      1,
      `The runner's certificate at ${runner.tcpAddress} is not signed by the given CA.`,
    ));

  it("no client certificate for a runner that requires one", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ cert: null, key: null })],
      1,
      `The runner at ${runner.tcpAddress} requires a client certificate, and none was given.`,
    ));

  it("a client certificate the runner's CA did not sign", () =>
    expectFailure(
      [
        "--addr",
        runner.tcpAddress,
        ...tls({ cert: runner.certs.otherClientCert, key: runner.certs.otherClientKey }),
      ],
      1,
      `The runner at ${runner.tcpAddress} refused the client certificate: it is not signed by a CA the runner trusts.`,
    ));

  it("plaintext to a runner that serves TLS", () =>
    expectFailure(
      ["--addr", runner.tcpAddress],
      1,
      `The runner at ${runner.tcpAddress} closed the connection; if it serves TLS, give its CA, a client certificate and key.`,
    ));

  it("a server name the runner's certificate does not hold", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls(), "--tlsservername", "other.example"],
      1,
      /is not valid for that host name/,
    ));

  it("a key without a certificate", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ cert: null })],
      2,
      "--tlskey is given without --tlscert: give both or neither.",
    ));

  it("an unreadable file", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ ca: "/nonexistent/ca.pem" })],
      2,
      '--tlscacert "/nonexistent/ca.pem" cannot be read: no such file.',
    ));

  it("a key that belongs to another certificate", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls({ key: runner.certs.serverKey })],
      2,
      /^--tlskey ".*server-key\.pem" does not belong to the certificate in --tlscert/,
    ));

  it("a version pin the runner does not meet", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls(), "--buildkit-version", "v0.31.0"],
      1,
      `The runner at ${runner.tcpAddress} runs BuildKit v${BUILDKIT_VERSION}, but the pin requires v0.31.0.`,
    ));

  it("a version pin that is not a version", () =>
    expectFailure(
      ["--addr", runner.tcpAddress, ...tls(), "--buildkit-version", "newest"],
      2,
      /^--buildkit-version is "newest", which is neither a version/,
    ));

  it("a missed pin only warns when asked to", async () => {
    const result = await runCli([
      "info",
      "--addr",
      runner.tcpAddress,
      ...tls(),
      "--buildkit-version",
      "~0.31",
      "--version-mismatch",
      "warning",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      `warning: The runner at ${runner.tcpAddress} runs BuildKit v${BUILDKIT_VERSION}, but the pin requires ~0.31.\n`,
    );
    assert.match(
      result.stdout,
      new RegExp(`^BuildKit: {3}github\\.com/moby/buildkit v${escapeRegExp(BUILDKIT_VERSION)}`, "m"),
    );
  });
});

describe("build values checked before work starts", () => {
  let context: string;
  beforeAll(() => {
    context = makeContext({ Dockerfile: "FROM scratch\nCOPY busybox /bin/busybox\n" });
  });

  /** A build with these flags against the test runner: refused with exit 2 and one sentence. */
  async function expectRefused(flags: string[], sentence: string): Promise<void> {
    const result = await runCli(["build", "--addr", runner.tcpAddress, ...tls(), ...flags, context]);
    assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
    assert.ok(isOneSentence(result.stderr), `one sentence, no stack: ${result.stderr}`);
    assert.equal(result.stderr, `error: ${sentence}\n`, "nothing else printed: no work started");
  }

  it("--progress tty (no tty view: plain and auto are what it takes)", () =>
    expectRefused(
      ["--progress", "tty"],
      `--progress is "tty"; use plain or auto (the log is buildctl's plain progress; no tty view).`,
    ));

  it("--platform ''", () =>
    expectRefused(
      ["--platform", ""],
      '--platform is given "", which has no value in it; give one or leave the flag out.',
    ));

  it("--annotation noequals", () =>
    expectRefused(["--annotation", "noequals"], '--annotation "noequals" is not KEY=VALUE.'));

  it("--annotation bogus:k=v", () =>
    expectRefused(
      ["--annotation", "bogus:k=v"],
      '--annotation "bogus:k=v" has the type "bogus"; use manifest, index, manifest-descriptor or index-descriptor, each with an optional [PLATFORM].',
    ));

  it("takes buildx's typed annotations, with a platform, and the image carries them as buildctl's does", async () => {
    /** The annotations of an OCI tar's first manifest and of its descriptor in index.json. */
    const annotationsOf = (tar: string) => {
      const dir = tempDir("rb-annotation-");
      execFileSync("tar", ["-xf", tar, "-C", dir]);
      const json = (...path: string[]) =>
        JSON.parse(readFileSync(join(dir, ...path), "utf8")) as {
          manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
          annotations?: Record<string, string>;
        };
      const descriptor = json("index.json").manifests[0]!;
      // The creation time differs between two builds.
      const onDescriptor = { ...descriptor.annotations };
      delete onDescriptor["org.opencontainers.image.created"];
      return { onDescriptor, onManifest: json("blobs", ...descriptor.digest.split(":")).annotations ?? {} };
    };
    const out = tempDir("rb-annotation-");
    const result = await runCli([
      "build",
      "--addr",
      runner.tcpAddress,
      ...tls(),
      "--platform",
      "linux/amd64",
      "--annotation",
      "manifest,manifest-descriptor:org.example.k=v",
      "--annotation",
      "manifest[linux/amd64]:org.example.scoped=s",
      "--output",
      `type=oci,dest=${join(out, "ours.tar")}`,
      context,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const ours = annotationsOf(join(out, "ours.tar"));
    assert.equal(ours.onManifest["org.example.k"], "v");
    assert.equal(ours.onDescriptor["org.example.k"], "v");
    const reference = await buildctlBuild(runner, context, [
      "--opt",
      "platform=linux/amd64",
      "--output",
      `type=oci,dest=${join(out, "buildctl.tar")},annotation-manifest.org.example.k=v,annotation-manifest-descriptor.org.example.k=v,annotation-manifest[linux/amd64].org.example.scoped=s`,
    ]);
    assert.equal(reference.code, 0, reference.stderr);
    // BuildKit v0.32.2 drops a platform-scoped manifest annotation on a one-platform build, for both.
    assert.deepEqual(ours, annotationsOf(join(out, "buildctl.tar")));
  });

  it("inline PEM values for the TLS flags, without '=', as the help shows them", async () => {
    const pem = (file: string) => readFileSync(file, "utf8");
    const result = await runCli([
      "info",
      "--addr",
      runner.tcpAddress,
      "--tlscacert",
      pem(runner.certs.caCert),
      "--tlscert",
      pem(runner.certs.clientCert),
      "--tlskey",
      pem(runner.certs.clientKey),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^BuildKit: {3}github\.com\/moby\/buildkit /m);
  });

  describe("a platform no worker of the one runner builds natively", () => {
    it("is a warning, and the build goes on", async () => {
      const result = await runCli([
        "build",
        "--addr",
        runner.tcpAddress,
        ...tls(),
        "--platform",
        "linux/s390x",
        context,
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `^warning: No worker of ${escapeRegExp(runner.tcpAddress)} builds linux/s390x natively \\(its own: linux/amd64[^)]*\\): it is built under emulation, where the runner has it\\.$`,
          "m",
        ),
      );
    });

    it("is an error with --strict-platforms (a policy, exit 1)", async () => {
      const result = await runCli([
        "build",
        "--addr",
        runner.tcpAddress,
        ...tls(),
        "--platform",
        "linux/s390x",
        "--strict-platforms",
        context,
      ]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr.trim().split("\n").at(-1)!,
        new RegExp(
          `^error: No worker of ${escapeRegExp(runner.tcpAddress)} builds linux/s390x natively \\(its own: linux/amd64[^)]*\\), and strict platform routing forbids emulation\\.$`,
        ),
      );
      assert.doesNotMatch(result.stderr, /^#\d+ /m, "no build started");
    });
  });

  describe("a docker config that cannot be read", () => {
    let dockerConfig: string;
    beforeAll(() => {
      // A directory where the file should be: unreadable even for root (the tests run as root,
      // for whom a HOME without permissions is still readable).
      dockerConfig = tempDir("rb-docker-config-");
      mkdirSync(join(dockerConfig, "config.json"));
    });

    it("is a warning for a build that pushes nothing", async () => {
      const result = await runCli(
        ["build", "--addr", runner.tcpAddress, ...tls(), context],
        cleanEnv({ DOCKER_CONFIG: dockerConfig }),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `^warning: The docker config ${escapeRegExp(join(dockerConfig, "config.json"))} cannot be read \\(EISDIR\\); building without its registry credentials\\.$`,
          "m",
        ),
      );
    });

    it("HOME unreadable (EACCES, as a user who is not root) is a warning for a build that pushes nothing", async () => {
      const users = ensureTestUsers();
      // The user reads nothing of root's: the bundle, the context and the TLS material are shared
      // copies (the PEM inline), and HOME is root's own, mode 0700.
      const shared = tempDir("rb-eacces-");
      copyFileSync(CLI_BUNDLE, join(shared, "cli.mjs"));
      cpSync(context, join(shared, "context"), { recursive: true });
      execFileSync("chmod", ["-R", "a+rX", shared]);
      assert.equal(statSync("/root").mode & 0o007, 0, "root's home is closed to others");
      const pem = (file: string) => readFileSync(file, "utf8");
      const result = await runProcess(
        "runuser",
        [
          "-u",
          users.plain.name,
          "--",
          "env",
          "-i",
          `PATH=${process.env.PATH}`,
          "HOME=/root",
          process.execPath,
          join(shared, "cli.mjs"),
          "build",
          "--addr",
          runner.tcpAddress,
          "--tlscacert",
          pem(runner.certs.caCert),
          "--tlscert",
          pem(runner.certs.clientCert),
          "--tlskey",
          pem(runner.certs.clientKey),
          join(shared, "context"),
        ],
        { cwd: shared },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /^warning: The docker config \/root\/\.docker\/config\.json cannot be read \(EACCES\); building without its registry credentials\.$/m,
      );
    });

    it("is refused before work starts for a build that pushes", async () => {
      const result = await runCli(
        ["build", "--addr", runner.tcpAddress, ...tls(), "--push", "-t", "registry.invalid/rb/x:1", context],
        cleanEnv({ DOCKER_CONFIG: dockerConfig }),
      );
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        `error: The docker config ${join(dockerConfig, "config.json")} cannot be read (EISDIR).\n`,
      );
    });
  });

  it("control characters from the runner reach the terminal escaped", async () => {
    const binary = makeContext({ Dockerfile: "\x1b[2J\x1b]0;owned\x07\x00\x01\x9b31m garbage\n" });
    const result = await runCli(["build", "--addr", runner.tcpAddress, ...tls(), binary]);
    assert.equal(result.code, 1, result.stderr);
    const controls = [...result.stderr].filter((c) => {
      const code = c.charCodeAt(0);
      return (code < 0x20 && c !== "\n" && c !== "\t") || (code >= 0x7f && code <= 0x9f);
    });
    assert.deepEqual(controls, [], "no raw control character in the output");
    assert.match(result.stderr.trim().split("\n").at(-1)!, /^error: The build failed: .*\\x1b\[2J/);
  });
});
