// The Docker Engine of the job's machine, through its API socket (DOCKER_HOST, else
// /var/run/docker.sock), for `load`: the docker exporter's tar streams from the runner straight
// into POST /images/load (Content-Type application/x-tar), no docker CLI involved. The engine's
// answer names what it loaded; GET /images/{name}/json gives the loaded image's id.
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { InputError, UserError } from "../errors.js";

const DEFAULT_SOCKET = "/var/run/docker.sock";
/** Bound on a short call (ping, inspect); the load itself runs as long as the build sends. */
const CALL_TIMEOUT_MS = 10_000;

export interface LoadedImage {
  /** The names the engine reports (`app:1`); empty for an image loaded without one. */
  names: string[];
  /** The image's id in the engine (sha256:…). */
  id: string;
}

/** Where the engine listens, and how to reach it. */
export interface DockerEngine {
  /** As the user knows it: unix:///var/run/docker.sock, tcp://host:2376. */
  address: string;
  request(options: http.RequestOptions): http.ClientRequest;
}

/** The engine DOCKER_HOST names (unix:// or tcp://, TLS with DOCKER_TLS_VERIFY), else the default socket. */
export function dockerEngine(env: NodeJS.ProcessEnv, name: string): DockerEngine {
  const host = env.DOCKER_HOST?.trim() || `unix://${DEFAULT_SOCKET}`;
  if (host.startsWith("unix://")) {
    const socketPath = host.slice("unix://".length);
    return { address: host, request: (options) => http.request({ ...options, socketPath }) };
  }
  const tcp = /^(?:tcp|https?):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  if (!tcp) {
    throw new InputError(
      `${name} needs the job's Docker Engine, but DOCKER_HOST "${host}" is neither unix:///PATH nor tcp://HOST:PORT.`,
    );
  }
  const [, hostname, port] = tcp;
  const target = { host: hostname!.replace(/^\[|\]$/g, ""), port: Number(port) };
  if (!env.DOCKER_TLS_VERIFY) {
    return { address: host, request: (options) => http.request({ ...options, ...target }) };
  }
  const certDir = env.DOCKER_CERT_PATH || join(homedir(), ".docker");
  let tls: { ca: Buffer; cert: Buffer; key: Buffer };
  try {
    tls = {
      ca: readFileSync(join(certDir, "ca.pem")),
      cert: readFileSync(join(certDir, "cert.pem")),
      key: readFileSync(join(certDir, "key.pem")),
    };
  } catch (error) {
    throw new InputError(
      `${name} needs the TLS files of DOCKER_HOST "${host}" in ${certDir} (ca.pem, cert.pem, key.pem), which cannot be read (${(error as NodeJS.ErrnoException).code}).`,
    );
  }
  return { address: host, request: (options) => https.request({ ...options, ...target, ...tls }) };
}

/** Checks that the engine answers before the build starts: a missing engine is one sentence. */
export async function pingEngine(engine: DockerEngine, name: string, signal: AbortSignal): Promise<void> {
  try {
    const { status } = await call(engine, "GET", "/_ping", signal);
    if (status !== 200) throw new Error(`HTTP ${status}`);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new UserError(
      `${name} needs the job's Docker Engine, but none answers at ${engine.address} (${reason(error)}); start Docker or set DOCKER_HOST.`,
    );
  }
}

/**
 * One image load: the sink the docker exporter's bytes go into, and the engine's answer once the
 * tar has ended. A refused load fails the sink, and with it the build.
 */
export function startLoad(
  engine: DockerEngine,
  signal: AbortSignal,
): { write(chunk: Uint8Array): Promise<void>; end(): Promise<LoadedImage> } {
  const request = engine.request({
    method: "POST",
    path: "/images/load?quiet=1",
    headers: { "Content-Type": "application/x-tar" },
    signal,
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.once("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.once("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.once("error", reject);
    });
    request.once("error", reject);
  });
  // An early failure is read when the stream ends; keep it from being unhandled meanwhile.
  answer.catch(() => {});
  const failed = (error: unknown) =>
    new UserError(`Loading the image into the Docker Engine at ${engine.address} failed: ${reason(error)}.`);
  return {
    write: (chunk) =>
      new Promise((resolve, reject) => {
        request.write(chunk, (error) => (error ? reject(failed(error)) : resolve()));
      }),
    end: async () => {
      request.end();
      let status: number;
      let body: string;
      try {
        ({ status, body } = await answer);
      } catch (error) {
        throw failed(error);
      }
      const { names, ids, error } = loadAnswer(body);
      if (status !== 200 || error) throw failed(error ?? `HTTP ${status}: ${body.trim()}`);
      const id = ids[0] ?? (names[0] ? await imageId(engine, names[0], signal) : "");
      return { names, id };
    },
  };
}

/** The engine's load answer: JSON messages, each a `stream` line ("Loaded image: app:1") or an error. */
function loadAnswer(body: string): { names: string[]; ids: string[]; error?: string } {
  const names: string[] = [];
  const ids: string[] = [];
  let error: string | undefined;
  for (const line of body.split("\n")) {
    if (line.trim() === "") continue;
    let message: { stream?: string; error?: string; errorDetail?: { message?: string } };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      continue;
    }
    error ??= message.errorDetail?.message ?? message.error;
    const text = message.stream?.trim() ?? "";
    const id = /^Loaded image ID: (\S+)$/.exec(text);
    const name = /^Loaded image: (\S+)$/.exec(text);
    if (id) ids.push(id[1]!);
    else if (name) names.push(name[1]!);
  }
  return { names, ids, error };
}

/** The id of an image the engine has, by name. */
export async function imageId(engine: DockerEngine, name: string, signal: AbortSignal): Promise<string> {
  const { status, body } = await call(engine, "GET", `/images/${encodeURIComponent(name)}/json`, signal);
  if (status !== 200) return "";
  return (JSON.parse(body) as { Id?: string }).Id ?? "";
}

function call(
  engine: DockerEngine,
  method: string,
  path: string,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = engine.request({
      method,
      path,
      signal: AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
    });
    request.once("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.once("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.once("error", reject);
    });
    request.once("error", reject);
    request.end();
  });
}

function reason(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
    return error.code === "ABORT_ERR" ? "no answer in time" : error.code;
  }
  return error instanceof Error ? error.message : String(error);
}
