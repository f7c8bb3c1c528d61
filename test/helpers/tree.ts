// What a build output looks like on disk, entry by entry, to compare ours with buildctl's; and a
// Dockerfile whose result has every kind of entry an output can hold.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { makeContext, run } from "./contexts.js";

/**
 * The names in `dir`, in an array of the calling test's own realm: jest runs each test file in a vm
 * context, and node:assert's strict deepEqual tells an array made by node's fs (outside it) from
 * the file's `[]` by its prototype.
 */
export function listDir(dir: string): string[] {
  return [...readdirSync(dir)];
}

export interface Entry {
  type: string;
  mode: string;
  size: number;
  /** Microseconds: Node sets times through a double, so nanoseconds are not kept. */
  mtimeUs: string;
  uid: number;
  gid: number;
  content?: string;
  link?: string;
}

/** Every entry under `root` with its metadata, and the hardlink groups (paths sharing an inode). */
export function describeTree(root: string): { entries: Record<string, Entry>; hardlinks: string[][] } {
  const entries: Record<string, Entry> = {};
  const inodes = new Map<bigint, string[]>();
  for (const path of (readdirSync(root, { recursive: true, encoding: "utf8" }) as string[]).sort()) {
    const full = join(root, path);
    const stats = lstatSync(full, { bigint: true });
    const type = stats.isDirectory()
      ? "dir"
      : stats.isSymbolicLink()
        ? "symlink"
        : stats.isFile()
          ? "file"
          : "other";
    const entry: Entry = {
      type,
      mode: (Number(stats.mode) & 0o7777).toString(8),
      size: type === "dir" ? 0 : Number(stats.size),
      mtimeUs: String(stats.mtimeNs / 1000n),
      uid: Number(stats.uid),
      gid: Number(stats.gid),
    };
    if (type === "file") {
      entry.content = createHash("sha256").update(readFileSync(full)).digest("hex");
      inodes.set(stats.ino, [...(inodes.get(stats.ino) ?? []), path]);
    }
    if (type === "symlink") entry.link = readlinkSync(full);
    entries[path] = entry;
  }
  const hardlinks = [...inodes.values()].filter((paths) => paths.length > 1).map((paths) => paths.sort());
  return { entries, hardlinks: hardlinks.sort() };
}

/** A Dockerfile whose result has special modes, symlinks, hardlinks, an empty and a big file. */
export function richOutputContext(): string {
  const script = [
    "set -e",
    "B=/bin/busybox",
    "$B mkdir -p /out/dir/sub /out/ro",
    "echo hello > /out/dir/hello",
    "$B chmod 4755 /out/dir/hello",
    "$B ln /out/dir/hello /out/dir/hard",
    "$B ln /out/dir/hello /out/hard2",
    "$B ln -s hello /out/dir/rel",
    "$B ln -s /etc/passwd /out/abs",
    "$B ln -s ../nowhere /out/dir/dangling",
    "$B head -c 5000000 /dev/urandom > /out/dir/sub/big",
    ": > /out/empty",
    "$B chmod 600 /out/empty",
    "echo ro > /out/ro/file",
    "$B chmod 444 /out/ro/file",
    "$B chmod 555 /out/ro",
    "$B chmod 2750 /out/dir/sub",
    "$B chmod 1777 /out/dir",
    "$B touch -d '2001-02-03 04:05:06' /out/dir/hello",
  ].join("; ");
  return makeContext({
    Dockerfile: ["FROM scratch", "COPY busybox /bin/busybox", run(script)].join("\n"),
  });
}
