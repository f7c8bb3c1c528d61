// ssh:// endpoints, reached as BuildKit's ssh connection helper (buildctl, buildx's remote driver)
// reaches them: the system's ssh runs `buildctl [--addr unix://SOCKET] dial-stdio` on the far side,
// and gRPC goes over its stdin and stdout. The client dials a unix socket in a private directory of
// ours, as for a unix:// runner; each connection to it gets its own ssh. A key given as
// text is held by a private ssh-agent of ours, in memory: it is never written to disk.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshEndpoint } from "./endpoint.js";
import { formatSeconds } from "./rpc-errors.js";

export interface SshOptions {
  /** A private key file for this runner: used alone (IdentitiesOnly), not the agent's keys. */
  identityFile?: string;
  /**
   * The private key as text (an input or secret): added to a private ssh-agent that lives as long
   * as the dialer, and used alone. Never written to disk.
   */
  identityKey?: string;
  /** A known_hosts file to check the host key against, instead of the user's. */
  knownHostsFile?: string;
  /** The same as known_hosts lines (public keys: written to the dialer's private dir). */
  knownHosts?: string;
  /**
   * Trust a host key seen for the first time and record it (ssh's accept-new). Off by default:
   * an unknown or changed host key fails the connection.
   */
  acceptNewHostKeys?: boolean;
  /** An ssh_config file instead of the user's (~/.ssh/config); "none" for no config at all. */
  configFile?: string;
  /** The ssh program; `ssh` from PATH by default. */
  command?: string;
}

/** A peer that stops answering is dropped after this many seconds of silence (interval × count). */
const ALIVE_INTERVAL_S = 10;
const ALIVE_COUNT = 3;
/** ssh's last stderr lines kept for the error sentence. */
const STDERR_KEEP_BYTES = 4096;

/** ssh's arguments, as BuildKit's helper builds them, after our options that keep it from prompting or hanging. */
export function sshArguments(
  endpoint: SshEndpoint,
  options: SshOptions & { identityPath?: string; identityAgent?: string },
  connectTimeoutMs: number,
): string[] {
  const args = [
    ...(options.configFile !== undefined ? ["-F", options.configFile] : []),
    // Never a prompt (password, passphrase, host key): a CI job has no one to answer it.
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${Math.max(1, Math.ceil(connectTimeoutMs / 1000))}`,
    "-o",
    `ServerAliveInterval=${ALIVE_INTERVAL_S}`,
    "-o",
    `ServerAliveCountMax=${ALIVE_COUNT}`,
    "-o",
    `StrictHostKeyChecking=${options.acceptNewHostKeys ? "accept-new" : "yes"}`,
    // A multiplexing master from the user's config would outlive us.
    "-o",
    "ControlPath=none",
  ];
  if (options.knownHostsFile !== undefined) args.push("-o", `UserKnownHostsFile=${options.knownHostsFile}`);
  if (options.identityPath !== undefined) {
    args.push("-i", options.identityPath, "-o", "IdentitiesOnly=yes");
  }
  // The agent holding a key given as text; identityPath is then its public key, which ssh matches
  // to the agent's private key.
  if (options.identityAgent !== undefined) args.push("-o", `IdentityAgent=${options.identityAgent}`);
  if (endpoint.user !== undefined) args.push("-l", endpoint.user);
  if (endpoint.port !== undefined) args.push("-p", String(endpoint.port));
  args.push("--", endpoint.host, "buildctl");
  if (endpoint.socketPath !== undefined) args.push("--addr", `unix://${endpoint.socketPath}`);
  args.push("dial-stdio");
  return args;
}

export class SshDialer {
  /** The unix socket the client dials. */
  readonly socketPath: string;
  private readonly dir: string;
  private readonly server: Server;
  /** ssh's arguments, once the private agent (for a key given as text) holds the key. */
  private readonly args: Promise<string[]>;
  private readonly command: string;
  private agent: ChildProcess | undefined;
  private readonly children = new Set<ChildProcess>();
  private readonly sockets = new Set<Socket>();
  private lastFailure: string | undefined;
  private closed = false;

  constructor(
    private readonly endpoint: SshEndpoint,
    options: SshOptions,
    private readonly connectTimeoutMs: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "rb-ssh-dial-"));
    this.socketPath = join(this.dir, "dial.sock");
    try {
      let knownHostsFile = options.knownHostsFile;
      if (options.knownHosts !== undefined) {
        knownHostsFile = join(this.dir, "known_hosts");
        writeFileSync(knownHostsFile, options.knownHosts.trim() + "\n", { mode: 0o600 });
      }
      const withHosts = { ...options, knownHostsFile };
      this.args =
        options.identityKey === undefined
          ? Promise.resolve(
              sshArguments(endpoint, { ...withHosts, identityPath: options.identityFile }, connectTimeoutMs),
            )
          : this.startAgent(options.identityKey).then((agent) =>
              sshArguments(endpoint, { ...withHosts, ...agent }, connectTimeoutMs),
            );
      // A failure is noted for the first connection, which fails with it.
      this.args.catch(() => undefined);
      this.command = options.command ?? "ssh";
      this.server = createServer((socket) => this.relay(socket));
      // Binding a path happens at once; the client dials only at the first call.
      this.server.listen(this.socketPath);
      this.server.on(
        "error",
        (error) => (this.lastFailure = `The local socket for ${endpoint.address} failed: ${error.message}.`),
      );
    } catch (error) {
      rmSync(this.dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Why the last ssh failed, as a sentence about the runner; undefined when none has failed. */
  failure(): string | undefined {
    return this.lastFailure;
  }

  /** Stops listening, ends every ssh (SIGTERM, then SIGKILL after 2 s) and removes the directory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    for (const child of this.children) stopChild(child);
    if (this.agent) stopChild(this.agent);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Starts ssh-agent in the foreground (our child, so it ends with us) on a socket in our private
   * dir, adds the key from stdin, and writes the matching public key for ssh's -i.
   */
  private async startAgent(key: string): Promise<{ identityPath: string; identityAgent: string }> {
    const socket = join(this.dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: ["ignore", "ignore", "pipe"] });
    this.agent = agent;
    const failure = (why: string) =>
      new Error(`The ssh key given for ${this.endpoint.address} cannot be used: ${why.replace(/\.$/, "")}.`);
    let agentError = "";
    agent.stderr!.on("data", (chunk: Buffer) => (agentError += chunk.toString("utf8")));
    const spawned = new Promise<void>((resolve, reject) => {
      agent.once("spawn", resolve);
      agent.once("error", (error) => reject(failure(`ssh-agent could not be started (${error.message})`)));
    });
    await spawned;
    const deadline = Date.now() + AGENT_TIMEOUT_MS;
    while (!existsSync(socket)) {
      if (agent.exitCode !== null || this.closed || Date.now() > deadline) {
        throw failure(`ssh-agent did not start (${agentError.trim() || "no socket"})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      SSH_AUTH_SOCK: socket,
      SSH_ASKPASS_REQUIRE: "never",
    };
    const added = await runWithInput("ssh-add", ["-q", "-"], key.trim() + "\n", env);
    if (added.code !== 0) {
      const reason = added.stderr.trim().split("\n").at(-1) ?? "";
      // ssh-add's words for a key with a passphrase: there is no one to type it.
      throw failure(/passphrase|askpass/i.test(added.stderr) ? "it has a passphrase" : `ssh-add: ${reason}`);
    }
    const listed = await runWithInput("ssh-add", ["-L"], "", env);
    const publicKey = listed.stdout.trim().split("\n")[0];
    if (listed.code !== 0 || !publicKey) throw failure(`ssh-add -L: ${listed.stderr.trim()}`);
    const identityPath = join(this.dir, "identity.pub");
    writeFileSync(identityPath, publicKey + "\n");
    return { identityPath, identityAgent: socket };
  }

  private relay(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    // Until ssh runs (the agent may still be starting), a socket error only ends the socket.
    socket.on("error", () => socket.destroy());
    socket.once("close", () => this.sockets.delete(socket));
    this.args.then(
      (args) => this.relayThrough(socket, args),
      (error: Error) => {
        this.lastFailure = error.message;
        socket.destroy();
      },
    );
  }

  private relayThrough(socket: Socket, args: string[]): void {
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    const child = spawn(this.command, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.children.add(child);
    this.sockets.add(socket);
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_KEEP_BYTES);
    });
    socket.pipe(child.stdin!);
    // Not ended with ssh's stdout: the socket closes on the child's exit, once its stderr is read
    // and the reason noted, so that the failed call finds the reason.
    child.stdout!.pipe(socket, { end: false });
    child.stdout!.once("data", () => (this.lastFailure = undefined));
    // A write after the other side went away is expected at teardown.
    child.stdin!.on("error", () => socket.destroy());
    socket.on("error", () => stopChild(child));
    socket.on("close", () => {
      this.sockets.delete(socket);
      stopChild(child);
    });
    child.on("error", (error) => {
      this.lastFailure = `ssh could not be started for ${this.endpoint.address} (${error.message}).`;
      socket.destroy();
    });
    child.on("close", (code, signal) => {
      this.children.delete(child);
      if (signal === null && code !== 0) {
        this.lastFailure = describeSshFailure(this.endpoint, stderr, this.connectTimeoutMs);
      }
      socket.destroy();
    });
  }
}

/** ssh-agent's start and each ssh-add are bounded by this. */
const AGENT_TIMEOUT_MS = 10_000;

/** Runs a short command with `input` on its stdin, within AGENT_TIMEOUT_MS. */
function runWithInput(
  file: string,
  args: string[],
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ["pipe", "pipe", "pipe"], timeout: AGENT_TIMEOUT_MS });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", (error) => resolve({ code: -1, stdout, stderr: error.message }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(input);
  });
}

function stopChild(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
  timer.unref();
  child.once("exit", () => clearTimeout(timer));
}

/** One sentence from what ssh (or buildctl on the far side) wrote to stderr. */
export function describeSshFailure(endpoint: SshEndpoint, stderr: string, connectTimeoutMs: number): string {
  return sshFailureReason(endpoint, stderr, connectTimeoutMs) + ".";
}

function sshFailureReason(endpoint: SshEndpoint, stderr: string, connectTimeoutMs: number): string {
  const where = endpoint.address;
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const has = (pattern: RegExp) => lines.some((line) => pattern.test(line));
  const last = lines.at(-1)?.replace(/\.$/, "");
  if (has(/Permission denied/i)) {
    return `ssh could not log in to ${where}: the server refused the key (${lines.find((line) => /Permission denied/i.test(line))!.replace(/\.$/, "")})`;
  }
  if (has(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i)) {
    return `ssh refused the host key of ${where}: add the host to a known_hosts file (ssh-keyscan) and give it, or allow new host keys`;
  }
  if (has(/Timeout, server .* not responding/i)) {
    return `The ssh connection to ${where} was lost: the server stopped answering for ${ALIVE_INTERVAL_S * ALIVE_COUNT} s`;
  }
  if (has(/Connection refused/i)) return `Nothing is listening for ssh at ${where} (connection refused)`;
  if (has(/timed out/i)) return `ssh could not reach ${where} within ${formatSeconds(connectTimeoutMs)}`;
  if (has(/Could not resolve hostname/i)) return `The host of ${where} cannot be resolved`;
  if (has(/buildctl: (command )?not found|buildctl: No such file/i)) {
    return `buildctl is not on the PATH of the ssh login at ${where}: the far side needs buildctl, as with buildx's remote driver`;
  }
  if (has(/no such file or directory/i) && has(/dial|connect/i)) {
    return `There is no runner socket on the far side of ${where} (${last})`;
  }
  return `ssh to ${where} failed${last ? `: ${last}` : ""}`;
}
