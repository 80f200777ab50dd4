#!/usr/bin/env bash
# Provide the pinned weaviate-server binary for local runs and tests: $KNOWHERE_WEAVIATE_BIN,
# one built earlier, or one built now with `go install` from its Go module.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../go-binary.sh"
version=$(tr -d '[:space:]' < "$here/VERSION")

build() { GOBIN="$1" go install "github.com/weaviate/weaviate/cmd/weaviate-server@$version"; }
provide_go_binary weaviate-server "$version" "${KNOWHERE_WEAVIATE_BIN:-}" build
