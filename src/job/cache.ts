// cache-from and cache-to in buildx's syntax (`type=registry,ref=REF,mode=max`, a bare reference
// for `type=registry,ref=REF`), typed and checked before the build: the types BuildKit has, a
// `local` cache's directory on the job's machine, and the `gha` cache's service and token taken
// from the job's environment as buildx takes them. The runner does the importing and exporting;
// a local cache goes through the session's content store (src/buildkit/session/content.ts).
import { accessSync, constants, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "../errors.js";

/** A cache import or export (cache-from, cache-to): a type and its attributes, as the Solve request takes them. */
export interface CacheOptions {
  type: string;
  attrs: Record<string, string>;
}

export type CacheDirection = "import" | "export";

const IMPORT_TYPES = ["registry", "local", "gha", "s3", "azblob"];
/** `inline` writes the cache into the pushed image; importing it is a registry import of the image. */
const EXPORT_TYPES = ["registry", "inline", "local", "gha", "s3", "azblob"];

/** Attributes that hold credentials: masked before anything prints them. */
const SECRET_ATTRS = ["token", "ghtoken", "secret_access_key", "session_token", "account_key"];

export interface CacheParseContext {
  name: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  mask: (value: string) => void;
}

export function parseCacheList(
  items: readonly string[],
  direction: CacheDirection,
  context: CacheParseContext,
): CacheOptions[] {
  const entries: CacheOptions[] = [];
  for (const item of items) {
    if (item.trim() === "") continue;
    // buildx: a value without "=" is a list of references, each its own registry cache.
    if (!item.includes("=")) {
      for (const ref of csvFields(item, context.name)) {
        if (ref.trim() !== "") entries.push({ type: "registry", attrs: { ref: ref.trim() } });
      }
      continue;
    }
    entries.push(checkEntry(parseEntry(item, context.name), item, direction, context));
  }
  return entries;
}

function parseEntry(item: string, name: string): CacheOptions {
  const attrs: Record<string, string> = {};
  let type = "";
  for (const field of csvFields(item, name)) {
    const equals = field.indexOf("=");
    if (equals < 0) throw new InputError(`${name} "${item}" has "${field}", which is not KEY=VALUE.`);
    const key = field.slice(0, equals).trim().toLowerCase();
    const value = field.slice(equals + 1);
    if (key === "type") type = value.trim();
    else attrs[key] = value;
  }
  if (type === "")
    throw new InputError(`${name} "${item}" has no type=; use type=registry,ref=REF or another type.`);
  return { type, attrs };
}

function checkEntry(
  entry: CacheOptions,
  item: string,
  direction: CacheDirection,
  context: CacheParseContext,
): CacheOptions {
  const { name } = context;
  const types = direction === "import" ? IMPORT_TYPES : EXPORT_TYPES;
  if (!types.includes(entry.type)) {
    throw new InputError(`${name} "${item}" has type=${entry.type}; use ${joinOr(types)}.`);
  }
  for (const key of ["ignore-error", "oci-mediatypes", "image-manifest"]) {
    const value = entry.attrs[key];
    if (value !== undefined && !GO_BOOLEANS.includes(value)) {
      throw new InputError(`${name} "${item}" has ${key}=${value}; use true or false.`);
    }
  }
  const mode = entry.attrs.mode;
  if (mode !== undefined && mode !== "min" && mode !== "max") {
    throw new InputError(`${name} "${item}" has mode=${mode}; use min or max.`);
  }
  for (const key of SECRET_ATTRS) if (entry.attrs[key]) context.mask(entry.attrs[key]);
  switch (entry.type) {
    case "registry":
      if (!entry.attrs.ref?.trim())
        throw new InputError(`${name} "${item}" needs ref=REF, the cache's image name.`);
      return entry;
    case "local":
      return direction === "import" ? localImport(entry, item, context) : localExport(entry, item, context);
    case "gha":
      return withGithubCache(entry, item, context);
    default:
      return entry;
  }
}

/** The directory a local cache is read from: it may not exist yet (a first run), but if it does, it must be readable. */
function localImport(entry: CacheOptions, item: string, { name, cwd }: CacheParseContext): CacheOptions {
  const src = entry.attrs.src?.trim();
  if (!src) throw new InputError(`${name} "${item}" needs src=DIR, the cache directory on this machine.`);
  const dir = resolve(cwd, src);
  let isDir: boolean | undefined;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw unreadable(name, item, dir, error);
  }
  if (isDir === false) throw new InputError(`${name} "${item}": "${dir}" is not a directory.`);
  if (isDir) {
    try {
      accessSync(dir, constants.R_OK | constants.X_OK);
    } catch (error) {
      throw unreadable(name, item, dir, error);
    }
  }
  return { type: "local", attrs: { ...entry.attrs, src: dir } };
}

function localExport(entry: CacheOptions, item: string, { name, cwd }: CacheParseContext): CacheOptions {
  const dest = entry.attrs.dest?.trim();
  if (!dest) throw new InputError(`${name} "${item}" needs dest=DIR, the cache directory on this machine.`);
  const dir = resolve(cwd, dest);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new InputError(
      `${name} "${item}": "${dir}" cannot be created or written (${(error as NodeJS.ErrnoException).code}).`,
    );
  }
  return { type: "local", attrs: { ...entry.attrs, dest: dir } };
}

function unreadable(name: string, item: string, dir: string, error: unknown): InputError {
  return new InputError(
    `${name} "${item}": "${dir}" cannot be read (${(error as NodeJS.ErrnoException).code}).`,
  );
}

/**
 * The GitHub cache service's address and the job's token, from the environment as buildx fills
 * them (ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL; url_v2 from ACTIONS_RESULTS_URL when
 * ACTIONS_CACHE_SERVICE_V2 is true), unless the entry gives them. The token is masked.
 */
function withGithubCache(
  entry: CacheOptions,
  item: string,
  { name, env, mask }: CacheParseContext,
): CacheOptions {
  const attrs = { ...entry.attrs };
  let version = attrs.version;
  if (
    version === undefined &&
    ["1", "t", "T", "true", "TRUE", "True"].includes(env.ACTIONS_CACHE_SERVICE_V2 ?? "")
  ) {
    version = "2";
  }
  if (attrs.token === undefined && env.ACTIONS_RUNTIME_TOKEN) attrs.token = env.ACTIONS_RUNTIME_TOKEN;
  if (attrs.url_v2 === undefined && version === "2" && env.ACTIONS_RESULTS_URL)
    attrs.url_v2 = env.ACTIONS_RESULTS_URL;
  if (attrs.url === undefined) {
    const url = env.ACTIONS_CACHE_URL || env.ACTIONS_RESULTS_URL;
    if (url) attrs.url = url;
  }
  if (!attrs.token || (!attrs.url && !attrs.url_v2)) {
    throw new InputError(
      `${name} "${item}" needs GitHub's cache service: ACTIONS_RUNTIME_TOKEN and ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL are not set (outside GitHub Actions, give url= and token=).`,
    );
  }
  mask(attrs.token);
  return { type: "gha", attrs };
}

/** What Go's strconv.ParseBool takes, as BuildKit reads these attributes. */
const GO_BOOLEANS = ["1", "t", "T", "true", "TRUE", "True", "0", "f", "F", "false", "FALSE", "False"];

/** One CSV record, as buildx reads it: fields split on commas, double quotes around a field that holds one. */
function csvFields(text: string, name: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  let atStart = true;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && atStart) {
      quoted = true;
      atStart = false;
    } else if (char === ",") {
      fields.push(field);
      field = "";
      atStart = true;
    } else {
      field += char;
      atStart = false;
    }
  }
  if (quoted) throw new InputError(`${name} "${text}" has a quote that is not closed.`);
  fields.push(field);
  return fields;
}

function joinOr(words: readonly string[]): string {
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** Whether a failed export of this cache is only a warning (ignore-error=true). */
export function ignoresErrors(entry: CacheOptions): boolean {
  return ["1", "t", "T", "true", "TRUE", "True"].includes(entry.attrs["ignore-error"] ?? "");
}

const INDEX_FILE = "index.json";
const LAYOUT_FILE = "oci-layout";
const REF_NAME = "org.opencontainers.image.ref.name";
const IMAGE_NAME = "io.containerd.image.name";

interface OciIndex {
  schemaVersion?: number;
  mediaType?: string;
  manifests?: Array<{ digest: string; annotations?: Record<string, string> }>;
}

/**
 * A local cache import as the runner takes it: the digest of the tag (`latest` by default) in the
 * directory's index.json, as buildctl finds it. No cache there yet (a first run) is a reason to
 * skip the import, not to fail: the reason comes back instead.
 */
export function resolveLocalImport(entry: CacheOptions): { entry: CacheOptions } | { skipped: string } {
  const dir = entry.attrs.src!;
  if (entry.attrs.digest) return { entry };
  const tag = entry.attrs.tag ?? "latest";
  let index: OciIndex;
  try {
    index = JSON.parse(readFileSync(join(dir, INDEX_FILE), "utf8")) as OciIndex;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      skipped: `no local cache to import from ${dir} yet (${code === "ENOENT" ? "no index.json" : "index.json is not readable JSON"}).`,
    };
  }
  const manifests = index.manifests ?? [];
  const found =
    manifests.find((each) => each.annotations?.[IMAGE_NAME] === tag) ??
    manifests.find((each) => each.annotations?.[REF_NAME] === tag);
  if (!found) return { skipped: `the local cache in ${dir} has no tag ${tag}; nothing imported from it.` };
  return { entry: { type: "local", attrs: { ...entry.attrs, digest: found.digest } } };
}

/** After an export: index.json (and oci-layout) of each local cache point the tag at the new cache manifest, as buildctl writes them. */
export function recordLocalExports(exports: readonly CacheOptions[], manifestJson: string | undefined): void {
  if (!manifestJson) return;
  const descriptor = JSON.parse(manifestJson) as { annotations?: Record<string, string> };
  for (const entry of exports) {
    if (entry.type !== "local") continue;
    const dir = entry.attrs.dest!;
    const tag = entry.attrs.tag ?? "latest";
    writeFileSync(join(dir, LAYOUT_FILE), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    let index: OciIndex = {};
    try {
      index = JSON.parse(readFileSync(join(dir, INDEX_FILE), "utf8")) as OciIndex;
    } catch {
      // A new or unreadable index is written afresh.
    }
    const manifests = (index.manifests ?? []).filter(
      (each) => each.annotations?.[REF_NAME] !== tag || each.annotations?.[IMAGE_NAME] !== undefined,
    );
    manifests.push({ ...descriptor, annotations: { ...descriptor.annotations, [REF_NAME]: tag } } as never);
    const written = {
      schemaVersion: index.schemaVersion ?? 2,
      mediaType: index.mediaType ?? "application/vnd.oci.image.index.v1+json",
      ...index,
      manifests,
    };
    writeFileSync(join(dir, INDEX_FILE), JSON.stringify(written));
  }
}

/** The values among the caches' attributes that are credentials, for the log's redactors. */
export function cacheSecrets(entries: readonly CacheOptions[]): string[] {
  return entries.flatMap((entry) =>
    SECRET_ATTRS.map((key) => entry.attrs[key]).filter((value): value is string => !!value),
  );
}

/**
 * The cache of one platform when each platform builds on its own runner: a registry cache's tag,
 * a local cache's tag, and a gha, s3 or azblob cache's scope or name get the platform as a suffix
 * (`cache:main` → `cache:main-linux-arm64`), so that the runners neither overwrite each other's
 * cache nor import one another's. An inline cache travels in each platform's own image.
 */
export function cacheForPlatform(entry: CacheOptions, platform: string): CacheOptions {
  const suffix = platform.replace(/[^a-zA-Z0-9_.-]/g, "-");
  const attrs = { ...entry.attrs };
  switch (entry.type) {
    case "registry":
      attrs.ref = withTagSuffix(attrs.ref!.trim(), suffix);
      break;
    case "local":
      attrs.tag = `${attrs.tag ?? "latest"}-${suffix}`;
      delete attrs.digest;
      break;
    case "gha":
      attrs.scope = `${attrs.scope ?? "buildkit"}-${suffix}`;
      break;
    case "s3":
    case "azblob":
      attrs.name = `${attrs.name ?? "buildkit"}-${suffix}`;
      break;
  }
  return { type: entry.type, attrs };
}

/** REF:TAG-suffix, or REF:suffix for a reference without a tag; a digest reference stays as it is. */
function withTagSuffix(ref: string, suffix: string): string {
  if (ref.includes("@")) return ref;
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > lastSlash ? `${ref}-${suffix}` : `${ref}:${suffix}`;
}
