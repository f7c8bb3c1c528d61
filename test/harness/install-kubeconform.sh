#!/usr/bin/env bash
# Builds kubeconform (github.com/yannh/kubeconform) from its Go module at a pinned release, and
# fetches Kubernetes' JSON schemas for offline use from the PyPI package kubernetes-validate (its
# wheel carries them, per Kubernetes version, standalone and strict), both cached outside the repo.
# Prints two lines: kubeconform's path, then the directory of the strict schemas of KUBERNETES_VERSION.
# The wheel's schemas carry an $id under https://kubernetes.io/api/ and point at their shared
# definitions as "/api/_definitions.json", which kubernetes-validate maps to its own files; left so,
# kubeconform would fetch them from kubernetes.io. We drop each $id and point the references at
# "_definitions.json" next to each schema, so that they resolve as files. Nothing else changes.
# The test of examples/kubernetes/ runs it in its setup; nothing is fetched once cached.
set -euo pipefail

KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.37.0}"
CACHE_ROOT="${REMOTE_BUILDKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remote-buildkit}"
BIN="$CACHE_ROOT/kubeconform-$KUBECONFORM_VERSION/kubeconform"
SCHEMAS="$CACHE_ROOT/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
SCHEMA_DIR="$SCHEMAS/$KUBERNETES_VERSION-local-strict-files"

log() { echo "install-kubeconform: $*" >&2; }

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { log "go is required to build kubeconform"; exit 1; }
  log "building kubeconform $KUBECONFORM_VERSION from the Go module (first run only)"
  tmp="$CACHE_ROOT/.kubeconform-build-$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  (GOFLAGS='' CGO_ENABLED=0 GOBIN="$tmp" go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION") >&2
  mkdir -p "$(dirname "$BIN")"
  mv "$tmp/kubeconform" "$BIN"
  rm -rf "$tmp"
  trap - EXIT
fi

if [ ! -f "$SCHEMA_DIR/_definitions.json" ]; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # pip only downloads the wheel here; Debian's python3-pip is enough.
    [ "$(id -u)" = 0 ] || { log "python3 with pip is required to download kubernetes-validate"; exit 1; }
    log "pip missing: installing python3-pip from Debian"
    (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends python3-pip) >&2
    # Noted as install-buildkit.sh notes its packages, for `npm run test-setup-remove`.
    mkdir -p "$CACHE_ROOT" && echo python3-pip >>"$CACHE_ROOT/debian-packages"
  fi
  log "downloading the schemas of kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI (first run only)"
  tmp="$CACHE_ROOT/.kubernetes-validate-$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  wheel=$(ls "$tmp"/kubernetes_validate-"$KUBERNETES_VALIDATE_VERSION"-*.whl)
  # Only the one version's strict schemas (a wheel is a zip; no unzip needed).
  python3 - "$wheel" "$tmp/out" "kubernetes_validate/kubernetes-json-schema/$KUBERNETES_VERSION-local-strict/" <<'PY'
import json, os, sys, zipfile
wheel, out, prefix = sys.argv[1:]
os.makedirs(out)
with zipfile.ZipFile(wheel) as archive:
    names = [name for name in archive.namelist() if name.startswith(prefix) and name.endswith(".json")]
    if not names:
        sys.exit(f"no schemas under {prefix} in {wheel}")
    for name in names:
        schema = json.loads(archive.read(name))
        schema.pop("$id", None)
        text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        with open(os.path.join(out, os.path.basename(name)), "w", encoding="utf-8") as file:
            file.write(text)
PY
  mkdir -p "$SCHEMAS"
  rm -rf "$SCHEMA_DIR"
  mv "$tmp/out" "$SCHEMA_DIR"
  rm -rf "$tmp"
  trap - EXIT
fi

echo "$BIN"
echo "$SCHEMA_DIR"
