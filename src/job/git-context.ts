// A Git context as build-push-action takes one: `context` may be a Git URL, and `git` (or buildx's
// `{{defaultContext}}`) is the job's own commit. The runner fetches it, so nothing is uploaded.
// The job's token goes to the runner as a session secret for the job's Git host only, never in
// the URL or a frontend attr (the runner keeps those in its build history).
import { gitAuthSecretIds, gitHost, isGitUrl } from "../buildkit/index.js";
import { InputError } from "../errors.js";

/** What `context` names: a directory on this machine, or a repository the runner fetches. */
export type ContextInput = { kind: "dir"; path: string } | { kind: "git"; url: string };

/** A Git context as the plan keeps it: the URL with #ref:subdir, and what provenance records. */
export interface GitContext {
  url: string;
  /** vcs:source: the repository, without #ref:subdir. */
  source: string;
  /** vcs:revision: the commit, when the URL pins one. */
  revision?: string;
}

/** The job's own commit as a Git URL: GitHub's, or GitLab's (CI_REPOSITORY_URL without its token). */
export function jobCommitUrl(env: NodeJS.ProcessEnv): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_SHA: sha } = env;
  if (server && repository && sha) return `${server.replace(/\/+$/, "")}/${repository}.git#${sha}`;
  const { CI_REPOSITORY_URL: url, CI_COMMIT_SHA: commit } = env;
  if (url && commit) return `${withoutUserinfo(url)}#${commit}`;
  return undefined;
}

const DEFAULT_CONTEXT = /\{\{\s*defaultContext\s*\}\}/g;

/** `{{defaultContext}}` replaced by the job's commit, as build-push-action does; an error where there is none. */
export function expandDefaultContext(value: string, env: NodeJS.ProcessEnv, name: string): string {
  if (!DEFAULT_CONTEXT.test(value)) return value;
  DEFAULT_CONTEXT.lastIndex = 0;
  const commit = requireJobCommit(env, name, "{{defaultContext}}");
  // `{{defaultContext}}:subdir` is the subdir of the job's commit.
  return value.replace(DEFAULT_CONTEXT, commit);
}

/** The `context` input: `git` and `{{defaultContext}}` are the job's commit, a Git URL is fetched, else a directory. */
export function contextInput(value: string, env: NodeJS.ProcessEnv, name: string): ContextInput {
  const given = value.trim();
  if (given === "git") return { kind: "git", url: requireJobCommit(env, name, "git") };
  const expanded = expandDefaultContext(given, env, name);
  if (isGitUrl(expanded)) return { kind: "git", url: expanded };
  return { kind: "dir", path: given };
}

function requireJobCommit(env: NodeJS.ProcessEnv, name: string, given: string): string {
  const url = jobCommitUrl(env);
  if (url === undefined) {
    throw new InputError(
      `${name} "${given}" means the job's own commit, but neither GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_SHA nor GitLab's CI_REPOSITORY_URL and CI_COMMIT_SHA are set; give a Git URL.`,
    );
  }
  return url;
}

/** The URL as given, with what provenance records of it. */
export function gitContext(url: string): GitContext {
  const hash = url.indexOf("#");
  const source = hash < 0 ? url : url.slice(0, hash);
  const ref = hash < 0 ? "" : url.slice(hash + 1).split(":")[0]!;
  return { url, source, ...(/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(ref) ? { revision: ref } : {}) };
}

/**
 * The session secrets that let the runner fetch the job's repositories: on GitHub, the token as
 * GIT_AUTH_TOKEN.<host> for the host of GITHUB_SERVER_URL (the runner sends it as x-access-token);
 * on GitLab, CI_JOB_TOKEN as the GIT_AUTH_HEADER.<host> for the host of CI_SERVER_URL, since GitLab
 * takes a job token only from the user gitlab-ci-token. Only for hosts that a Git URL of the build
 * names, and never over a secret of that id the user gave.
 */
export function gitAuthSecrets(
  urls: string[],
  options: { env: NodeJS.ProcessEnv; githubToken?: string; given: ReadonlySet<string> },
): Map<string, string> {
  const { env, githubToken, given } = options;
  const hosts = new Set(urls.filter(isGitUrl).map(gitHost));
  const secrets = new Map<string, string>();
  const githubHost = hostOf(env.GITHUB_SERVER_URL);
  if (githubToken && githubHost && hosts.has(githubHost)) {
    const id = gitAuthSecretIds(`${env.GITHUB_SERVER_URL}`).token;
    if (!given.has(id)) secrets.set(id, githubToken);
  }
  const gitlabHost = hostOf(env.CI_SERVER_URL);
  if (env.CI_JOB_TOKEN && gitlabHost && hosts.has(gitlabHost)) {
    const ids = gitAuthSecretIds(`${env.CI_SERVER_URL}`);
    if (!given.has(ids.header) && !given.has(ids.token)) {
      const basic = Buffer.from(`gitlab-ci-token:${env.CI_JOB_TOKEN}`).toString("base64");
      secrets.set(ids.header, `basic ${basic}`);
    }
  }
  return secrets;
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** GitLab's CI_REPOSITORY_URL carries the job token as userinfo; the runner must never see it there. */
function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}
