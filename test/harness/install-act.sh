#!/usr/bin/env bash
# Builds act (github.com/nektos/act) from its Go module at a pinned release and caches it outside
# the repo; prints the binary's path. The artifact tests run a workflow through act's host mode and
# its artifact server, the closest peer to GitHub's artifact service that can run here.
#
# act v0.2.89's v4 artifact server refuses what the current @actions/artifact (6.x) sends, in two
# places (nektos/act issues 6022 and 6021, open at this release):
#   1. CreateArtifact: the request carries mime_type (field 6), which act's protobuf lacks, and act
#      decodes the JSON strictly, so it answers 500 to every attempt. GitHub's service, like any
#      twirp server, ignores unknown fields.
#   2. The blob upload: the Azure SDK re-encodes the signed URL's sig without base64 padding, act
#      decodes it with padding required, and answers 401 to the first block.
# So we patch those two decodes to be lenient, and nothing else, and fail if either patch no longer
# applies (a new release may have fixed them: then drop the patch).
set -euo pipefail

ACT_VERSION="${ACT_VERSION:-v0.2.89}"
CACHE_ROOT="${REMOTE_BUILDKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remote-buildkit}"
# The suffix names the patch, so that a changed patch never reuses an old binary.
BIN="$CACHE_ROOT/act-$ACT_VERSION-artifacts-v4-lenient/act"

log() { echo "install-act: $*" >&2; }
# shellcheck source=test/harness/go-module.sh
. "$(dirname "$0")/go-module.sh"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

log "building act $ACT_VERSION from the Go module (first run only)"
tmp="$CACHE_ROOT/.act-build-$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
copy_module_source "github.com/nektos/act@$ACT_VERSION" "$tmp/src"

file="$tmp/src/pkg/artifacts/artifacts_v4.go"
patch_line() {
  grep -qF "$1" "$file" || { log "act $ACT_VERSION no longer has: $1 (drop or update the patch)"; exit 1; }
  local escaped_from escaped_to
  escaped_from=$(printf '%s' "$1" | sed 's/[][\.*^$/]/\\&/g')
  escaped_to=$(printf '%s' "$2" | sed 's/[\/&]/\\&/g')
  sed -i "s/$escaped_from/$escaped_to/" "$file"
}
patch_line 'protojson.Unmarshal(body, req)' 'protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, req)'
patch_line 'base64.URLEncoding.DecodeString(sig)' 'base64.RawURLEncoding.DecodeString(strings.TrimRight(sig, "="))'

(cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod" \
  go build -ldflags "-s -w -X main.version=$ACT_VERSION" -o "$tmp/act" .) >&2
mkdir -p "$(dirname "$BIN")"
mv "$tmp/act" "$BIN"
echo "$BIN"
