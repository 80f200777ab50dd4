#!/usr/bin/env bash
# Provide the pinned weaviate-server binary for local runs and tests.
# Reuses $KNOWHERE_WEAVIATE_BIN or a binary built earlier; otherwise builds it from its Go
# module with `go install` (Go build cache outside the checkout makes a rebuild fast).
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/VERSION")
home=${KNOWHERE_HOME:-$HOME/.cache/knowhere}
bin_dir="$home/bin"
target="$bin_dir/weaviate-server-$version"

if [ -n "${KNOWHERE_WEAVIATE_BIN:-}" ] && [ -x "$KNOWHERE_WEAVIATE_BIN" ]; then
  echo "$KNOWHERE_WEAVIATE_BIN"
  exit 0
fi
if [ ! -x "$target" ]; then
  command -v go >/dev/null || { echo "Go is needed to build weaviate-server $version (apt-get install golang)" >&2; exit 1; }
  echo "Building weaviate-server $version with go install (first time only, several minutes)..." >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" go install "github.com/weaviate/weaviate/cmd/weaviate-server@$version" >&2
  mkdir -p "$bin_dir"
  mv "$tmp/weaviate-server" "$target"
fi
ln -sfn "$target" "$bin_dir/weaviate-server"
echo "$target"
