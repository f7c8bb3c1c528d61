#!/usr/bin/env bash
# Builds buildkitd and buildctl from the github.com/moby/buildkit Go module at a pinned release,
# with the version ldflags so that Info reports the version, and caches them outside the repo.
# Also installs runc, busybox-static, docker-registry, apache2-utils, openssh-client, sudo,
# rootlesskit, uidmap, openssh-server, docker.io, git and rsync (Debian) when they are missing, noting each package
# it installs in CACHE_ROOT/debian-packages (for `npm run test-setup-remove`). One line per step on
# stderr; apt's and go's own output goes to CACHE_ROOT/install.log, shown when a step fails.
# Prints the directory holding the binaries on stdout.
set -euo pipefail

BUILDKIT_VERSION="${BUILDKIT_VERSION:-v0.32.2}"
CACHE_ROOT="${REMOTE_BUILDKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remote-buildkit}"
BIN_DIR="$CACHE_ROOT/buildkit-$BUILDKIT_VERSION/bin"

log() { echo "install-buildkit: $*" >&2; }
mkdir -p "$CACHE_ROOT"
INSTALL_LOG="$CACHE_ROOT/install.log"
# Runs a command with its output added to the install log; on failure, shows the log's end.
quietly() {
  local status=0
  echo "== $(date -u +%FT%TZ) $*" >>"$INSTALL_LOG"
  "$@" >>"$INSTALL_LOG" 2>&1 || status=$?
  if [ "$status" != 0 ]; then
    log "failed ($status): $*; the end of $INSTALL_LOG:"
    tail -n 20 "$INSTALL_LOG" >&2
  fi
  return "$status"
}
# shellcheck source=test/harness/go-module.sh
. "$(dirname "$0")/go-module.sh"

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "need root to apt-get install $*"; return 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    quietly env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export APT_UPDATED=1
  fi
  quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  printf '%s\n' "$@" >> "$CACHE_ROOT/debian-packages"
}

# Installs PACKAGE from Debian when COMMAND is not on PATH.
install_for() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "$1 missing: installing $2 from Debian"
  apt_install "$2"
}

install_for runc runc
# Test images are FROM scratch with a static busybox in them: there is no registry to pull from.
# (A dynamic busybox may be on PATH already, so the package itself is checked.)
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  log "busybox-static missing: installing it from Debian"
  apt_install busybox-static
fi
# The test registry (test/harness/registry.ts): Debian's distribution registry, and htpasswd for
# its bcrypt password file.
install_for docker-registry docker-registry
install_for htpasswd apache2-utils
# ssh-agent and ssh-add, for the SSH forwarding tests.
install_for ssh-agent openssh-client
# sshd, the far side of the ssh:// endpoint tests (test/harness/sshd.ts). Debian's package would
# start a system sshd on port 22 where no policy-rc.d forbids it: one is put in place for the
# install when there is none.
if [ ! -x /usr/sbin/sshd ]; then
  log "sshd missing: installing openssh-server from Debian (its service not started)"
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    status=0
    apt_install openssh-server || status=$?
    rm -f /usr/sbin/policy-rc.d
    [ "$status" = 0 ] || exit "$status"
  else
    apt_install openssh-server
  fi
fi
# dockerd (Debian's docker.io, with containerd), the Docker Engine that `load` tests load into
# (test/harness/dockerd.ts starts its own). The package would start a system dockerd where no
# policy-rc.d forbids it: one is put in place for the install when there is none.
if [ ! -x /usr/sbin/dockerd ] && [ ! -x /usr/bin/dockerd ]; then
  log "dockerd missing: installing docker.io from Debian (its service not started)"
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    status=0
    apt_install docker.io || status=$?
    rm -f /usr/sbin/policy-rc.d
    [ "$status" = 0 ] || exit "$status"
  else
    apt_install docker.io
  fi
fi
# git daemon and git http-backend, the Git servers of the Git context tests (test/harness/git-server.ts).
install_for git git
# rsync, which gitlab-ci-local (the GitLab tests, install-gitlab-ci-local.sh) copies the project with.
install_for rsync rsync
# sudo, rootlesskit and newuidmap, for the tests of a runner started by a user who is not root:
# through sudo (as on GitHub's runners), or rootless.
install_for sudo sudo
install_for rootlesskit rootlesskit
install_for newuidmap uidmap

if [ -x "$BIN_DIR/buildkitd" ] && [ -x "$BIN_DIR/buildctl" ]; then
  log "buildkitd and buildctl $BUILDKIT_VERSION are in $BIN_DIR (built before)"
  echo "$BIN_DIR"
  exit 0
fi

log "building buildkitd and buildctl $BUILDKIT_VERSION from the Go module (first run only: minutes, and 1.4 GB of Go caches; see the README)"
tmp="$CACHE_ROOT/.build-$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# buildkit's go.mod has exclude directives, so it is built inside a copy of its source.
copy_module_source "github.com/moby/buildkit@$BUILDKIT_VERSION" "$tmp/src"
# The revision (a release's Git commit) is left empty: the module proxy does not give the commit,
# and the version in its place would print the version twice.
ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
for cmd in buildkitd buildctl; do
  log "compiling $cmd"
  (cd "$tmp/src" && quietly env CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod" \
    go build -tags "osusergo netgo static_build" -ldflags "$ldflags" -o "$tmp/$cmd" "./cmd/$cmd")
done
mkdir -p "$BIN_DIR"
mv "$tmp/buildkitd" "$tmp/buildctl" "$BIN_DIR/"
log "buildkitd and buildctl $BUILDKIT_VERSION are in $BIN_DIR"
echo "$BIN_DIR"
