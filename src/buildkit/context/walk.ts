// Walks a local directory the way fsutil's sender does: depth-first, names sorted bytewise in
// each directory, a directory before its contents, filtered by include and exclude patterns,
// with parents of kept entries sent before them. Symlinks are sent as links, never followed.
// A stand-in file may be walked at the top as if it were there (see StandInFile).
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from "node:fs";
import { BuildkitError } from "../errors.js";
import { readlink } from "node:fs/promises";
import { join } from "node:path";
import { goFileMode, hasMode, majorMinor, MODE_SOCKET } from "./stat.js";
import { PatternMatcher } from "./patterns.js";

export interface WalkEntry {
  /** Relative, slash-separated, clean. */
  path: string;
  absolutePath: string;
  mode: number;
  size: bigint;
  modTimeNs: bigint;
  linkname: string;
  devmajor: bigint;
  devminor: bigint;
  /** True for a regular file whose content the receiver will request (not a hard link). */
  hasContent: boolean;
  /**
   * Set for a stand-in (StandInFile): "source" when its content is its source's (absolutePath),
   * "empty" when there is no file behind it (absolutePath is then empty).
   */
  standIn?: "source" | "empty";
}

/**
 * A regular file walked at the top of the directory under `name`, unless the directory has an
 * entry of that name: `source`'s metadata and content, or an empty file when `source` does not
 * exist. Where `source` is anything but a regular file, or cannot be read, there is no stand-in.
 */
export interface StandInFile {
  name: string;
  source: string;
}

export interface WalkFilter {
  includePatterns: string[];
  excludePatterns: string[];
  followPaths: string[];
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Names in UTF-8 byte order. Without UTF-16 surrogates or code units above them, JavaScript's own
 * order (by UTF-16 code unit) is the same and needs no buffer per comparison.
 */
function sortNames(names: string[]): string[] {
  return names.some((name) => /[\ud800-\uffff]/.test(name)) ? names.sort(byteOrder) : names.sort();
}

export async function* walkContext(
  root: string,
  filter: WalkFilter,
  standIn?: StandInFile,
): AsyncGenerator<WalkEntry> {
  const include = new PatternMatcher([
    ...filter.includePatterns,
    ...(await followTargets(root, filter.followPaths)),
  ]);
  const exclude = new PatternMatcher(filter.excludePatterns);
  const hardlinks = new Map<string, string>();
  // Directories entered but not sent yet: sent just before their first kept descendant.
  const pending: WalkEntry[] = [];

  // A synchronous generator under one asynchronous one: every level of nested async generators
  // costs promise turns per entry, more than the lstat itself.
  function* visit(dir: string, relativeDir: string): Generator<WalkEntry> {
    // Synchronous calls: one lstat costs microseconds, a trip through the thread pool and back
    // costs more than that per entry, and entries are sent one after the other anyway.
    let names = sortNames(readdirSync(dir));
    const standInEntry =
      relativeDir === "" && standIn !== undefined && !names.includes(standIn.name)
        ? standInFileEntry(standIn)
        : undefined;
    if (standInEntry) names = sortNames([...names, standInEntry.path]);
    // A name has no slash: the file system takes `dir/name` as it is, with no path.join (and its
    // normalizing) for each of a context's files.
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    for (const name of names) {
      const path = relativeDir ? `${relativeDir}/${name}` : name;
      const absolutePath = prefix + name;
      // Neither sent nor entered whatever it is (the Dockerfile's dir is walked for one name):
      // no lstat, so an entry we could not read does not matter here.
      if (!include.empty && !include.matches(path) && !include.couldMatchInside(path)) continue;
      const included = include.empty || include.matches(path);
      const excluded = exclude.matches(path);
      if (standInEntry?.path === path) {
        if (included && !excluded) {
          yield* flushPending();
          yield standInEntry;
        }
        continue;
      }
      const stats = statEntry(absolutePath, path, dir);
      const mode = goFileMode(Number(stats.mode));
      if (hasMode(mode, MODE_SOCKET)) continue;
      const entry = toEntry(path, absolutePath, stats, mode, hardlinks, included && !excluded);
      if (stats.isDirectory()) {
        const mayHoldKept =
          (included || include.couldMatchInside(path)) && (!excluded || exclude.hasExclusions);
        if (!mayHoldKept) continue;
        if (included && !excluded) {
          yield* flushPending();
          yield entry;
          yield* visit(absolutePath, path);
        } else {
          pending.push(entry);
          yield* visit(absolutePath, path);
          if (pending.at(-1) === entry) pending.pop();
        }
      } else if (included && !excluded) {
        yield* flushPending();
        yield entry;
      }
    }
  }

  function* flushPending(): Generator<WalkEntry> {
    while (pending.length > 0) yield pending.shift()!;
  }

  yield* visit(root, "");
}

function toEntry(
  path: string,
  absolutePath: string,
  stats: BigIntStats,
  mode: number,
  hardlinks: Map<string, string>,
  kept: boolean,
): WalkEntry {
  let linkname = "";
  let hasContent = false;
  if (stats.isSymbolicLink()) {
    linkname = readlinkSync(absolutePath);
  } else if (stats.isFile()) {
    hasContent = true;
    if (stats.nlink > 1n && kept) {
      const key = `${stats.dev}:${stats.ino}`;
      const first = hardlinks.get(key);
      if (first !== undefined) {
        linkname = first;
        hasContent = false;
      } else hardlinks.set(key, path);
    }
  }
  const device =
    stats.isBlockDevice() || stats.isCharacterDevice() ? majorMinor(stats) : { major: 0n, minor: 0n };
  return {
    path,
    absolutePath,
    mode,
    size: stats.isDirectory() ? 0n : stats.size,
    modTimeNs: stats.mtimeNs,
    linkname,
    devmajor: device.major,
    devminor: device.minor,
    hasContent,
  };
}

function standInFileEntry({ name, source }: StandInFile): WalkEntry | undefined {
  let stats: BigIntStats;
  try {
    stats = lstatSync(source, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return undefined;
    return {
      path: name,
      absolutePath: "",
      mode: 0o644,
      size: 0n,
      modTimeNs: 0n,
      linkname: "",
      devmajor: 0n,
      devminor: 0n,
      hasContent: true,
      standIn: "empty",
    };
  }
  if (!stats.isFile()) return undefined;
  return {
    ...toEntry(name, source, stats, goFileMode(Number(stats.mode)), new Map(), true),
    standIn: "source",
  };
}

/** followpaths are included along with the targets of those that are symlinks inside the root. */
async function followTargets(root: string, followPaths: string[]): Promise<string[]> {
  const targets: string[] = [...followPaths];
  for (const path of followPaths) {
    try {
      const target = await readlink(join(root, path));
      const resolved = target.startsWith("/") ? target.slice(1) : join(path, "..", target);
      if (!resolved.startsWith("..")) targets.push(resolved);
    } catch {
      // not a symlink, or missing: nothing more to follow
    }
  }
  return targets;
}

/** A file or directory of the context that cannot be read; the message names it. */
export class ContextReadError extends BuildkitError {
  override name = "ContextReadError";
}

function statEntry(absolutePath: string, path: string, dir: string): BigIntStats {
  try {
    return lstatSync(absolutePath, { bigint: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    // Node reads directory entries as UTF-8: a name that is not valid UTF-8 comes back with U+FFFD
    // in it, and no such file exists. buildctl would send it; we cannot name it, so we say so.
    if (path.includes("\uFFFD")) {
      throw new ContextReadError(
        `A file in ${dir} has a name that is not valid UTF-8 ("${path}"), which this client cannot send; rename it.`,
      );
    }
    throw new ContextReadError(`The context file "${path}" cannot be read (${code}).`);
  }
}
