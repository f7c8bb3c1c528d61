// Walks a local directory the way fsutil's sender does: depth-first, names sorted bytewise in
// each directory, a directory before its contents, filtered by include and exclude patterns,
// with parents of kept entries sent before them. Symlinks are sent as links, never followed.
import { lstat, readdir, readlink } from "node:fs/promises";
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
}

export interface WalkFilter {
  includePatterns: string[];
  excludePatterns: string[];
  followPaths: string[];
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export async function* walkContext(root: string, filter: WalkFilter): AsyncGenerator<WalkEntry> {
  const include = new PatternMatcher([
    ...filter.includePatterns,
    ...(await followTargets(root, filter.followPaths)),
  ]);
  const exclude = new PatternMatcher(filter.excludePatterns);
  const hardlinks = new Map<string, string>();
  // Directories entered but not sent yet: sent just before their first kept descendant.
  const pending: WalkEntry[] = [];

  async function* visit(dir: string, relativeDir: string): AsyncGenerator<WalkEntry> {
    const names = (await readdir(dir)).sort(byteOrder);
    for (const name of names) {
      const path = relativeDir ? `${relativeDir}/${name}` : name;
      const absolutePath = join(dir, name);
      const stats = await lstat(absolutePath, { bigint: true });
      const mode = goFileMode(Number(stats.mode));
      if (hasMode(mode, MODE_SOCKET)) continue;
      const included = include.empty || include.matches(path);
      const excluded = exclude.matches(path);
      const entry = await toEntry(path, absolutePath, stats, mode, hardlinks, included && !excluded);
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

async function toEntry(
  path: string,
  absolutePath: string,
  stats: import("node:fs").BigIntStats,
  mode: number,
  hardlinks: Map<string, string>,
  kept: boolean,
): Promise<WalkEntry> {
  let linkname = "";
  let hasContent = false;
  if (stats.isSymbolicLink()) {
    linkname = await readlink(absolutePath);
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
