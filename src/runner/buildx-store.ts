// The builder that setup-buildx (or `docker buildx create --driver remote`) leaves on disk, read
// as a pool: a workflow written for setup-buildx + build-push-action keeps its setup step, and our
// build step finds the runners, their TLS files and platforms where buildx stores them.
//
// Layout (docker/buildx store package): <dir>/current is JSON {"Key","Name","Global"};
// <dir>/instances/<name, lower-cased> is the NodeGroup as Go's encoding/json writes it:
// {"Name","Driver","Nodes":[{"Name","Endpoint","Platforms":[{"architecture","os","variant"}],
// "DriverOpts":{"cacert","cert","key","servername",…},"Flags","Files"}],"Dynamic"}. <dir> is
// $BUILDX_CONFIG, else the Docker config file's directory ($DOCKER_CONFIG, else ~/.docker) + /buildx.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { loadRunner, type ConfiguredRunner } from "./pool-config.js";

export interface BuildxStoreOptions {
  env: NodeJS.ProcessEnv;
  /** A builder asked for by name (build-push-action's `builder` input); else BUILDX_BUILDER, else `current`. */
  builder?: string;
  /** The input's name for sentences; default "builder". */
  builderInputName?: string;
  /** For tests; default the user's home. */
  homeDir?: string;
  /**
   * Not asked for by name (only BUILDX_BUILDER or `current`): a builder with another driver (a
   * local docker or docker-container one) is no concern of ours, so undefined rather than an error.
   */
  remoteOnly?: boolean;
}

export interface BuildxBuilder {
  name: string;
  /** The store's directory it was read from. */
  dir: string;
  runners: ConfiguredRunner[];
  /** The remote driver's default-load option: loading into Docker when no output is given. */
  defaultLoad: boolean;
}

/** buildx's config dir: $BUILDX_CONFIG, else $DOCKER_CONFIG/buildx, else ~/.docker/buildx. */
export function buildxConfigDir(env: NodeJS.ProcessEnv, homeDir = homedir()): string {
  if (env.BUILDX_CONFIG) return env.BUILDX_CONFIG;
  return join(env.DOCKER_CONFIG || join(homeDir, ".docker"), "buildx");
}

interface StoredNode {
  Name?: string;
  Endpoint?: string;
  Platforms?: Array<{ os?: string; architecture?: string; variant?: string }> | null;
  DriverOpts?: Record<string, string> | null;
}

interface StoredNodeGroup {
  Name?: string;
  Driver?: string;
  Nodes?: StoredNode[] | null;
}

/**
 * The named (or current) builder as runners, or undefined when none is named and buildx has no
 * current builder here. A named builder that is missing, or one with another driver, is an error.
 */
export function readBuildxBuilder(options: BuildxStoreOptions): BuildxBuilder | undefined {
  const dir = buildxConfigDir(options.env, options.homeDir);
  const asked = options.builder?.trim() || undefined;
  const fromEnv = options.env.BUILDX_BUILDER?.trim() || undefined;
  const name = asked ?? fromEnv ?? currentBuilderName(dir);
  if (name === undefined) return undefined;
  const namedBy = asked
    ? `the ${options.builderInputName ?? "builder"} input`
    : fromEnv
      ? "BUILDX_BUILDER"
      : `${dir}/current`;
  if (!/^[a-zA-Z][a-zA-Z0-9._-]*$/.test(name)) {
    throw new InputError(
      `"${name}" (from ${namedBy}) is not a buildx builder name: a letter, then letters, digits, ., _ or -.`,
    );
  }
  const builder = `buildx builder "${name}"`;
  // Not asked for by name: buildx's own `default` builder (the docker driver) has no instance file.
  const implicit = options.remoteOnly && !asked;
  const group = readJson<StoredNodeGroup | undefined>(
    join(dir, "instances", name.toLowerCase()),
    builder,
    () => {
      if (implicit) return undefined;
      throw new InputError(
        `There is no ${builder} (named by ${namedBy}) in ${dir}; create it with setup-buildx (driver: remote) or docker buildx create --driver remote.`,
      );
    },
  );
  if (group === undefined) return undefined;
  const driver = group.Driver ?? "";
  if (driver !== "remote" && implicit) return undefined;
  if (driver !== "remote") {
    throw new InputError(
      `The ${builder} uses the ${driver || "default"} driver; remote-buildkit takes only remote builders (driver: remote), whose endpoints it reaches itself.`,
    );
  }
  const nodes = group.Nodes ?? [];
  if (nodes.length === 0) throw new InputError(`The ${builder} has no nodes.`);
  let defaultLoad = false;
  const runners = nodes.map((node, index) => {
    const nodeName = node.Name || `${index + 1}`;
    const opts = node.DriverOpts ?? {};
    if (opts["default-load"] === "true") defaultLoad = true;
    return loadRunner(
      {
        name: node.Name || undefined,
        endpoint: node.Endpoint,
        caCert: opts.cacert,
        cert: opts.cert,
        key: opts.key,
        serverName: opts.servername,
        platforms: (node.Platforms ?? []).map(formatPlatform),
      },
      (field) => `node "${nodeName}" of the ${builder}, ${FIELD_NAMES[field]}`,
      dir,
    );
  });
  return { name: group.Name ?? name, dir, runners, defaultLoad };
}

const FIELD_NAMES = {
  name: "name",
  endpoint: "endpoint",
  caCert: "driver-opts cacert",
  cert: "driver-opts cert",
  key: "driver-opts key",
  serverName: "driver-opts servername",
  platforms: "platforms",
  maxParallelism: "max-parallelism",
} as const;

/** `current`'s Name. Its Key is the Docker endpoint it was set for; there is no Docker CLI here to ask. */
function currentBuilderName(dir: string): string | undefined {
  const current = readJson<{ Name?: string } | undefined>(
    join(dir, "current"),
    `buildx's current-builder file`,
    () => undefined,
  );
  return current?.Name || undefined;
}

function readJson<T>(file: string, what: string, missing: () => T): T {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return missing();
    throw new InputError(
      `${capitalise(what)} (${file}) cannot be read: ${(error as NodeJS.ErrnoException).code}.`,
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new InputError(`${capitalise(what)} (${file}) is not valid JSON.`);
  }
}

function formatPlatform(platform: { os?: string; architecture?: string; variant?: string }): string {
  return [platform.os, platform.architecture, platform.variant].filter((part) => part).join("/");
}

function capitalise(text: string): string {
  return text[0]!.toUpperCase() + text.slice(1);
}
