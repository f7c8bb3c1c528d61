// Where released binaries are kept between runs: the interface, and the CLI's directory of them.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fetchToFile } from "./download.js";

/** $REMOTE_BUILDKIT_CACHE, else $XDG_CACHE_HOME/remote-buildkit, else ~/.cache/remote-buildkit. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REMOTE_BUILDKIT_CACHE) return env.REMOTE_BUILDKIT_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "remote-buildkit");
}

/**
 * Where released binaries are kept between runs. The CLI uses DirToolStore; the action uses
 * @actions/tool-cache (src/github/).
 */
export interface ToolStore {
  /** The directory holding bin/buildkitd of this version, when already kept. */
  find(version: string, arch: string): Promise<string | undefined>;
  /** Downloads url to a new file and returns its path; throws DownloadError, honours the signal. */
  download(url: string, signal: AbortSignal): Promise<string>;
  /** A new empty directory to extract into, on the same file system as the store. */
  scratchDir(): Promise<string>;
  /** Keeps an extracted release (a directory with bin/buildkitd); returns where it now is. */
  keep(extracted: string, version: string, arch: string): Promise<string>;
}

/**
 * The CLI's store, ROOT/buildkit-vVERSION/bin/buildkitd (the layout install-buildkit.sh writes
 * too, so a buildkitd it built is found). The cache is per machine, so the architecture is not
 * part of the path.
 */
export class DirToolStore implements ToolStore {
  constructor(readonly root: string = defaultCacheRoot()) {}

  async find(version: string): Promise<string | undefined> {
    const dir = this.versionDir(version);
    return existsSync(join(dir, "bin", "buildkitd")) ? dir : undefined;
  }

  async download(url: string, signal: AbortSignal): Promise<string> {
    await mkdir(this.root, { recursive: true });
    const file = join(this.root, `.download-${randomBytes(6).toString("hex")}`);
    try {
      await fetchToFile(url, file, signal);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    return file;
  }

  async scratchDir(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    return mkdtemp(join(this.root, ".extract-"));
  }

  async keep(extracted: string, version: string): Promise<string> {
    const dir = this.versionDir(version);
    await rm(dir, { recursive: true, force: true });
    await rename(extracted, dir);
    return dir;
  }

  private versionDir(version: string): string {
    return join(this.root, `buildkit-v${version.replace(/^v/, "")}`);
  }
}
