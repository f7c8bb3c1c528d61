// Provenance's vcs attrs for a context on this machine, as buildx sets them (build/git.go): when the
// context is inside a Git work tree, vcs:source is its remote (the upstream of the current branch,
// else origin, else upstream) without credentials, vcs:revision the commit of HEAD, and
// vcs:localdir:context / vcs:localdir:dockerfile the directories relative to the work tree's root.
// BUILDX_GIT_INFO=false turns it off, as for buildx. Without git, or outside a work tree: nothing.
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { relative } from "node:path";
import { parseBoolean } from "../values.js";

/** Each git command's bound; they read local files only. */
const GIT_TIMEOUT_MS = 5_000;

export interface LocalVcs {
  source?: string;
  revision?: string;
  /** vcs:localdir:<name> for the session's local dirs inside the work tree. */
  localDirs: Record<string, string>;
}

export function localVcs(
  dirs: { context: string; dockerfile: string },
  env: NodeJS.ProcessEnv,
): LocalVcs | undefined {
  if (env.BUILDX_GIT_INFO !== undefined && !parseBoolean(env.BUILDX_GIT_INFO, "BUILDX_GIT_INFO", true)) {
    return undefined;
  }
  const git = (...args: string[]) => runGit(dirs.context, args);
  if (git("rev-parse", "--is-inside-work-tree") !== "true") return undefined;
  const root = git("rev-parse", "--show-toplevel");
  if (!root) return undefined;
  const revision = git("show", "--format=%H", "HEAD", "--quiet", "--") || undefined;
  const localDirs: Record<string, string> = {};
  for (const [name, dir] of Object.entries(dirs)) {
    const path = relative(realpathSync(root), realpathSync(dir)) || ".";
    if (!path.startsWith("..")) localDirs[name] = path;
  }
  return { source: remoteUrl(git), revision, localDirs };
}

function remoteUrl(git: (...args: string[]) => string | undefined): string | undefined {
  const branch = git("symbolic-ref", "-q", "HEAD");
  const tracking = branch ? git("for-each-ref", "--format=%(upstream:remotename)", branch) : undefined;
  for (const remote of [tracking, "origin", "upstream"]) {
    if (!remote) continue;
    const url = git("remote", "get-url", remote);
    if (url) return withoutCredentials(url);
  }
  return undefined;
}

/** The first line of git's answer, or undefined when git is missing or fails. */
function runGit(cwd: string, args: string[]): string | undefined {
  try {
    const output = execFileSync("git", args, {
      cwd,
      timeout: GIT_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0" },
    });
    return output.toString("utf8").split("\n")[0]!.trim();
  } catch {
    return undefined;
  }
}

/** A remote URL with a user or token in it: the runner keeps attrs in its build history. */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}
