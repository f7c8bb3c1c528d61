// Build contexts for the tests, each in a temporary directory (removed after the test file, see
// temp.ts): images are FROM scratch with Debian's static busybox copied in, since there is no
// registry to pull a base image from.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "./temp.js";

export const BUSYBOX = "/bin/busybox";

/** Writes `files` (path to content) into a new directory, with busybox at ./busybox. */
export function makeContext(files: Record<string, string>): string {
  const dir = tempDir("rb-context-");
  copyFileSync(BUSYBOX, join(dir, "busybox"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** A RUN line that runs a shell command with the image's busybox. */
export function run(command: string): string {
  return `RUN ["/bin/busybox", "sh", "-c", ${JSON.stringify(command)}]`;
}
