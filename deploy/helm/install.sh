#!/usr/bin/env bash
# Provide the pinned Helm (deploy/helm/VERSION) that lints and renders the chart in the tests:
# $KNOWHERE_HELM_BIN, one built earlier, or one built now from its Go module (helm.sh/helm/v4,
# through the Go module proxy). Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../go-binary.sh"
version=$(tr -d '[:space:]' < "$here/VERSION")

build() {
  GOBIN="$1" GOFLAGS=-mod=mod go install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$version" \
    "helm.sh/helm/v4/cmd/helm@$version"
}
provide_go_binary helm "$version" "${KNOWHERE_HELM_BIN:-}" build
