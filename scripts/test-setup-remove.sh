#!/usr/bin/env bash
# `npm run test-setup-remove [-- --dry-run]`: removes what the test set-up added to this machine:
# the users rb-test-sudo and rb-test-plain (home directories and subordinate ids too), the sudoers
# file of the first, the Debian packages install-buildkit.sh installed (as it recorded them), and
# the cache directory with buildkitd, buildctl, act and the CLI's runner state. Go's own module
# and build caches are left (other Go work shares them; `go clean -modcache -cache` empties them),
# and so are the newer login and passwd that uidmap brought. With --dry-run it only prints what it
# would remove. It refuses while a buildkitd from the cache runs (tests in progress).
set -euo pipefail

CACHE_ROOT="${REMOTE_BUILDKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remote-buildkit}"
SUDOERS_FILE=/etc/sudoers.d/remote-buildkit-tests
USERS=(rb-test-sudo rb-test-plain)
# What install-buildkit.sh installs when missing, for a machine set up before it kept a record.
CANDIDATES="runc busybox-static docker-registry apache2-utils openssh-client openssh-server git sudo rootlesskit uidmap"

dry_run=false
case "${1:-}" in
  "") ;;
  --dry-run) dry_run=true ;;
  *) echo "usage: npm run test-setup-remove [-- --dry-run] (not $1)" >&2; exit 2 ;;
esac

say() { echo "test-setup-remove: $*"; }
# Runs the command, or only prints it with --dry-run.
show_or_run() {
  if $dry_run; then say "would run: $*"; else say "running: $*"; "$@"; fi
}

if ! $dry_run && [ "$(id -u)" != 0 ]; then
  say "needs root (it removes users and packages); run it as root, or with --dry-run to see what it would do" >&2
  exit 1
fi
if ! $dry_run && pgrep -f "$CACHE_ROOT/buildkit-" >/dev/null 2>&1; then
  say "a buildkitd from $CACHE_ROOT is running (tests in progress?); stop them first" >&2
  exit 1
fi

for user in "${USERS[@]}"; do
  if id -u "$user" >/dev/null 2>&1; then
    show_or_run userdel --remove "$user"
  else
    say "no user $user"
  fi
done
# userdel leaves subordinate ids behind where shadow was built without them: remove those lines.
for file in /etc/subuid /etc/subgid; do
  for user in "${USERS[@]}"; do
    if [ -f "$file" ] && grep -q "^$user:" "$file"; then show_or_run sed -i "/^$user:/d" "$file"; fi
  done
done
if [ -e "$SUDOERS_FILE" ]; then show_or_run rm -f "$SUDOERS_FILE"; else say "no $SUDOERS_FILE"; fi

record="$CACHE_ROOT/debian-packages"
if [ -s "$record" ]; then
  # shellcheck disable=SC2046 # one package name per line
  show_or_run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $(sort -u "$record")
else
  say "no record of Debian packages installed by the set-up in $record (a set-up older than the record);"
  say "  it installs these when missing: $CANDIDATES"
  say "  remove those this machine did not have before with apt-get purge"
fi

if [ -d "$CACHE_ROOT" ]; then
  show_or_run rm -rf "$CACHE_ROOT"
else
  say "no $CACHE_ROOT"
fi
