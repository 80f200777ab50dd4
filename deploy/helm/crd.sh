#!/usr/bin/env bash
# Print the path of a Prometheus Operator CRD (default: ServiceMonitor), as published in the
# pinned prometheus-operator Go module (deploy/helm/PROMETHEUS_OPERATOR_VERSION), so the
# chart's ServiceMonitor is validated against the schema the operator installs. The module
# comes through the Go module proxy into Go's module cache (outside the checkout), once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/PROMETHEUS_OPERATOR_VERSION")
kind=${1:-servicemonitors}
command -v go >/dev/null || { echo "Go is needed to fetch the Prometheus Operator CRDs (apt-get install golang)" >&2; exit 1; }
module="github.com/prometheus-operator/prometheus-operator@$version"
if ! found=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "$module"); then
  echo "could not fetch $module: $found" >&2
  exit 1
fi
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<< "$found")
crd="$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml"
[ -f "$crd" ] || { echo "no CRD $kind in prometheus-operator $version" >&2; exit 1; }
echo "$crd"
