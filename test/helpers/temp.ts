// Temporary directories for tests, removed when their test file is done, whether its tests passed
// or not: tempDir() notes each one on the global object, and the test environment
// (test/setup/environment.js) removes what is noted after the file's last hook. (The scripts that
// use helpers which make directories, such as makeContext, remove them themselves.)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The global property the test environment reads, under the same key. */
const TEMP_DIRS = Symbol.for("remote-buildkit.test-temp-dirs");

/** A new directory under the system's temporary directory, its name starting with `prefix`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const global = globalThis as { [TEMP_DIRS]?: string[] };
  (global[TEMP_DIRS] ??= []).push(dir);
  return dir;
}
