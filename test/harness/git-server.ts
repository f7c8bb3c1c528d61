// Git servers on loopback for the Git context tests: `git daemon` (git://, no auth) and
// `git http-backend` run as CGI behind a small HTTP server that requires basic auth with a token,
// both serving bare repositories made by the test. Each lives in its own temp dir, removed by stop().
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort, stopProcess } from "./runner.js";

export interface GitServer {
  /** git://127.0.0.1:PORT or http://127.0.0.1:PORT */
  baseUrl: string;
  /** host:port, as the runner names the secret GIT_AUTH_TOKEN.<host:port>. */
  hostPort: string;
  /** The bare repositories' parent. */
  root: string;
  /** Writes a bare repository `name` (e.g. repo.git) whose branch main holds `files`; returns its commit. */
  addRepository(name: string, files: Record<string, string | Buffer>): string;
  stop(): Promise<void>;
}

export interface HttpGitServer extends GitServer {
  /** Each request's path and what its Authorization said: the user, and whether the token matched. */
  requests: Array<{ path: string; scheme?: string; user?: string; tokenMatched: boolean }>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: "remote-buildkit tests",
  GIT_AUTHOR_EMAIL: "tests@example.invalid",
  GIT_COMMITTER_NAME: "remote-buildkit tests",
  GIT_COMMITTER_EMAIL: "tests@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  HOME: "/nonexistent",
};

function git(args: string[], cwd: string): string {
  return execFileSync("git", args, {
    cwd,
    env: { ...process.env, ...GIT_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  })
    .toString()
    .trim();
}

function makeAddRepository(root: string) {
  return (name: string, files: Record<string, string | Buffer>): string => {
    const work = mkdtempSync(join(root, ".work-"));
    try {
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(work, path)), { recursive: true });
        writeFileSync(join(work, path), content, { mode: path.endsWith("busybox") ? 0o755 : 0o644 });
      }
      git(["init", "-q", "-b", "main"], work);
      git(["add", "-A"], work);
      git(["commit", "-q", "-m", "test content"], work);
      const commit = git(["rev-parse", "HEAD"], work);
      git(["clone", "-q", "--bare", work, join(root, name)], root);
      return commit;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
}

/** `git daemon` on a free loopback port, exporting every repository under its root. */
export async function startGitDaemon(): Promise<GitServer> {
  const root = mkdtempSync(join(tmpdir(), "rb-git-daemon-"));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await stopProcess(child);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    child = spawn(
      "git",
      [
        "daemon",
        "--reuseaddr",
        "--export-all",
        "--informative-errors",
        "--listen=127.0.0.1",
        `--port=${port}`,
        `--base-path=${root}`,
        root,
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...GIT_ENV } },
    );
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    await waitForPort(port, child, () => stderr);
    return {
      baseUrl: `git://127.0.0.1:${port}`,
      hostPort: `127.0.0.1:${port}`,
      root,
      addRepository: makeAddRepository(root),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `git http-backend` as CGI behind basic auth: a request passes only with the token as password
 * (any user name, as GitHub takes x-access-token); anything else gets 401 and a Basic challenge.
 */
export async function startGitHttpServer(token: string): Promise<HttpGitServer> {
  const root = mkdtempSync(join(tmpdir(), "rb-git-http-"));
  const backend = join(git(["--exec-path"], root), "git-http-backend");
  const requests: HttpGitServer["requests"] = [];
  const children = new Set<ChildProcess>();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const auth = parseBasic(request.headers.authorization);
    const tokenMatched = auth?.password === token;
    requests.push({ path: url.pathname, scheme: auth?.scheme, user: auth?.user, tokenMatched });
    if (!tokenMatched) {
      response.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"', "Content-Type": "text/plain" });
      response.end("authentication required\n");
      return;
    }
    runCgi(backend, root, request, response, url, auth!.user, children);
  });
  const stop = async () => {
    for (const child of children) child.kill("SIGKILL");
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      hostPort: `127.0.0.1:${port}`,
      root,
      requests,
      addRepository: makeAddRepository(root),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function parseBasic(
  header: string | undefined,
): { scheme: string; user: string; password: string } | undefined {
  const match = /^(\S+)\s+(\S+)$/.exec(header ?? "");
  // BuildKit sends the scheme in lower case ("basic"); HTTP says it is case-insensitive.
  if (!match || match[1]!.toLowerCase() !== "basic") return undefined;
  const decoded = Buffer.from(match[2]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  return { scheme: match[1]!, user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Runs git-http-backend for one request: CGI variables in, its headers parsed, the body streamed. */
function runCgi(
  backend: string,
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  user: string,
  children: Set<ChildProcess>,
): void {
  const child = spawn(backend, [], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: request.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ""),
      CONTENT_TYPE: request.headers["content-type"] ?? "",
      ...(request.headers["content-length"] ? { CONTENT_LENGTH: request.headers["content-length"] } : {}),
      ...(request.headers["content-encoding"]
        ? { HTTP_CONTENT_ENCODING: request.headers["content-encoding"] }
        : {}),
      ...(request.headers["git-protocol"] ? { GIT_PROTOCOL: String(request.headers["git-protocol"]) } : {}),
      REMOTE_USER: user,
      REMOTE_ADDR: request.socket.remoteAddress ?? "127.0.0.1",
      SERVER_PROTOCOL: "HTTP/1.1",
    },
    stdio: ["pipe", "pipe", "ignore"],
  });
  children.add(child);
  child.on("close", () => children.delete(child));
  request.pipe(child.stdin!);
  child.stdin!.on("error", () => undefined);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout!.on("data", (chunk: Buffer) => {
    if (headersDone) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    const endLf = head.indexOf("\n\n");
    const [at, gap] = end !== -1 ? [end, 4] : endLf !== -1 ? [endLf, 2] : [-1, 0];
    if (at === -1) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, at).toString("latin1").split(/\r?\n/)) {
      const colon = line.indexOf(":");
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    response.writeHead(status, headers);
    response.write(head.subarray(at + gap));
  });
  child.stdout!.on("end", () => {
    if (!headersDone) response.writeHead(502);
    response.end();
  });
}

/** Until something accepts connections on the port, 20 s at most. */
async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`git daemon exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`git daemon did not listen within 20 s: ${stderr()}`);
}
