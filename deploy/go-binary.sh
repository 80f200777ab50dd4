# Sourced by deploy/*/install.sh: provide a pinned binary built from a Go module, once.
#
#   provide_go_binary NAME VERSION OVERRIDE BUILD
#
# Prints the binary's path on stdout (progress goes to stderr): OVERRIDE when it names an
# executable; else $KNOWHERE_HOME/bin/NAME-VERSION, which `BUILD DIR` (a shell function that
# leaves DIR/NAME) builds the first time. $KNOWHERE_HOME/bin/NAME links to it. The Go build
# and module caches live outside the checkout, so a rebuild is fast.
provide_go_binary() {
  local name=$1 version=$2 override=$3 build=$4
  local bin_dir="${KNOWHERE_HOME:-$HOME/.cache/knowhere}/bin"
  local target="$bin_dir/$name-$version" tmp
  if [ -n "$override" ] && [ -x "$override" ]; then
    echo "$override"
    return 0
  fi
  if [ ! -x "$target" ]; then
    command -v go >/dev/null || { echo "Go is needed to build $name $version (apt-get install golang)" >&2; return 1; }
    echo "Building $name $version from its Go module (first time only, several minutes)..." >&2
    tmp=$(mktemp -d)
    if ! "$build" "$tmp" >&2; then
      chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$bin_dir"
    mv "$tmp/$name" "$target"
    chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"
  fi
  ln -sfn "$target" "$bin_dir/$name"
  echo "$target"
}
