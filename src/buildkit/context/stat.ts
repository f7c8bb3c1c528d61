// File metadata in fsutil's terms: Go os.FileMode bits and nanosecond mtimes.
import type { BigIntStats } from "node:fs";

// Go's os.FileMode type bits.
export const MODE_DIR = 2 ** 31;
export const MODE_SYMLINK = 2 ** 27;
export const MODE_DEVICE = 2 ** 26;
export const MODE_NAMED_PIPE = 2 ** 25;
export const MODE_SOCKET = 2 ** 24;
export const MODE_SETUID = 2 ** 23;
export const MODE_SETGID = 2 ** 22;
export const MODE_CHAR_DEVICE = 2 ** 21;
export const MODE_STICKY = 2 ** 20;
// `>>> 0` keeps bit 31 as an unsigned value: JS bitwise operators work on signed 32-bit ints.
export const MODE_TYPE =
  (MODE_DIR | MODE_SYMLINK | MODE_DEVICE | MODE_NAMED_PIPE | MODE_SOCKET | MODE_CHAR_DEVICE) >>> 0;

/** Whether `mode` has any of `bits`; safe for bit 31, where `mode & bits` is negative. */
export function hasMode(mode: number, bits: number): boolean {
  return (mode & bits) !== 0;
}

const S_IFMT = 0o170000;

/** Unix st_mode to Go os.FileMode, as fsutil sends it. */
export function goFileMode(unixMode: number): number {
  let mode = unixMode & 0o777;
  switch (unixMode & S_IFMT) {
    case 0o040000:
      mode += MODE_DIR;
      break;
    case 0o120000:
      mode += MODE_SYMLINK;
      break;
    case 0o060000:
      mode += MODE_DEVICE;
      break;
    case 0o020000:
      mode += MODE_DEVICE + MODE_CHAR_DEVICE;
      break;
    case 0o010000:
      mode += MODE_NAMED_PIPE;
      break;
    case 0o140000:
      mode += MODE_SOCKET;
      break;
  }
  if (unixMode & 0o4000) mode += MODE_SETUID;
  if (unixMode & 0o2000) mode += MODE_SETGID;
  if (unixMode & 0o1000) mode += MODE_STICKY;
  return mode;
}

export function majorMinor(stats: BigIntStats): { major: bigint; minor: bigint } {
  const rdev = stats.rdev;
  // Linux's dev_t encoding (glibc gnu_dev_major / gnu_dev_minor).
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major, minor };
}
