// A Git context: the runner fetches the repository itself, so nothing is uploaded. The Dockerfile
// frontend (v0.32.2, dockerui/context.go) reads the attr `context` as a Git URL first
// (`URL#ref:subdir`), and `filename` relative to that subdir. Credentials never go in the URL or
// an attr (the runner stores frontend attrs verbatim in its build history): the runner asks the
// session's Secrets service for GIT_AUTH_HEADER.<host[:port]>, GIT_AUTH_TOKEN.<host[:port]>,
// GIT_AUTH_HEADER and GIT_AUTH_TOKEN, in that order (source/git/source.go), so a token is given as
// the secret gitAuthSecretIds(url).token.
import { BuildkitError } from "./errors.js";

/** A Git URL we will not send: it carries credentials, or it is not one the frontend takes as Git. */
export class GitContextError extends BuildkitError {
  override name = "GitContextError";
}

/** Whether the frontend takes `text` as a Git URL (dfgitutil.ParseGitRef at v0.32.2). */
export function isGitUrl(text: string): boolean {
  const value = text.trim();
  if (/^git@[^:/]+:/.test(value)) return true;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === "git" || scheme === "ssh") return true;
  if (scheme === "http" || scheme === "https") {
    // An HTTP URL is Git only when its path ends in .git; otherwise it is a tarball or a Dockerfile.
    const path = value.replace(/[#?].*$/, "").replace(/^[a-z]+:\/\/[^/]*/i, "");
    return path.endsWith(".git");
  }
  return value.startsWith("github.com/");
}

/** host[:port] as the runner names the auth secrets (Go's url.Host: the port only when given). */
export function gitHost(url: string): string {
  const value = url.trim();
  const scp = /^[^@/]+@([^:/]+):/.exec(value);
  if (scp && !value.includes("://")) return scp[1]!;
  if (value.startsWith("github.com/")) return "github.com";
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value)?.[1] ?? "";
  return authority.slice(authority.lastIndexOf("@") + 1);
}

/** The secret ids the runner asks for this URL's host: a token (x-access-token) or a whole header. */
export function gitAuthSecretIds(url: string): { token: string; header: string } {
  const host = gitHost(url);
  return { token: `GIT_AUTH_TOKEN.${host}`, header: `GIT_AUTH_HEADER.${host}` };
}

/**
 * The frontend attrs for a Git context: `context` = the URL as given (with #ref:subdir), and
 * `filename` relative to the subdir. Refuses a URL with credentials in it: they would be stored
 * in the runner's build history for anyone with access to it to read.
 */
export function gitContextAttrs(url: string, options: { filename?: string } = {}): Record<string, string> {
  const value = url.trim();
  if (!isGitUrl(value)) {
    throw new GitContextError(
      `"${value}" is not a Git URL the Dockerfile frontend takes (git://…, ssh://…, git@host:path, or http(s)://….git).`,
    );
  }
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(value)?.[1];
  if (userinfo !== undefined && (userinfo.includes(":") || /^(http|https):/i.test(value))) {
    throw new GitContextError(
      `The Git URL for ${gitHost(value)} carries credentials; give the token as a secret (GIT_AUTH_TOKEN.${gitHost(value)}) instead, since the runner keeps the URL in its build history.`,
    );
  }
  return { context: value, filename: options.filename ?? "Dockerfile" };
}

/**
 * One sentence for the runner's failure to fetch a Git context, or undefined for other failures.
 * The runner's message holds git's stderr (several lines); it never holds the token.
 */
export function describeGitFetchFailure(message: string): string | undefined {
  const remote =
    /failed to fetch remote (\S+?):? git stderr/.exec(message)?.[1] ??
    /fetch remote (\S+?):/.exec(message)?.[1];
  if (remote === undefined) return undefined;
  const host = gitHost(remote);
  if (/could not read Username|Authentication failed|terminal prompts disabled|403|401/.test(message)) {
    return `The runner could not fetch the Git context from ${remote}: the server refused it without valid credentials; give a token for ${host} (the secret GIT_AUTH_TOKEN.${host}) that can read the repository.`;
  }
  const gitLine = message
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line.startsWith("fatal:"));
  return `The runner could not fetch the Git context from ${remote}${gitLine ? ` (${gitLine.replace(/\.$/, "")})` : ""}.`;
}
