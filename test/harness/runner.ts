// A real BuildKit runner for the tests: buildkitd built from the Go module (install-buildkit.sh),
// serving mTLS on a free loopback TCP port and plain gRPC on a unix socket, stopped afterwards.
import { spawn, execFile, execFileSync, type ChildProcess } from "node:child_process";
import {
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  mkdirSync,
  existsSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { makeCertificates, type CertificateSet } from "./certs.js";
import { BUILDKIT_VERSION } from "../../src/version.js";

const execFileAsync = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));

export const PINNED_BUILDKIT_VERSION = `v${BUILDKIT_VERSION}`;

export interface TestRunner {
  tcpAddress: string;
  unixAddress: string;
  certs: CertificateSet;
  binDir: string;
  dir: string;
  logFile: string;
  /** buildkitd's process id, for the tests that freeze (SIGSTOP) or kill it. */
  pid: number;
  /** buildctl with the TLS flags for this runner, for comparisons with the reference client. */
  buildctlArgs(): string[];
  /** Settles with buildkitd's exit code (null for a signal) when it exits, stopped or not. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

let binaries: Promise<string> | undefined;

/** Builds (first time) or finds buildkitd and buildctl; returns their directory. */
export function ensureBuildkitBinaries(): Promise<string> {
  binaries ??= execFileAsync("bash", [join(HERE, "install-buildkit.sh")], {
    env: { ...process.env, BUILDKIT_VERSION: PINNED_BUILDKIT_VERSION },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60 * 1000,
  }).then(({ stdout }) => stdout.trim().split("\n").pop()!);
  return binaries;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  /** Extra buildkitd flags. */
  args?: string[];
  /** Extra environment variables for buildkitd (e.g. BUILDKIT_STEP_LOG_MAX_SIZE). */
  env?: Record<string, string>;
  /** buildkitd.toml content (registry CAs, say), passed with --config. */
  config?: string;
}

export async function startTestRunner(options: StartOptions = {}): Promise<TestRunner> {
  const binDir = await ensureBuildkitBinaries();
  const dir = mkdtempSync(join(tmpdir(), "remote-buildkit-runner-"));
  const certs = makeCertificates(join(dir, "certs"));
  const port = await freePort();
  const socket = join(dir, "buildkitd.sock");
  const logFile = join(dir, "buildkitd.log");
  mkdirSync(join(dir, "root"));
  // buildkitd's own temporary files go to a dir removed with the rest: BuildKit (v0.32.2) leaves
  // the directory of every SSH agent socket it mounts (.buildkit-ssh-sock*) in its TMPDIR.
  mkdirSync(join(dir, "tmp"));
  const configArgs: string[] = [];
  if (options.config !== undefined) {
    writeFileSync(join(dir, "buildkitd.toml"), options.config);
    configArgs.push("--config", join(dir, "buildkitd.toml"));
  }
  const log = openSync(logFile, "a");
  const child = spawn(
    join(binDir, "buildkitd"),
    [
      "--root",
      join(dir, "root"),
      "--addr",
      `tcp://127.0.0.1:${port}`,
      "--addr",
      `unix://${socket}`,
      // Not the shared default /run/buildkit/otel-grpc.sock, which parallel runners race for.
      "--otel-socket-path",
      join(dir, "otel-grpc.sock"),
      "--tlscert",
      certs.serverCert,
      "--tlskey",
      certs.serverKey,
      "--tlscacert",
      certs.caCert,
      "--oci-worker=true",
      "--containerd-worker=false",
      ...configArgs,
      ...(options.args ?? []),
    ],
    {
      stdio: ["ignore", log, log],
      env: {
        ...process.env,
        ...options.env,
        PATH: `${binDir}:${process.env.PATH}`,
        TMPDIR: join(dir, "tmp"),
      },
    },
  );
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const tcpAddress = `tcp://127.0.0.1:${port}`;
  const unixAddress = `unix://${socket}`;
  const runner: TestRunner = {
    tcpAddress,
    unixAddress,
    certs,
    binDir,
    dir,
    logFile,
    pid: child.pid!,
    buildctlArgs: () => [
      "--addr",
      tcpAddress,
      "--tlscacert",
      certs.caCert,
      "--tlscert",
      certs.clientCert,
      "--tlskey",
      certs.clientKey,
    ],
    exited,
    stop: () =>
      stopProcess(child).then(() => {
        unmountUnder(dir);
        rmSync(dir, { recursive: true, force: true });
      }),
  };
  try {
    await waitUntilAnswering(runner, child);
  } catch (error) {
    await runner.stop();
    throw error;
  }
  return runner;
}

/** Polls with buildctl (the reference client, not ours) until the runner answers on TCP with mTLS. */
async function waitUntilAnswering(runner: TestRunner, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`buildkitd exited with ${child.exitCode}; see ${runner.logFile}`);
    }
    try {
      await execFileAsync(join(runner.binDir, "buildctl"), [...runner.buildctlArgs(), "debug", "workers"], {
        timeout: 5_000,
      });
      if (existsSync(runner.unixAddress.slice("unix://".length))) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`buildkitd did not answer within 60 s; see ${runner.logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A buildkitd that was killed (SIGKILL, as some tests do) leaves its snapshot and cache mounts
 * behind, as a dockerd may leave its own; they go before the directory does.
 */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point.startsWith(`${dir}/`))
    .reverse();
  for (const point of mounts) execFileSync("umount", ["-l", point]);
}

/** SIGTERM, then SIGKILL after 15 s: buildkitd unmounts its snapshots on a clean stop. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The environment that points the tests (and the CLI) at a runner. */
export function runnerEnv(runner: TestRunner): Record<string, string> {
  return {
    RB_TEST_TCP_ADDR: runner.tcpAddress,
    RB_TEST_UNIX_ADDR: runner.unixAddress,
    RB_TEST_CERTS_DIR: runner.certs.dir,
    RB_TEST_BIN_DIR: runner.binDir,
    RB_TEST_RUNNER_LOG: runner.logFile,
  };
}
