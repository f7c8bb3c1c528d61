#!/usr/bin/env bash
# Installs gitlab-ci-local (npm), which runs a .gitlab-ci.yml's jobs on this machine with the shell
# executor, at a pinned version into a cache dir outside the repo; prints its entry script's path.
# 4.73.0 is the last release that runs on Node 20 (later ones need Node 22). It copies the project
# with rsync, which install-buildkit.sh installs.
set -euo pipefail

GITLAB_CI_LOCAL_VERSION="${GITLAB_CI_LOCAL_VERSION:-4.73.0}"
CACHE_ROOT="${REMOTE_BUILDKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remote-buildkit}"
PREFIX="$CACHE_ROOT/gitlab-ci-local-$GITLAB_CI_LOCAL_VERSION"
ENTRY="$PREFIX/node_modules/gitlab-ci-local/dist/index.js"

if [ -f "$ENTRY" ]; then
  echo "$ENTRY"
  exit 0
fi

echo "install-gitlab-ci-local: installing gitlab-ci-local $GITLAB_CI_LOCAL_VERSION from npm (first run only)" >&2
tmp="$CACHE_ROOT/.gitlab-ci-local-install-$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# Installed beside and renamed: an interrupted install never looks complete.
npm install --prefix "$tmp" --no-save --no-audit --no-fund --omit=dev --ignore-scripts \
  "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >&2
rm -rf "$PREFIX"
mv "$tmp" "$PREFIX"
echo "$ENTRY"
