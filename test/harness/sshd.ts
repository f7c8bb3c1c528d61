// Debian's OpenSSH server as a real ssh peer for ssh:// endpoints: on a free loopback port, with its
// own host key, a client key it accepts and one it does not, and buildctl on the login's PATH (as
// the far side of buildx's remote driver needs). Everything lives in one temp dir, removed by stop().
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, stopProcess } from "./runner.js";

export interface TestSshd {
  port: number;
  /** The user the server lets in (whoever runs the tests). */
  user: string;
  /** A key the server accepts, and one it does not. */
  clientKey: string;
  otherKey: string;
  /** A known_hosts file with the server's host key for [127.0.0.1]:port. */
  knownHosts: string;
  logFile: string;
  /**
   * Freezes (SIGSTOP) every connection's processes, sessions and commands included, as a peer
   * that stops answering; the listener keeps running. Returns the function that thaws them.
   */
  freezeConnections(): () => void;
  /** ssh://USER@127.0.0.1:PORT/SOCKET for a runner socket on this machine. */
  endpointFor(socketPath: string): string;
  stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";

function keygen(file: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { stdio: "ignore" });
}

/** Starts sshd in the foreground (we hold its pid); `binDir` (buildctl's) goes first on the login PATH. */
export async function startTestSshd(binDir: string): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "rb-sshd-"));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) {
      // Each connection has its own sshd process, a child of the listener that survives it.
      for (const pid of childPids(child.pid!)) signalQuietly(pid, "SIGTERM");
      await stopProcess(child);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The privilege-separation directory: sshd refuses to start as root without it.
    if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const hostKey = join(dir, "host_key");
    const clientKey = join(dir, "client_key");
    const otherKey = join(dir, "other_key");
    for (const key of [hostKey, clientKey, otherKey]) keygen(key);
    writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`));
    const port = await freePort();
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, "utf8").trim()}\n`);
    const config = join(dir, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        // The temp dir is not owned the way StrictModes wants.
        "StrictModes no",
        `SetEnv PATH=${binDir}:/usr/sbin:/usr/bin:/sbin:/bin`,
        "",
      ].join("\n"),
    );
    const logFile = join(dir, "sshd.log");
    execFileSync(SSHD, ["-t", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    const log = openSync(logFile, "a");
    child = spawn(SSHD, ["-D", "-f", config, "-E", logFile], { stdio: ["ignore", log, log] });
    closeSync(log);
    await waitForBanner(port, child, logFile);
    const user = userInfo().username;
    return {
      port,
      user,
      clientKey,
      otherKey,
      knownHosts,
      logFile,
      freezeConnections: () => {
        const frozen = descendantPids(child!.pid!);
        for (const pid of frozen) signalQuietly(pid, "SIGSTOP");
        return () => frozen.forEach((pid) => signalQuietly(pid, "SIGCONT"));
      },
      endpointFor: (socketPath) => `ssh://${user}@127.0.0.1:${port}${socketPath}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Until the server sends its SSH-2.0 banner, 20 s at most. */
async function waitForBanner(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}; see ${logFile}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let text = "";
      const done = () => {
        socket.destroy();
        resolve(text);
      };
      socket.setTimeout(1_000, done);
      socket.on("data", (chunk) => {
        text += chunk.toString("latin1");
        if (text.includes("\n")) done();
      });
      socket.on("error", done);
    });
    if (banner.startsWith("SSH-2.0-")) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sshd did not answer within 20 s; see ${logFile}`);
}

function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)])
      .toString()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** Children, grandchildren and so on, parents first. */
function descendantPids(pid: number): number[] {
  return childPids(pid).flatMap((child) => [child, ...descendantPids(child)]);
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
