#!/usr/bin/env bash
# Provide the pinned SeaweedFS `weed` binary: the S3-compatible store the tests run as a
# model store (Apache-2.0; MinIO's server is AGPL). Reuses $KNOWHERE_WEED_BIN or a binary
# built earlier; otherwise builds it from its Go module. `go install` refuses this module
# (its go.mod has replace directives), so the module is downloaded through the Go proxy,
# copied out of the read-only module cache and built there (the Go build cache, outside the
# checkout, makes a rebuild fast). Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/VERSION")
home=${KNOWHERE_HOME:-$HOME/.cache/knowhere}
bin_dir="$home/bin"
target="$bin_dir/weed-$version"
module=github.com/seaweedfs/seaweedfs

if [ -n "${KNOWHERE_WEED_BIN:-}" ] && [ -x "$KNOWHERE_WEED_BIN" ]; then
  echo "$KNOWHERE_WEED_BIN"
  exit 0
fi
if [ ! -x "$target" ]; then
  command -v go >/dev/null || { echo "Go is needed to build SeaweedFS $version (apt-get install golang)" >&2; exit 1; }
  echo "Building SeaweedFS (weed) $version from its Go module (first time only, several minutes)..." >&2
  source_dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$source_dir" ] || { echo "go mod download $module@$version gave no source folder" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  cp -r "$source_dir" "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src" && go build -o "$tmp/weed" ./weed) >&2
  mkdir -p "$bin_dir"
  mv "$tmp/weed" "$target"
fi
ln -sfn "$target" "$bin_dir/weed"
echo "$target"
