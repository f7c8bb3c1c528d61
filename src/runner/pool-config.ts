// A pool in which each runner has its own endpoint, TLS material, server name and platforms, from
// YAML shaped as setup-buildx's `append` (a list of nodes: name, endpoint, platforms, driver-opts
// with cacert/cert/key/servername), or from indexed flat variables BUILDKIT_RUNNER_<i>_* for CI
// systems whose secrets are flat. Every error is one sentence that names the runner and the field
// and never repeats key material (PEM text is never quoted; a path is).
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import {
  BuildkitError,
  isPemText,
  loadTlsMaterial,
  parseEndpoint,
  type TlsInputs,
} from "../buildkit/index.js";
import { InputError } from "../errors.js";
import { loadYaml } from "../libraries.js";
import { listItems, parsePlatforms } from "../values.js";
import type { RunnerCandidate } from "./pool.js";

/** A runner of the pool, named for the log: its `name`, else its endpoint. */
export interface ConfiguredRunner extends RunnerCandidate {
  name: string;
}

/** One runner as written, before its endpoint, TLS material and platforms are checked. */
export interface RunnerSpec {
  name?: string;
  endpoint?: string;
  caCert?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  platforms?: string | string[];
  /** How many builds the runner takes at once (its buildkitd's max-parallelism), a positive integer. */
  maxParallelism?: string | number;
}

/** How an error sentence names one field of one runner: `runner 2 ("arm64") in BUILDKIT_RUNNERS, cacert`. */
export type FieldNamer = (field: keyof RunnerSpec) => string;

export interface RunnerListSource {
  /** Where the list came from, for sentences: "BUILDKIT_RUNNERS", "--runners-file ./runners.yml". */
  label: string;
  /** Relative certificate paths are taken from here (the file's directory, or the working dir). */
  baseDir: string;
}

/** setup-buildx's driver-opts for the remote driver, and our field each one fills. */
const DRIVER_OPTS: Record<string, keyof RunnerSpec> = {
  cacert: "caCert",
  cert: "cert",
  key: "key",
  servername: "serverName",
};
const NODE_KEYS = ["name", "endpoint", "platforms", "max-parallelism", "driver-opts"];

/** A YAML list of runners (setup-buildx's `append` schema), each checked and loaded. */
export async function parseRunnerList(text: string, source: RunnerListSource): Promise<ConfiguredRunner[]> {
  const { parse: parseYaml } = await loadYaml();
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const firstLine = (error as Error).message.split("\n")[0]!.replace(/\.$/, "");
    throw new InputError(`${source.label} is not valid YAML: ${firstLine}.`);
  }
  if (document === null || document === undefined) {
    throw new InputError(`${source.label} is empty; give a list of runners, each with an endpoint.`);
  }
  if (!Array.isArray(document)) {
    throw new InputError(
      `${source.label} is not a list; give a YAML list of runners (- endpoint: tcp://HOST:PORT …), as setup-buildx's append takes.`,
    );
  }
  return document.map((node, index) => {
    const where = `runner ${index + 1} in ${source.label}`;
    const spec = specFromNode(node, where);
    const runner = spec.name ? `runner ${index + 1} ("${spec.name}") in ${source.label}` : where;
    return loadRunner(spec, (field) => `${runner}, ${FIELD_LABELS[field]}`, source.baseDir);
  });
}

/** --runners-file: the same YAML in a file; relative certificate paths are from the file's directory. */
export async function readRunnerListFile(
  path: string,
  flagName = "--runners-file",
): Promise<ConfiguredRunner[]> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code;
    throw new InputError(`${flagName} "${path}" cannot be read: ${why}.`);
  }
  return parseRunnerList(text, { label: `${flagName} "${path}"`, baseDir: dirname(resolve(path)) });
}

const FIELD_LABELS: Record<keyof RunnerSpec, string> = {
  name: "name",
  endpoint: "endpoint",
  caCert: "cacert",
  cert: "cert",
  key: "key",
  serverName: "servername",
  platforms: "platforms",
  maxParallelism: "max-parallelism",
};

function specFromNode(node: unknown, where: string): RunnerSpec {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw new InputError(
      `${capitalise(where)} is not a mapping; give endpoint, and optionally name, platforms and driver-opts.`,
    );
  }
  const entries = node as Record<string, unknown>;
  for (const key of Object.keys(entries)) {
    if (key === "buildkitd-flags") {
      throw new InputError(
        `${capitalise(where)} has buildkitd-flags, which apply to a runner that is started; these runners are already running.`,
      );
    }
    if (!NODE_KEYS.includes(key)) {
      throw new InputError(`${capitalise(where)} has the field "${key}"; use ${NODE_KEYS.join(", ")}.`);
    }
  }
  const spec: RunnerSpec = {
    name: optionalString(entries.name, `${where}, name`),
    endpoint: optionalString(entries.endpoint, `${where}, endpoint`),
    platforms: platformsValue(entries.platforms, `${where}, platforms`),
    maxParallelism: scalarValue(entries["max-parallelism"], `${where}, max-parallelism`),
  };
  const driverOpts = driverOptsOf(entries["driver-opts"], where);
  for (const [option, value] of Object.entries(driverOpts)) {
    const field = DRIVER_OPTS[option];
    if (field === undefined) {
      throw new InputError(
        `${capitalise(where)} has driver-opts ${option}, which a remote runner does not take; use cacert, cert, key or servername.`,
      );
    }
    (spec as Record<string, unknown>)[field] = value;
  }
  return spec;
}

/** setup-buildx's list of `key=value` strings, or a mapping (where PEM text reads naturally). */
function driverOptsOf(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  const options: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = typeof item === "string" ? item : undefined;
      const equals = text?.indexOf("=") ?? -1;
      if (text === undefined || equals <= 0) {
        throw new InputError(`${capitalise(where)} has a driver-opts entry that is not key=value.`);
      }
      options[text.slice(0, equals).trim()] = text.slice(equals + 1);
    }
    return options;
  }
  if (typeof value === "object") {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (typeof item !== "string")
        throw new InputError(`${capitalise(where)}, driver-opts ${key} is not text.`);
      options[key] = item;
    }
    return options;
  }
  throw new InputError(`${capitalise(where)}, driver-opts is neither a list of key=value nor a mapping.`);
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new InputError(`${capitalise(what)} is not text.`);
  return value.trim() === "" ? undefined : value.trim();
}

function scalarValue(value: unknown, what: string): string | number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" || typeof value === "number") return value;
  throw new InputError(`${capitalise(what)} is neither a number nor text.`);
}

function platformsValue(value: unknown, what: string): string | string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value as string[];
  throw new InputError(`${capitalise(what)} is neither a comma-separated list nor a list of platforms.`);
}

const INDEXED = /^BUILDKIT_RUNNER_(\d+)_([A-Z_]+)$/;
const INDEXED_FIELDS: Record<string, keyof RunnerSpec> = {
  NAME: "name",
  ENDPOINT: "endpoint",
  TLS_CACERT: "caCert",
  TLS_CERT: "cert",
  TLS_KEY: "key",
  TLS_SERVERNAME: "serverName",
  PLATFORMS: "platforms",
  MAX_PARALLELISM: "maxParallelism",
};

/**
 * BUILDKIT_RUNNER_<i>_ENDPOINT, _TLS_CACERT, _TLS_CERT, _TLS_KEY (PEM text or a path),
 * _TLS_SERVERNAME, _PLATFORMS, _MAX_PARALLELISM and _NAME, in the order of i (gaps allowed). Empty when none is set.
 */
export function runnersFromIndexedEnv(env: NodeJS.ProcessEnv, baseDir = process.cwd()): ConfiguredRunner[] {
  const byIndex = new Map<number, RunnerSpec>();
  for (const [variable, value] of Object.entries(env)) {
    const match = INDEXED.exec(variable);
    if (!match || value === undefined || value.trim() === "") continue;
    const field = INDEXED_FIELDS[match[2]!];
    if (field === undefined) {
      throw new InputError(
        `${variable} is not a runner setting; use BUILDKIT_RUNNER_${match[1]}_ with ${Object.keys(INDEXED_FIELDS).join(", ")}.`,
      );
    }
    const index = Number(match[1]);
    const spec = byIndex.get(index) ?? {};
    (spec as Record<string, unknown>)[field] = value;
    byIndex.set(index, spec);
  }
  const fieldVariable = (index: number) => (field: keyof RunnerSpec) =>
    `BUILDKIT_RUNNER_${index}_${Object.entries(INDEXED_FIELDS).find(([, f]) => f === field)![0]}`;
  return [...byIndex.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, spec]) => loadRunner(spec, fieldVariable(index), baseDir));
}

export interface PoolConfigSources {
  env: NodeJS.ProcessEnv;
  /** The --runners-file flag's value, when given. */
  runnersFile?: string;
  /** The flag's name in sentences; default --runners-file. */
  runnersFileName?: string;
}

/**
 * The CLI's per-runner pool, from exactly one of --runners-file, BUILDKIT_RUNNERS (the same YAML)
 * or BUILDKIT_RUNNER_<i>_* variables; undefined when none is given (the simple inputs apply).
 */
export async function runnerPoolFromSources(
  sources: PoolConfigSources,
): Promise<ConfiguredRunner[] | undefined> {
  const fileName = sources.runnersFileName ?? "--runners-file";
  const text = sources.env.BUILDKIT_RUNNERS?.trim() ? sources.env.BUILDKIT_RUNNERS : undefined;
  const indexed = Object.keys(sources.env).some((name) => INDEXED.test(name) && sources.env[name]?.trim());
  const given = [
    sources.runnersFile !== undefined ? fileName : undefined,
    text !== undefined ? "BUILDKIT_RUNNERS" : undefined,
    indexed ? "BUILDKIT_RUNNER_<i>_* variables" : undefined,
  ].filter((name) => name !== undefined);
  if (given.length > 1) {
    throw new InputError(`Both ${given.join(" and ")} describe the runners; give only one of them.`);
  }
  if (sources.runnersFile !== undefined) return readRunnerListFile(sources.runnersFile, fileName);
  if (text !== undefined) return parseRunnerList(text, { label: "BUILDKIT_RUNNERS", baseDir: process.cwd() });
  if (indexed) return runnersFromIndexedEnv(sources.env);
  return undefined;
}

/**
 * Checks and loads one runner: endpoint parsed, TLS material read and matched, platforms
 * normalised. Every failure is an InputError whose sentence starts with the field's name.
 */
export function loadRunner(spec: RunnerSpec, nameOf: FieldNamer, baseDir: string): ConfiguredRunner {
  try {
    if (spec.endpoint === undefined || spec.endpoint.trim() === "") {
      throw new InputError(`${nameOf("endpoint")} is missing; every runner needs one.`);
    }
    const endpoint = withField(() => parseEndpoint(spec.endpoint!), nameOf("endpoint"));
    const inputs: TlsInputs = {
      caCert: absolute(spec.caCert, baseDir),
      cert: absolute(spec.cert, baseDir),
      key: absolute(spec.key, baseDir),
      serverName: spec.serverName,
    };
    const tls = loadTlsMaterial(inputs, {
      caCert: nameOf("caCert"),
      cert: nameOf("cert"),
      key: nameOf("key"),
    });
    const platforms =
      spec.platforms === undefined
        ? undefined
        : parsePlatforms(listItems([spec.platforms].flat(), ","), nameOf("platforms"));
    const maxParallelism = parseMaxParallelism(spec.maxParallelism, nameOf("maxParallelism"));
    return {
      name: spec.name ?? endpoint.address,
      endpoint,
      tls,
      ...(platforms !== undefined && platforms.length > 0 ? { platforms } : {}),
      ...(maxParallelism !== undefined ? { maxParallelism } : {}),
    };
  } catch (error) {
    if (error instanceof InputError || error instanceof BuildkitError) {
      throw new InputError(capitalise(error.message));
    }
    throw error;
  }
}

/** A positive whole number of builds; absent or empty: no limit known. */
function parseMaxParallelism(value: string | number | undefined, name: string): number | undefined {
  if (value === undefined || String(value).trim() === "") return undefined;
  const text = String(value).trim();
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InputError(`${name} is "${text}"; give a whole number of builds, 1 or more.`);
  }
  return Number(text);
}

/** A path relative to baseDir made absolute; PEM text and absent values as they are. */
function absolute(value: string | undefined, baseDir: string): string | undefined {
  if (value === undefined || value.trim() === "" || isPemText(value)) return value;
  return isAbsolute(value.trim()) ? value.trim() : resolve(baseDir, value.trim());
}

/** The endpoint parser's sentence, prefixed with the field it came from. */
function withField<T>(parse: () => T, field: string): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof BuildkitError)) throw error;
    throw new InputError(`${field}: ${error.message[0]!.toLowerCase()}${error.message.slice(1)}`);
  }
}

function capitalise(text: string): string {
  return text[0]!.toUpperCase() + text.slice(1);
}
