// A real Docker Engine for the `load` tests: Debian's dockerd (docker.io, installed by
// install-buildkit.sh) with its own data root, exec root, pidfile, config and unix socket in one
// temp dir, and its own containerd under it; no bridge, no iptables and the vfs storage driver,
// which this sandbox allows. Stopped, and the dir removed, by stop().
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureBuildkitBinaries, stopProcess, unmountUnder } from "./runner.js";

const execFileAsync = promisify(execFile);

export interface TestDockerd {
  /** unix:///…/docker.sock, for DOCKER_HOST. */
  host: string;
  socket: string;
  logFile: string;
  /** `docker` (Debian's CLI, used only by the tests to check what the engine holds) against this engine. */
  docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export async function startTestDockerd(): Promise<TestDockerd> {
  // install-buildkit.sh installs docker.io with the rest.
  await ensureBuildkitBinaries();
  const dir = mkdtempSync(join(tmpdir(), "rb-dockerd-"));
  const socket = join(dir, "docker.sock");
  const logFile = join(dir, "dockerd.log");
  const config = join(dir, "daemon.json");
  writeFileSync(config, "{}\n");
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "exec"));
  const log = openSync(logFile, "a");
  const child: ChildProcess = spawn(
    "dockerd",
    [
      "--config-file",
      config,
      "--data-root",
      join(dir, "data"),
      "--exec-root",
      join(dir, "exec"),
      "--pidfile",
      join(dir, "docker.pid"),
      "--host",
      `unix://${socket}`,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
      "--storage-driver=vfs",
      "--userland-proxy=false",
    ],
    { stdio: ["ignore", log, log], env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
  closeSync(log);
  const host = `unix://${socket}`;
  const engine: TestDockerd = {
    host,
    socket,
    logFile,
    docker: async (args) => {
      try {
        const { stdout, stderr } = await execFileAsync("docker", ["--host", host, ...args], {
          timeout: 60_000,
          env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: join(dir, "cli") },
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string; stderr?: string };
        return {
          code: typeof failed.code === "number" ? failed.code : 1,
          stdout: failed.stdout ?? "",
          stderr: failed.stderr ?? "",
        };
      }
    },
    stop: () =>
      stopProcess(child).then(() => {
        unmountUnder(dir);
        rmSync(dir, { recursive: true, force: true });
      }),
  };
  try {
    await waitUntilAnswering(socket, child, logFile);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  return engine;
}

/** Polls GET /_ping on the socket until the engine answers OK. */
async function waitUntilAnswering(socket: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}; see ${logFile}`);
    if (existsSync(socket) && (await ping(socket))) return;
    if (Date.now() > deadline) throw new Error(`dockerd did not answer within 60 s; see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const call = request({ socketPath, path: "/_ping", method: "GET", timeout: 2_000 }, (response) => {
      response.resume();
      response.once("end", () => resolve(response.statusCode === 200));
    });
    call.once("timeout", () => call.destroy());
    call.once("error", () => resolve(false));
    call.end();
  });
}
