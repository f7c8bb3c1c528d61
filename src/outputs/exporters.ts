// Build outputs as buildx writes them (`type=local,dest=out`, `type=tar,dest=out.tar`, oci,
// docker, image and registry), one per line or flag, typed as exporters; and each exporter as
// BuildKit's Solve request takes it, with the place on the job's machine that receives it. `dest`
// stays on our side: the runner streams the result back through the session.
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ExporterRequest, FileSendTarget, RunnerInfo } from "../buildkit/index.js";
import { InputError, PolicyError } from "../errors.js";
import { loadSemver } from "../libraries.js";
import { splitKeyValue } from "../values.js";
import { startLoad, type DockerEngine, type LoadedImage } from "./docker-engine.js";

/** The file formats an exporter writes to one file on the job's machine. */
export type FileExporterType = "tar" | "oci" | "docker";

export type Exporter =
  | {
      type: "image";
      /** Its names; none for an image output that takes the build's tags. */
      names: string[];
      /** Undefined where the output does not say, so that the build's push input decides. */
      push?: boolean;
      pushByDigest?: boolean;
      /** The exporter's other attributes, as given. */
      attrs: Record<string, string>;
    }
  | { type: "local"; dir: string; attrs: Record<string, string> }
  /** `load`: the docker exporter's tar into the job's Docker Engine. */
  | { type: "load"; names: string[]; load: EngineLoad }
  | { type: FileExporterType; file: string; attrs: Record<string, string> };

const FILE_TYPES = new Set<string>(["tar", "oci", "docker"]);

export function parseOutputs(items: string[], name: string, cwd: string): Exporter[] {
  return items.map((item) => parseOutput(item, name, cwd));
}

function parseOutput(item: string, name: string, cwd: string): Exporter {
  // buildx's shorthand: a bare path is a local output.
  const fields = item.includes("=") ? item.split(",") : [`type=local`, `dest=${item}`];
  const attrs: Record<string, string> = {};
  for (const field of fields) {
    const [key, value] = splitKeyValue(field);
    if (key === "" || value === undefined)
      throw new InputError(`${name} "${item}" is not KEY=VALUE,...; write it as type=local,dest=DIR.`);
    attrs[key] = value;
  }
  const { type, dest, ...exporterAttrs } = attrs;
  if (type === undefined)
    throw new InputError(`${name} "${item}" has no type=; use local, tar, oci, docker, image or registry.`);
  if (type === "image" || type === "registry") {
    if (dest !== undefined) throw new InputError(`${name} "${item}": an ${type} output has no dest.`);
    const { name: names, push, "push-by-digest": pushByDigest, ...rest } = exporterAttrs;
    return {
      type: "image",
      names: (names ?? "").split(",").filter((each) => each.trim() !== ""),
      // buildx's registry output is an image output that pushes.
      push: type === "registry" ? true : exporterBoolean(push, "push", item, name),
      pushByDigest: exporterBoolean(pushByDigest, "push-by-digest", item, name),
      attrs: rest,
    };
  }
  if (type !== "local" && !FILE_TYPES.has(type)) {
    throw new InputError(
      `${name} "${item}" has type=${type}; use local, tar, oci, docker, image or registry.`,
    );
  }
  if (!dest) throw new InputError(`${name} "${item}" needs dest=${type === "local" ? "DIR" : "FILE"}.`);
  if (dest === "-")
    throw new InputError(`${name} "${item}": writing an output to stdout is not supported; give a file.`);
  const path = resolve(cwd, dest);
  if (type === "local") {
    requireNot(path, "file", `${name} "${item}": "${dest}" is a file, not a directory.`);
    return { type, dir: path, attrs: exporterAttrs };
  }
  requireNot(path, "directory", `${name} "${item}": "${dest}" is a directory; give a file.`);
  return { type: type as FileExporterType, file: path, attrs: exporterAttrs };
}

/** A boolean attribute as BuildKit's exporters read it (Go's strconv.ParseBool). */
function exporterBoolean(
  value: string | undefined,
  key: string,
  item: string,
  name: string,
): boolean | undefined {
  if (value === undefined) return undefined;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new InputError(`${name} "${item}" has ${key}=${value}; use true or false.`);
}

function requireNot(path: string, kind: "file" | "directory", message: string): void {
  try {
    const stats = statSync(path);
    if (kind === "file" ? !stats.isDirectory() : stats.isDirectory()) throw new InputError(message);
  } catch (error) {
    if (error instanceof InputError) throw error;
  }
}

/** A load into the job's Docker Engine, and what the engine reported it loaded. */
export interface EngineLoad {
  engine: DockerEngine;
  loaded: LoadedImage[];
}

/** The exporter as the Solve request takes it. */
export function exporterRequest(exporter: Exporter): ExporterRequest {
  if (exporter.type === "load") {
    return { type: "docker", attrs: exporter.names.length > 0 ? { name: exporter.names.join(",") } : {} };
  }
  if (exporter.type !== "image") return { type: exporter.type, attrs: exporter.attrs };
  const attrs: Record<string, string> = {};
  if (exporter.names.length > 0) attrs.name = exporter.names.join(",");
  if (exporter.push) attrs.push = "true";
  if (exporter.pushByDigest) attrs["push-by-digest"] = "true";
  return { type: "image", attrs: { ...attrs, ...exporter.attrs } };
}

/** Where the runner sends the exporter's result on this machine; undefined for images. */
export function outputTarget(exporter: Exporter): FileSendTarget | undefined {
  if (exporter.type === "local") return { kind: "dir", dir: exporter.dir };
  if (exporter.type === "image") return undefined;
  if (exporter.type === "load") {
    const { engine, loaded } = exporter.load;
    return {
      kind: "stream",
      name: `the Docker Engine at ${engine.address}`,
      open: (signal) => {
        const load = startLoad(engine, signal);
        return { write: load.write, end: async () => loaded.push(await load.end()) };
      },
    };
  }
  return { kind: "file", path: exporter.file };
}

/** Creates the destinations before the build, so that a path we cannot write fails early. */
export function prepareDestinations(exporters: Exporter[], name: string): void {
  for (const exporter of exporters) {
    const target = outputTarget(exporter);
    if (!target || target.kind === "stream") continue;
    const dir = target.kind === "dir" ? target.dir : dirname(target.path);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new InputError(`${name}: "${dir}" cannot be created (${(error as NodeJS.ErrnoException).code}).`);
    }
  }
}

/**
 * Daemons before v0.13 read one exporter per build (the older request fields) and would drop the
 * rest without a word; refuse instead. A runner with no Info call is older than v0.11.
 */
export async function checkExporterCount(count: number, runner: RunnerInfo): Promise<void> {
  if (count <= 1) return;
  const semver = await loadSemver();
  const version = semver.coerce(runner.version?.version ?? "0.10.0");
  if (version && semver.lt(version, "0.13.0")) {
    throw new PolicyError(
      `The runner at ${runner.endpoint} runs BuildKit ${runner.version?.version || "older than v0.11"}, which takes one output per build, but ${count} were asked for.`,
    );
  }
}
