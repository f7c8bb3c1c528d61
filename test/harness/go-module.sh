# shellcheck shell=bash
# Sourced by the install scripts that build a tool from its Go module. The caller defines log().

# Copies MODULE@VERSION's source from the Go module proxy into DEST, writable, for a build inside
# it where the module's own go.mod and go.sum are in force (`go install module@version` refuses
# modules whose go.mod has replace or exclude directives).
copy_module_source() {
  local module=$1 dest=$2 src_dir
  command -v go >/dev/null 2>&1 || { log "go is required to build $module"; exit 1; }
  src_dir=$(GOFLAGS='' go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src_dir" ] || { log "could not download $module"; exit 1; }
  cp -r "$src_dir" "$dest"
  chmod -R u+w "$dest"
}
