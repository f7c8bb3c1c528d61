// Build secrets and SSH agents as the user gives them, read into memory once before the build:
// the action's `secrets` (id=value), `secret-files` (id=path), `secret-envs` (id=ENV_NAME), and
// buildx's `--secret id=…,src=…|env=…` and `--ssh default|id=path`. Values are never written
// anywhere; each one is handed to `onSecret` (to mask it, to redact it) the moment it is read.
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { InputError } from "../errors.js";
import { listItems, splitKeyValue } from "../values.js";
import { DEFAULT_SSH_ID, MAX_SECRET_BYTES } from "../buildkit/index.js";

export type SecretSource =
  | { id: string; kind: "value"; value: string }
  | { id: string; kind: "file"; path: string }
  | { id: string; kind: "env"; name: string };

export interface SecretReadContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  onSecret: (value: string) => void;
}

const ID = /^[A-Za-z0-9_.-]+$/;

/** `id=value` (the action's `secrets` input). The sentence never quotes the value. */
export function secretFromValueLine(line: string, name: string): SecretSource {
  const [id, value] = splitKeyValue(line);
  if (!id || value === undefined) throw new InputError(`A line of ${name} is not ID=VALUE.`);
  checkId(id, name);
  return { id, kind: "value", value };
}

/** `id=path` (the action's `secret-files`). */
export function secretFromFileLine(line: string, name: string): SecretSource {
  const [id, path] = splitKeyValue(line);
  if (!id || !path) throw new InputError(`${name} "${line}" is not ID=PATH.`);
  checkId(id, name);
  return { id, kind: "file", path };
}

/** `id=ENV_NAME` (the action's `secret-envs`). */
export function secretFromEnvLine(line: string, name: string): SecretSource {
  const [id, envName] = splitKeyValue(line);
  if (!id || !envName) throw new InputError(`${name} "${line}" is not ID=ENV_NAME.`);
  checkId(id, name);
  return { id, kind: "env", name: envName };
}

/**
 * buildx's `--secret`: `id=ID[,src=PATH|,env=NAME][,type=file|env]`; with neither src nor env, an
 * environment variable named ID, as buildx does.
 */
export function secretFromBuildxSpec(spec: string, name: string): SecretSource {
  const fields = new Map<string, string>();
  for (const field of spec.split(",")) {
    const [key, value] = splitKeyValue(field);
    if (!key || value === undefined)
      throw new InputError(`${name} "${spec}" is not id=ID,src=PATH or id=ID,env=NAME.`);
    fields.set(key.trim().toLowerCase(), value);
  }
  const id = fields.get("id");
  if (!id) throw new InputError(`${name} "${spec}" has no id=.`);
  checkId(id, name);
  const src = fields.get("src") ?? fields.get("source");
  const envName = fields.get("env");
  const type = fields.get("type");
  if (type !== undefined && type !== "file" && type !== "env") {
    throw new InputError(`${name} "${spec}" has type=${type}; use file or env.`);
  }
  if (src !== undefined && envName !== undefined)
    throw new InputError(`${name} "${spec}" gives both src and env.`);
  if (src !== undefined)
    return type === "env" ? { id, kind: "env", name: src } : { id, kind: "file", path: src };
  return { id, kind: "env", name: envName ?? id };
}

/** Reads every secret now, so that a missing file or variable fails before the build starts. */
export function readSecrets(
  sources: SecretSource[],
  names: { file: string; env: string },
  context: SecretReadContext,
): Map<string, Uint8Array> {
  const secrets = new Map<string, Uint8Array>();
  for (const source of sources) {
    if (secrets.has(source.id)) throw new InputError(`Secret "${source.id}" is given twice.`);
    let value: Buffer;
    if (source.kind === "value") {
      value = Buffer.from(source.value, "utf8");
    } else if (source.kind === "env") {
      const text = context.env[source.name];
      if (text === undefined) {
        throw new InputError(
          `${names.env}: secret "${source.id}" reads the environment variable ${source.name}, which is not set.`,
        );
      }
      value = Buffer.from(text, "utf8");
    } else {
      const path = resolve(context.cwd, source.path);
      try {
        if (statSync(path).size > MAX_SECRET_BYTES) {
          throw new InputError(
            `${names.file}: the file "${source.path}" of secret "${source.id}" is larger than ${MAX_SECRET_BYTES / 1024} KiB.`,
          );
        }
        value = readFileSync(path);
      } catch (error) {
        if (error instanceof InputError) throw error;
        throw new InputError(
          `${names.file}: the file "${source.path}" of secret "${source.id}" cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}).`,
        );
      }
    }
    if (value.length > MAX_SECRET_BYTES) {
      throw new InputError(`Secret "${source.id}" is larger than ${MAX_SECRET_BYTES / 1024} KiB.`);
    }
    const text = value.toString("utf8");
    if (text.trim() !== "") context.onSecret(text);
    secrets.set(source.id, value);
  }
  return secrets;
}

/**
 * `default` (the agent at SSH_AUTH_SOCK) or `id=SOCKET`, one per item, as buildx's `--ssh`. Only
 * agent sockets are forwarded: a key file would need an agent of our own.
 */
export function readSshAgents(
  items: string[],
  name: string,
  context: Omit<SecretReadContext, "onSecret">,
): Map<string, string> {
  const agents = new Map<string, string>();
  for (const item of listItems(items, /\s+/)) {
    const [id, pathGiven] = item.includes("=") ? splitKeyValue(item) : [item, undefined];
    if (!id) throw new InputError(`${name} "${item}" has no id; write default or ID=SOCKET.`);
    checkId(id, name);
    const socket = pathGiven ?? (id === DEFAULT_SSH_ID ? context.env.SSH_AUTH_SOCK : undefined);
    if (!socket) {
      throw new InputError(
        id === DEFAULT_SSH_ID
          ? `${name} "default" forwards the agent at SSH_AUTH_SOCK, which is not set.`
          : `${name} "${item}" has no socket; write ${id}=/path/to/agent.sock.`,
      );
    }
    const path = resolve(context.cwd, socket.split(",")[0]!);
    let isSocket: boolean;
    try {
      isSocket = statSync(path).isSocket();
    } catch {
      throw new InputError(`${name} "${item}": the agent socket "${path}" does not exist.`);
    }
    if (!isSocket) {
      throw new InputError(
        `${name} "${item}": "${path}" is not an agent socket; key files are not supported, start ssh-agent and add the key.`,
      );
    }
    if (agents.has(id)) throw new InputError(`${name} gives the agent "${id}" twice.`);
    agents.set(id, path);
  }
  return agents;
}

function checkId(id: string, name: string): void {
  if (!ID.test(id))
    throw new InputError(`${name}: "${id}" is not a secret id; use letters, digits, ".", "_" and "-".`);
}
