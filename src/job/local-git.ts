// Provenance's vcs attrs for a context on this machine, as buildx sets them (build/git.go): when the
// context is inside a Git work tree, vcs:source is its remote (the upstream of the current branch,
// else origin, else upstream) without credentials, vcs:revision the commit of HEAD, and
// vcs:localdir:context / vcs:localdir:dockerfile the directories relative to the work tree's root.
// BUILDX_GIT_INFO=false turns it off, as for buildx. Without git, or outside a work tree: nothing.
import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import { parseBoolean } from "../values.js";

/** Each git command's bound; they read local files only. */
const GIT_TIMEOUT_MS = 5_000;

export interface LocalVcs {
  source?: string;
  revision?: string;
  /** vcs:localdir:<name> for the session's local dirs inside the work tree. */
  localDirs: Record<string, string>;
}

/**
 * Three git processes at most, the last two at once, and none blocking: this runs before every
 * build of a checkout, where buildx's six one after the other took about 25 ms.
 */
export async function localVcs(
  dirs: { context: string; dockerfile: string },
  env: NodeJS.ProcessEnv,
): Promise<LocalVcs | undefined> {
  if (env.BUILDX_GIT_INFO !== undefined && !parseBoolean(env.BUILDX_GIT_INFO, "BUILDX_GIT_INFO", true)) {
    return undefined;
  }
  if (!mayBeInWorkTree(dirs.context, env)) return undefined;
  const git = (...args: string[]) => runGit(dirs.context, args);
  // The work tree's root, then HEAD's commit: git prints the root and fails when HEAD has no
  // commit yet, and prints nothing outside a work tree (also inside .git).
  const [root, head] = await git("rev-parse", "--show-toplevel", "--verify", "-q", "HEAD");
  if (!root || !isAbsolute(root)) return undefined;
  const revision = head && /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(head) ? head : undefined;
  const [branches, remotes] = await Promise.all([
    git("for-each-ref", "--format=%(HEAD)%(upstream:remotename)", "refs/heads"),
    git("remote", "-v"),
  ]);
  const localDirs: Record<string, string> = {};
  for (const [name, dir] of Object.entries(dirs)) {
    const path = relative(realpathSync(root), realpathSync(dir)) || ".";
    if (!path.startsWith("..")) localDirs[name] = path;
  }
  return { source: remoteUrl(branches, remotes), revision, localDirs };
}

/**
 * False when git could not find a work tree for `dir`: no `.git` in it or any directory above, and
 * no GIT_DIR. Spawning git costs a build outside a checkout a few ms of CPU (more with many builds
 * at once on a small machine); where a `.git` is found, git itself decides.
 */
export function mayBeInWorkTree(dir: string, env: NodeJS.ProcessEnv): boolean {
  if (env.GIT_DIR !== undefined || env.GIT_WORK_TREE !== undefined) return true;
  let current: string;
  try {
    current = realpathSync(dir);
  } catch {
    return true;
  }
  for (;;) {
    if (existsSync(join(current, ".git"))) return true;
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}

/**
 * The remote buildx records: the current branch's upstream remote, else origin, else upstream.
 * `branches` are for-each-ref's lines, the current branch's marked with `*`; `remotes` are
 * `git remote -v`'s, whose URLs are rewritten by url.*.insteadOf as `git remote get-url` does.
 */
function remoteUrl(branches: string[], remotes: string[]): string | undefined {
  const tracking = branches.find((line) => line.startsWith("*"))?.slice(1);
  const urls = new Map<string, string>();
  for (const line of remotes) {
    const match = /^(\S+)\t(.*) \(fetch\)$/.exec(line);
    if (match && !urls.has(match[1]!)) urls.set(match[1]!, match[2]!);
  }
  for (const remote of [tracking, "origin", "upstream"]) {
    const url = remote ? urls.get(remote) : undefined;
    if (url) return withoutCredentials(url);
  }
  return undefined;
}

/** Git's output lines, also when it fails (after printing some); none when git is missing. */
function runGit(cwd: string, args: string[]): Promise<string[]> {
  return new Promise((resolve) => {
    execFile(
      "git",
      args,
      {
        cwd,
        timeout: GIT_TIMEOUT_MS,
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0" },
      },
      (_error, stdout) =>
        resolve(
          String(stdout ?? "")
            .split("\n")
            .map((line) => line.trim())
            .filter(Boolean),
        ),
    );
  });
}

/** A remote URL with a user or token in it: the runner keeps attrs in its build history. */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}
