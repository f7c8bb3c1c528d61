// The heavy part of GitHub's toolkit: the artifact client and the caches, a bundle of its own
// (dist/github-toolkit.mjs, loaded by load-toolkit.ts on first use). Most builds upload no artifact
// and start no runner, and compiling these libraries was most of the action's start-up.
export { DefaultArtifactClient } from "@actions/artifact";
export { restoreCache, saveCache } from "@actions/cache";
export { cacheDir, downloadTool, find } from "@actions/tool-cache";
