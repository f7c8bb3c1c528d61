// File system calls for received outputs that never follow a symlink nor replace an existing file,
// and Go's file modes and times as the unix ones.
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, type FileHandle } from "node:fs/promises";
import { MODE_SETGID, MODE_SETUID, MODE_STICKY, hasMode } from "../context/stat.js";
import type { Stat } from "../proto/fsutil/types/stat_pb.js";

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A directory we can fill whatever its final mode; another transfer may have just made it. */
export async function makeDir(absolute: string): Promise<void> {
  try {
    await mkdir(absolute, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const stats = await lstat(absolute);
    if (!stats.isDirectory()) throw error;
  }
}

/** A new file, never an existing one nor through a symlink; writable by us until it is done. */
export function createFile(absolute: string): Promise<FileHandle> {
  return open(
    absolute,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
}

/** Sets the final mode (with setuid, setgid, sticky) and mtime through the handle; closes it. */
export async function finishFileMetadata(handle: FileHandle, stat: Stat, close = true): Promise<void> {
  try {
    // After the data: a write by an unprivileged process clears setuid and setgid.
    await handle.chmod(unixPermissions(stat.mode));
    const time = seconds(stat.modTime);
    await handle.utimes(time, time);
  } finally {
    if (close) await handle.close();
  }
}

/** Go FileMode permission and special bits as unix st_mode bits. */
export function unixPermissions(goMode: number): number {
  let mode = goMode & 0o777;
  if (hasMode(goMode, MODE_SETUID)) mode |= 0o4000;
  if (hasMode(goMode, MODE_SETGID)) mode |= 0o2000;
  if (hasMode(goMode, MODE_STICKY)) mode |= 0o1000;
  return mode;
}

/**
 * Unix nanoseconds as the fractional seconds Node's utimes takes. A double near today's time
 * resolves about 240 ns and libuv truncates it to nanoseconds, so half a microsecond is added:
 * the microseconds come out exact, the nanoseconds below them do not.
 */
export function seconds(nanoseconds: bigint): number {
  return (Number(nanoseconds / 1000n) + 0.5) / 1e6;
}
