// Registry credentials for the session's Auth service, from what the job has: credentials given
// as inputs, then the docker config (DOCKER_CONFIG or ~/.docker/config.json) read the way the
// docker CLI reads it (cli/config/configfile at v29): `credHelpers` for the host, else
// `credsStore`, else `auths`. Helpers run lazily, only for a host the runner asks about.
// Every secret is handed to `onSecret` the moment it is parsed, so it can be masked before
// anything could print it. No error message carries a secret or the config's content.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { RegistryCredential } from "../buildkit/index.js";

/** The docker config key of Docker Hub, which the daemon asks about as registry-1.docker.io. */
export const DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/";
const DOCKER_HUB_HOSTS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** A credential helper's answer when it has nothing for the host (docker-credential-helpers). */
const HELPER_NOT_FOUND = "credentials not found in native keychain";
/** A helper's username that marks the secret as an identity token (docker's tokenUsername). */
const HELPER_TOKEN_USERNAME = "<token>";

const DEFAULT_HELPER_TIMEOUT_MS = 30_000;
/** Credentials from a helper are asked again after this long, as buildx does (short-lived tokens). */
const HELPER_CACHE_MS = (4 * 60 + 50) * 1000;
const MAX_HELPER_OUTPUT_BYTES = 1024 * 1024;

export interface ExplicitCredential {
  /** A host (`ghcr.io`, `registry.example.com:5000`), a URL, or `docker.io` for Docker Hub. */
  registry: string;
  /** Empty for an identity token. */
  username: string;
  password: string;
}

export interface RegistryCredentialOptions {
  /** Credentials given as inputs; they win over the docker config for the same registry. */
  explicit?: ExplicitCredential[];
  /** Whether to read the job's docker config; true by default. */
  useDockerConfig?: boolean;
  /** Where DOCKER_CONFIG, HOME and PATH (for helpers) come from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Called with every secret value the moment it is parsed: mask it, teach it to the redactor. */
  onSecret: (value: string) => void;
  /** Bound on one run of a credential helper; 30 s by default. */
  helperTimeoutMs?: number;
  /**
   * Where a build needs no credentials (it pushes nothing), a docker config that cannot be read
   * (an unreadable HOME, say) is told here and the build goes on anonymously; without it, that is
   * an InputError.
   */
  onUnreadableConfig?: (message: string) => void;
}

export type RegistryCredentialLookup = (
  host: string,
  signal?: AbortSignal,
) => Promise<RegistryCredential | undefined>;

/** The docker config key for a registry host or URL: Docker Hub's names all map to one key. */
export function configKey(registry: string): string {
  const host = hostOf(registry);
  return DOCKER_HUB_HOSTS.has(host) ? DOCKER_HUB_CONFIG_KEY : host;
}

/** Docker's ConvertToHostname: the host[:port] of a URL, or what precedes the first "/". */
export function hostOf(registry: string): string {
  if (registry.includes("://")) {
    try {
      const url = new URL(registry);
      if (url.hostname !== "") return url.host;
    } catch {
      // not a URL after all: fall through
    }
  }
  return registry.split("/", 1)[0]!;
}

export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker");
  return join(dir, "config.json");
}

/**
 * Reads the credentials now (a docker config that is not valid is an InputError here, before any
 * work starts) and returns the lookup for the session's Auth service. The lookup throws an
 * InputError when a credential helper is missing, fails or times out.
 */
export function loadRegistryCredentials(options: RegistryCredentialOptions): RegistryCredentialLookup {
  const env = options.env ?? process.env;
  const explicit = explicitCredentials(options.explicit ?? [], options.onSecret);
  const config =
    options.useDockerConfig === false
      ? emptyConfig("")
      : readDockerConfig(dockerConfigFile(env), options.onSecret, options.onUnreadableConfig);
  const helperTimeoutMs = options.helperTimeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  const fromHelpers = new Map<string, { created: number; answer: Promise<RegistryCredential | undefined> }>();

  return async (host, signal) => {
    const key = configKey(host);
    const given = explicit.get(key);
    if (given) return given;
    const helper = config.credHelpers.get(key) ?? config.credsStore;
    if (helper === undefined) return fileCredential(config, key);
    const cached = fromHelpers.get(key);
    if (cached && Date.now() - cached.created < HELPER_CACHE_MS) return cached.answer;
    const answer = runHelper(helper, key, config.file, env, helperTimeoutMs, options.onSecret, signal);
    fromHelpers.set(key, { created: Date.now(), answer });
    // A failure is not remembered: the next request runs the helper again.
    answer.catch(() => fromHelpers.delete(key));
    return answer;
  };
}

function explicitCredentials(
  list: ExplicitCredential[],
  onSecret: (value: string) => void,
): Map<string, RegistryCredential> {
  const byKey = new Map<string, RegistryCredential>();
  for (const { registry, username, password } of list) {
    if (password !== "") onSecret(password);
    const trimmed = registry.trim();
    if (trimmed === "" || /\s/.test(trimmed)) {
      throw new InputError(`The registry "${registry}" of a credential is not a registry host.`);
    }
    if (password === "") throw new InputError(`The password for registry ${trimmed} is empty.`);
    const key = configKey(trimmed);
    if (byKey.has(key)) throw new InputError(`Registry ${trimmed} is given credentials twice.`);
    byKey.set(key, { username, secret: password });
  }
  return byKey;
}

interface DockerConfig {
  file: string;
  /** Entries of `auths` by their key as written, each already decoded. */
  auths: Map<string, RegistryCredential | undefined>;
  credHelpers: Map<string, string>;
  credsStore: string | undefined;
}

function emptyConfig(file: string): DockerConfig {
  return { file, auths: new Map(), credHelpers: new Map(), credsStore: undefined };
}

function readDockerConfig(
  file: string,
  onSecret: (value: string) => void,
  onUnreadable: ((message: string) => void) | undefined,
): DockerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    // No config is the common case on CI machines: anonymous access.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return emptyConfig(file);
    const message = `The docker config ${file} cannot be read (${code})`;
    if (!onUnreadable) throw new InputError(`${message}.`);
    onUnreadable(`${message}; building without its registry credentials.`);
    return emptyConfig(file);
  }
  if (text.trim() === "") return emptyConfig(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a password.
    throw new InputError(`The docker config ${file} is not valid JSON.`);
  }
  if (!isObject(parsed)) throw new InputError(`The docker config ${file} is not a JSON object.`);
  const config = emptyConfig(file);

  const auths = parsed.auths ?? {};
  if (!isObject(auths)) throw new InputError(`The "auths" of the docker config ${file} is not an object.`);
  for (const [key, entry] of Object.entries(auths)) {
    config.auths.set(key, authEntry(file, key, entry, onSecret));
  }

  const helpers = parsed.credHelpers ?? {};
  if (!isObject(helpers))
    throw new InputError(`The "credHelpers" of the docker config ${file} is not an object.`);
  for (const [key, name] of Object.entries(helpers)) {
    if (typeof name !== "string" || name === "") {
      throw new InputError(`The credential helper for ${key} in the docker config ${file} is not a name.`);
    }
    config.credHelpers.set(key, name);
  }

  const store = parsed.credsStore;
  if (store !== undefined && typeof store !== "string") {
    throw new InputError(`The "credsStore" of the docker config ${file} is not a name.`);
  }
  config.credsStore = store || undefined;
  return config;
}

/** One `auths` entry: `auth` (base64 user:password) wins over `username`/`password`, as in docker. */
function authEntry(
  file: string,
  key: string,
  entry: unknown,
  onSecret: (value: string) => void,
): RegistryCredential | undefined {
  const invalid = (what: string) =>
    new InputError(`The ${what} for ${key} in the docker config ${file} is not valid.`);
  if (!isObject(entry)) throw invalid("auths entry");
  const text = (field: string): string => {
    const value = entry[field] ?? "";
    if (typeof value !== "string") throw invalid(`"${field}"`);
    return value;
  };
  const auth = text("auth");
  const identityToken = text("identitytoken");
  const registryToken = text("registrytoken");
  let username = text("username");
  let password = text("password");
  for (const secret of [auth, identityToken, registryToken, password]) if (secret !== "") onSecret(secret);
  if (auth !== "") {
    const decoded = decodeAuth(auth);
    if (decoded === undefined) throw invalid(`"auth" (base64 of user:password)`);
    if (decoded.password !== "") onSecret(decoded.password);
    ({ username, password } = decoded);
  }
  // An identity token is sent alone, as docker's authprovider does (toCredentials).
  if (identityToken !== "") return { username: "", secret: identityToken };
  if (password === "") return undefined;
  return { username, secret: password };
}

function decodeAuth(auth: string): { username: string; password: string } | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth) || auth.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/^\0+|\0+$/g, "") };
}

/**
 * The `auths` entry for a key: the exact key first, then (as docker does for old files) an entry
 * whose key is a URL of that host. For Docker Hub any spelling of its host is accepted as well.
 */
function fileCredential(config: DockerConfig, key: string): RegistryCredential | undefined {
  if (config.auths.has(key)) return config.auths.get(key);
  for (const [written, credential] of config.auths) {
    if (configKey(written) === key) return credential;
  }
  return undefined;
}

/** Runs `docker-credential-<name> get` with the key on stdin; parses {Username, Secret}. */
function runHelper(
  name: string,
  key: string,
  file: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onSecret: (value: string) => void,
  signal: AbortSignal | undefined,
): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${name}`;
  const failed = (why: string) =>
    new InputError(`The credential helper ${program} (from the docker config ${file}) ${why} for ${key}.`);
  return new Promise((resolve, reject) => {
    const child = spawn(program, ["get"], { env, stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: Error | undefined, value?: RegistryCredential) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (error) {
        child.kill("SIGKILL");
        // A process the helper started may hold the pipes open; do not wait for it.
        child.stdin.destroy();
        child.stdout.destroy();
        child.stderr.destroy();
        reject(error);
      } else {
        resolve(value);
      }
    };
    const timer = setTimeout(() => finish(failed(`did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = () => finish(failed("was stopped because the runner stopped waiting"));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });

    child.on("error", (error: NodeJS.ErrnoException) =>
      finish(
        error.code === "ENOENT"
          ? failed("is not on PATH, so it gave no credentials")
          : failed(`could not run (${error.code})`),
      ),
    );
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_HELPER_OUTPUT_BYTES) finish(failed("printed too much"));
      else chunks.push(chunk);
    });
    // A helper's diagnostics are not ours to print: they might quote what it read.
    child.stderr.resume();
    child.stdin.on("error", () => {}); // a helper that exits without reading stdin
    child.stdin.end(key);
    child.on("close", (code, killedBy) => {
      const output = Buffer.concat(chunks).toString("utf8");
      if (code !== 0) {
        if (output.trim() === HELPER_NOT_FOUND) finish(undefined, undefined);
        else finish(failed(killedBy ? `was killed by ${killedBy}` : `failed with exit code ${code}`));
        return;
      }
      try {
        finish(undefined, helperCredential(output, onSecret));
      } catch {
        finish(failed("printed something other than a JSON credential"));
      }
    });
  });
}

function helperCredential(output: string, onSecret: (value: string) => void): RegistryCredential | undefined {
  const parsed: unknown = JSON.parse(output);
  if (!isObject(parsed)) throw new Error("not an object");
  const { Username: username = "", Secret: secret = "" } = parsed;
  if (typeof username !== "string" || typeof secret !== "string") throw new Error("not strings");
  if (secret === "") return undefined;
  onSecret(secret);
  return username === HELPER_TOKEN_USERNAME ? { username: "", secret } : { username, secret };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
