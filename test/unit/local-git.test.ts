// Provenance's vcs attrs for a local context in a Git checkout, as buildx records them: the remote
// without credentials, HEAD's commit, and the local dirs relative to the work tree's root.
import { describe, it } from "@jest/globals";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localVcs, mayBeInWorkTree } from "../../src/job/local-git.js";
import { prepareBuild, withLocalVcs } from "../../src/job/request.js";
import { solveRequest } from "../../src/job/solve-request.js";
import { inputsOf } from "../helpers/inputs.js";
import { git } from "../helpers/git.js";
import { tempDir } from "../helpers/temp.js";

/** A checkout with app/ and docker/Dockerfile, its origin given with a token in the URL. */
function checkout(): { root: string; commit: string } {
  const root = tempDir("rb-local-git-");
  mkdirSync(join(root, "app"));
  mkdirSync(join(root, "docker"));
  writeFileSync(join(root, "app", "a.txt"), "a\n");
  writeFileSync(join(root, "docker", "Dockerfile"), "FROM scratch\n");
  git(root, "init", "-q", "-b", "main");
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", "c");
  git(root, "remote", "add", "origin", "https://x-access-token:ghs_secret@example.test/o/r.git");
  return { root, commit: git(root, "rev-parse", "HEAD") };
}

describe("localVcs", () => {
  it("runs git only where a .git is found above the context, or GIT_DIR is set", async () => {
    const plain = tempDir("rb-local-git-plain-");
    mkdirSync(join(plain, "a", "b"), { recursive: true });
    assert.equal(mayBeInWorkTree(join(plain, "a", "b"), {}), false);
    assert.equal(mayBeInWorkTree(join(plain, "a", "b"), { GIT_DIR: "/elsewhere/.git" }), true);
    // A linked work tree has a .git file, not a directory: git is run, and finds HEAD's commit.
    const { root, commit } = checkout();
    const linked = join(tempDir("rb-local-git-linked-"), "wt");
    git(root, "worktree", "add", "-q", linked);
    mkdirSync(join(linked, "app", "deep"), { recursive: true });
    assert.equal(mayBeInWorkTree(join(linked, "app", "deep"), {}), true);
    const vcs = await localVcs({ context: join(linked, "app"), dockerfile: join(linked, "docker") }, {});
    assert.equal(vcs?.revision, commit);
  });

  it("gives the remote without credentials, HEAD's commit and the dirs relative to the root", async () => {
    const { root, commit } = checkout();
    const vcs = await localVcs({ context: join(root, "app"), dockerfile: join(root, "docker") }, {});
    assert.deepEqual(vcs, {
      source: "https://example.test/o/r.git",
      revision: commit,
      localDirs: { context: "app", dockerfile: "docker" },
    });
  });

  it("gives nothing outside a work tree, inside .git, or with BUILDX_GIT_INFO=false", async () => {
    const plain = tempDir("rb-local-git-plain-");
    assert.equal(await localVcs({ context: plain, dockerfile: plain }, {}), undefined);
    const { root } = checkout();
    const dotGit = join(root, ".git");
    assert.equal(await localVcs({ context: dotGit, dockerfile: dotGit }, {}), undefined);
    assert.equal(
      await localVcs({ context: root, dockerfile: root }, { BUILDX_GIT_INFO: "false" }),
      undefined,
    );
  });

  it("prefers the current branch's upstream remote, with URLs as git rewrites them", async () => {
    const { root, commit } = checkout();
    git(root, "remote", "add", "fork", "https://example.test/fork/r.git");
    git(root, "config", "branch.main.remote", "fork");
    git(root, "config", "branch.main.merge", "refs/heads/main");
    const dirs = { context: root, dockerfile: root };
    assert.deepEqual(await localVcs(dirs, {}), {
      source: "https://example.test/fork/r.git",
      revision: commit,
      localDirs: { context: ".", dockerfile: "." },
    });
    git(root, "config", "url.https://mirror.test/.insteadOf", "https://example.test/fork/");
    assert.equal((await localVcs(dirs, {}))?.source, "https://mirror.test/r.git");
    // Detached, as CI checks out a pull request: no upstream, so origin.
    git(root, "checkout", "-q", "--detach");
    assert.equal((await localVcs(dirs, {}))?.source, "https://example.test/o/r.git");
  });

  it("gives the remote without a revision before the first commit", async () => {
    const root = tempDir("rb-local-git-empty-");
    git(root, "init", "-q", "-b", "main");
    git(root, "remote", "add", "upstream", "git@example.test:u/r.git");
    assert.deepEqual(await localVcs({ context: root, dockerfile: root }, {}), {
      source: "git@example.test:u/r.git",
      revision: undefined,
      localDirs: { context: ".", dockerfile: "." },
    });
  });

  it("reaches the frontend's attrs for a local context, and stays out of a Git context's", async () => {
    const { root, commit } = checkout();
    const attrs = async (given: { context: string; file?: string }) => {
      const read = await inputsOf({ dockerConfig: false, ...given }, { cwd: root });
      const request = await withLocalVcs(prepareBuild(read, { cwd: root, env: {}, mask: () => {} }), {});
      return solveRequest(request).frontendAttrs;
    };
    const local = await attrs({ context: "app", file: "docker/Dockerfile" });
    assert.equal(local["vcs:source"], "https://example.test/o/r.git");
    assert.equal(local["vcs:revision"], commit);
    assert.equal(local["vcs:localdir:context"], "app");
    assert.equal(local["vcs:localdir:dockerfile"], "docker");
    const remote = await attrs({ context: "https://example.test/other/app.git#main" });
    assert.equal(remote["vcs:source"], "https://example.test/other/app.git");
    assert.equal(remote["vcs:localdir:context"], undefined);
  });
});
