// Build outputs as buildx writes them (`type=local,dest=out`, `type=tar,dest=out.tar`, oci,
// docker, image and registry), one per line or flag, turned into Solve exporters and the places
// on the job's machine that receive them. `dest` stays on our side: the runner streams the
// result back through the session.
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import semver from "semver";
import { InputError, PolicyError } from "../errors.js";
import type { RunnerInfo } from "../buildkit/client.js";
import type { ExporterRequest } from "../buildkit/solve.js";
import type { FileSendTarget } from "../buildkit/session/filesend.js";

export interface OutputSpec {
  exporter: ExporterRequest;
  /** Where the runner sends it back, for local, tar, oci and docker. */
  target?: FileSendTarget;
}

const FILE_TYPES = new Set(["tar", "oci", "docker"]);

export function parseOutputs(items: string[], name: string, cwd: string): OutputSpec[] {
  return items.filter((item) => item.trim() !== "").map((item) => parseOutput(item.trim(), name, cwd));
}

function parseOutput(item: string, name: string, cwd: string): OutputSpec {
  // buildx's shorthand: a bare path is a local output.
  const fields = item.includes("=") ? item.split(",") : [`type=local`, `dest=${item}`];
  const attrs: Record<string, string> = {};
  for (const field of fields) {
    const equals = field.indexOf("=");
    if (equals <= 0)
      throw new InputError(`${name} "${item}" is not KEY=VALUE,...; write it as type=local,dest=DIR.`);
    attrs[field.slice(0, equals).trim()] = field.slice(equals + 1);
  }
  const { type, dest, ...exporterAttrs } = attrs;
  if (type === undefined)
    throw new InputError(`${name} "${item}" has no type=; use local, tar, oci, docker, image or registry.`);
  if (type === "image" || type === "registry") {
    if (dest !== undefined) throw new InputError(`${name} "${item}": an ${type} output has no dest.`);
    // buildx's registry output is an image output that pushes.
    const imageAttrs = type === "registry" ? { ...exporterAttrs, push: "true" } : exporterAttrs;
    return { exporter: { type: "image", attrs: imageAttrs } };
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
    return { exporter: { type, attrs: exporterAttrs }, target: { kind: "dir", dir: path } };
  }
  requireNot(path, "directory", `${name} "${item}": "${dest}" is a directory; give a file.`);
  return { exporter: { type, attrs: exporterAttrs }, target: { kind: "file", path } };
}

function requireNot(path: string, kind: "file" | "directory", message: string): void {
  try {
    const stats = statSync(path);
    if (kind === "file" ? !stats.isDirectory() : stats.isDirectory()) throw new InputError(message);
  } catch (error) {
    if (error instanceof InputError) throw error;
  }
}

/** Creates the destinations before the build, so that a path we cannot write fails early. */
export function prepareDestinations(outputs: OutputSpec[], name: string): void {
  for (const { target } of outputs) {
    if (!target) continue;
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
export function checkExporterCount(count: number, runner: RunnerInfo): void {
  if (count <= 1) return;
  const version = semver.coerce(runner.version?.version ?? "0.10.0");
  if (version && semver.lt(version, "0.13.0")) {
    throw new PolicyError(
      `The runner at ${runner.endpoint} runs BuildKit ${runner.version?.version || "older than v0.11"}, which takes one output per build, but ${count} were asked for.`,
    );
  }
}
