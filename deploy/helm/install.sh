#!/usr/bin/env bash
# Provide the pinned Helm binary (deploy/helm/VERSION) that lints and renders the chart in
# the tests: $KNOWHERE_HELM_BIN, a binary built earlier, or one built now from its Go module
# (helm.sh/helm/v4, through the Go module proxy; the Go build cache, outside the checkout,
# makes a rebuild fast). Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/VERSION")
home=${KNOWHERE_HOME:-$HOME/.cache/knowhere}
bin_dir="$home/bin"
target="$bin_dir/helm-$version"

if [ -n "${KNOWHERE_HELM_BIN:-}" ] && [ -x "$KNOWHERE_HELM_BIN" ]; then
  echo "$KNOWHERE_HELM_BIN"
  exit 0
fi
if [ ! -x "$target" ]; then
  command -v go >/dev/null || { echo "Go is needed to build Helm $version (apt-get install golang)" >&2; exit 1; }
  echo "Building Helm $version from its Go module (first time only, a few minutes)..." >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" GOFLAGS=-mod=mod go install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$version" \
    "helm.sh/helm/v4/cmd/helm@$version" >&2
  mkdir -p "$bin_dir"
  mv "$tmp/helm" "$target"
fi
ln -sfn "$target" "$bin_dir/helm"
echo "$target"
