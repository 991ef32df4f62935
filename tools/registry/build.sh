#!/usr/bin/env bash
# Build Distribution v3 (the registry that paginates tag lists with n= and Link; Debian's 2.8
# ignores n=) from the Go module proxy, once, into a cache directory; print that directory.
#
#   tools/registry/build.sh            # -> ~/.cache/conveyor/registry/<version>/registry
set -euo pipefail
version=v3.0.0
out="${CONVEYOR_REGISTRY_DIR:-$HOME/.cache/conveyor/registry/$version}"
if [[ ! -x "$out/registry" ]]; then
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  mkdir -p "$out"
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  echo "building github.com/distribution/distribution/v3/cmd/registry@$version" >&2
  GOBIN="$tmp" GOFLAGS=-trimpath "$go_bin" install \
    -ldflags='-s -w' "github.com/distribution/distribution/v3/cmd/registry@$version"
  mv "$tmp/registry" "$out/registry"
  rmdir "$tmp"
fi
echo "$out"
