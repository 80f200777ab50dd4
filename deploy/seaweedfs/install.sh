#!/usr/bin/env bash
# Provide the pinned SeaweedFS `weed` binary: the S3-compatible store the tests run as a
# model store (Apache-2.0; MinIO's server is AGPL): $KNOWHERE_WEED_BIN, one built earlier, or
# one built now from its Go module. `go install` refuses this module (its go.mod has replace
# directives), so the module is downloaded through the Go proxy, copied out of the read-only
# module cache and built there. Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../go-binary.sh"
version=$(tr -d '[:space:]' < "$here/VERSION")
module=github.com/seaweedfs/seaweedfs

build() {
  local source_dir
  source_dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$source_dir" ] || { echo "go mod download $module@$version gave no source folder" >&2; return 1; }
  cp -r "$source_dir" "$1/src"
  chmod -R u+w "$1/src"
  (cd "$1/src" && go build -o "$1/weed" ./weed)
}
provide_go_binary weed "$version" "${KNOWHERE_WEED_BIN:-}" build
