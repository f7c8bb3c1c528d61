// The one place a typed build becomes BuildKit's Solve request: the dockerfile.v0 frontend's
// attributes (the plan's, then the attestations), the exporters, the entitlements, the local
// directories the session serves, and where each exporter's result comes back to.
import {
  formatPlatform,
  gitContextAttrs,
  type ExporterRequest,
  type FileSendTarget,
  type StandInFiles,
} from "../buildkit/index.js";
import { join } from "node:path";
import { exporterRequest, outputTarget, type Exporter } from "../outputs/exporters.js";
import { resolveLocalImport, type CacheOptions } from "./cache.js";
import { localDirName, type BuildPlan } from "./plan.js";

export type { CacheOptions } from "./cache.js";

/** The attestations asked of the frontend; undefined is off. */
export interface Attestations {
  /** attest:provenance's value: mode=min for true, or the options given. */
  provenance?: string;
  /** attest:sbom's value: empty for true, or the options given. */
  sbom?: string;
}

export interface SolveRequest {
  frontend: "dockerfile.v0";
  frontendAttrs: Record<string, string>;
  exporters: ExporterRequest[];
  /** Where each exporter's result comes back to on this machine, by exporter index. */
  outputTargets: Array<FileSendTarget | undefined>;
  entitlements: string[];
  /** The session's directories by the names the frontend asks for. */
  localDirs: Record<string, string>;
  /** Files the session serves in those directories as if they were there (dockerignoreStandIn). */
  standIns: StandInFiles;
  cacheImports: CacheOptions[];
  cacheExports: CacheOptions[];
  /** The local cache directories the session's content store serves, by the store id the runner asks for. */
  cacheStores: Record<string, string>;
  /** Why a cache import was left out (a local cache not written yet): a line for the log each. */
  skippedCacheImports: string[];
}

export interface TypedBuild {
  plan: BuildPlan;
  exporters: Exporter[];
  attestations: Attestations;
  cache: { imports: CacheOptions[]; exports: CacheOptions[] };
}

export function solveRequest(build: TypedBuild): SolveRequest {
  const skippedCacheImports: string[] = [];
  const cacheImports = build.cache.imports.flatMap((entry) => {
    if (entry.type !== "local") return [entry];
    const resolved = resolveLocalImport(entry);
    if ("skipped" in resolved) {
      skippedCacheImports.push(resolved.skipped);
      return [];
    }
    return [resolved.entry];
  });
  return {
    frontend: "dockerfile.v0",
    frontendAttrs: {
      ...frontendAttrs(build.plan),
      ...attestationAttrs(build.attestations),
      ...cacheImportAttrs(cacheImports),
    },
    exporters: build.exporters.map(exporterRequest),
    outputTargets: build.exporters.map(outputTarget),
    entitlements: entitlements(build.plan),
    localDirs: localDirs(build.plan),
    standIns: dockerignoreStandIn(build.plan),
    cacheImports,
    cacheExports: build.cache.exports,
    cacheStores: cacheStores([...cacheImports, ...build.cache.exports]),
    skippedCacheImports,
  };
}

/**
 * The imports go to the frontend too, which imports for its own solves: `cache-imports`, the JSON
 * buildctl and buildx send (Go's field names). BuildKit keeps frontend attributes in its build
 * history; the only credential that can be here is a gha cache's job token, which buildx sends the
 * same way and which expires with the job.
 */
function cacheImportAttrs(imports: CacheOptions[]): Record<string, string> {
  if (imports.length === 0) return {};
  return {
    "cache-imports": JSON.stringify(imports.map((entry) => ({ Type: entry.type, Attrs: entry.attrs }))),
  };
}

/** A local cache's store id is "local:" and its directory, as the runner names it. */
function cacheStores(entries: CacheOptions[]): Record<string, string> {
  const stores: Record<string, string> = {};
  for (const entry of entries) {
    if (entry.type !== "local") continue;
    const dir = entry.attrs.src ?? entry.attrs.dest;
    if (dir) stores[`local:${dir}`] = dir;
  }
  return stores;
}

function frontendAttrs(plan: BuildPlan): Record<string, string> {
  // A Git context is the frontend's to fetch (`context` is its URL), with provenance's vcs attrs.
  const attrs: Record<string, string> = plan.git
    ? {
        ...gitContextAttrs(plan.git.url, { filename: plan.dockerfileName }),
        "vcs:source": plan.git.source,
        ...(plan.git.revision ? { "vcs:revision": plan.git.revision } : {}),
      }
    : { filename: plan.dockerfileName };
  if (plan.target) attrs.target = plan.target;
  for (const [key, value] of Object.entries(plan.buildArgs)) attrs[`build-arg:${key}`] = value;
  for (const [key, value] of Object.entries(plan.labels)) attrs[`label:${key}`] = value;
  if (plan.platforms.length > 0) attrs.platform = plan.platforms.map(formatPlatform).join(",");
  if (plan.noCache) attrs["no-cache"] = "";
  else if (plan.noCacheFilters.length > 0) attrs["no-cache"] = plan.noCacheFilters.join(",");
  for (const context of plan.namedContexts) {
    attrs[`context:${context.name}`] =
      context.kind === "local" ? `local:${localDirName(context.name)}` : context.source;
  }
  if (plan.addHosts.length > 0) attrs["add-hosts"] = plan.addHosts.join(",");
  if (plan.network === "none" || plan.network === "host") attrs["force-network-mode"] = plan.network;
  if (plan.shmSizeBytes !== undefined) attrs["shm-size"] = String(plan.shmSizeBytes);
  if (plan.ulimits.length > 0) attrs.ulimit = plan.ulimits.join(",");
  if (plan.pull) attrs["image-resolve-mode"] = "pull";
  if (plan.cgroupParent) attrs["cgroup-parent"] = plan.cgroupParent;
  if (plan.vcs?.source) attrs["vcs:source"] = plan.vcs.source;
  if (plan.vcs?.revision) attrs["vcs:revision"] = plan.vcs.revision;
  for (const [name, dir] of Object.entries(plan.vcs?.localDirs ?? {})) attrs[`vcs:localdir:${name}`] = dir;
  return attrs;
}

function attestationAttrs(attestations: Attestations): Record<string, string> {
  const attrs: Record<string, string> = {};
  if (attestations.provenance !== undefined) attrs["attest:provenance"] = attestations.provenance;
  if (attestations.sbom !== undefined) attrs["attest:sbom"] = attestations.sbom;
  return attrs;
}

/** The context, the Dockerfile's dir (neither for a Git context) and the local named contexts. */
function localDirs(plan: BuildPlan): Record<string, string> {
  const dirs: Record<string, string> = plan.git
    ? {}
    : { context: plan.contextDir, dockerfile: plan.dockerfileDir };
  for (const context of plan.namedContexts) {
    if (context.kind === "local") dirs[localDirName(context.name)] = context.dir;
  }
  return dirs;
}

/**
 * The context's .dockerignore, served beside the Dockerfile as `<Dockerfile>.dockerignore`. The
 * frontend fetches the Dockerfile together with a `<Dockerfile>.dockerignore` beside it, and when
 * there is one it takes that file's patterns for the context's instead of fetching .dockerignore
 * in a transfer of its own: two or three round trips to the runner fewer on every build. The
 * patterns are the same, so is the build; an empty file stands in where the context has none.
 * A real `<Dockerfile>.dockerignore` wins, as it does for the frontend, and a .dockerignore that is
 * not a regular file is left to the frontend's own transfer. A Git context has no local files.
 */
function dockerignoreStandIn(plan: BuildPlan): StandInFiles {
  if (plan.git) return {};
  return {
    dockerfile: {
      name: `${plan.dockerfileName}.dockerignore`,
      source: join(plan.contextDir, ".dockerignore"),
    },
  };
}

/** Entitlements the plan asks of the runner: those allowed, and host networking when it is the mode. */
function entitlements(plan: BuildPlan): string[] {
  return [...new Set([...plan.allow, ...(plan.network === "host" ? ["network.host"] : [])])];
}
