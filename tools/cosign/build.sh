#!/usr/bin/env bash
# Build conveyor-cosign (main.go beside this script: cosign's own packages signing an image with
# a key, optionally with a certificate and chain, stored as cosign stores signatures; the
# signature-verification tests sign with it) from the Go module proxy, once, into a cache
# directory named by its sources; print that directory.
#
#   tools/cosign/build.sh      # -> ~/.cache/conveyor/cosign/v2.6.5-<sources>/conveyor-cosign
#
# cosign's own command line (github.com/sigstore/cosign/v2/cmd/cosign) drags in every cloud
# KMS, the Kubernetes client, OPA and CUE: 22.5 min cold on two busy cores, 2 min for this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^require github.com\/sigstore\/cosign\/v2 \(v[^ ]*\)$/\1/p; s/^\tgithub.com\/sigstore\/cosign\/v2 \(v[^ ]*\)$/\1/p' "$here/go.mod" | head -1)"
sources="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)"
out="${CONVEYOR_COSIGN_DIR:-$HOME/.cache/conveyor/cosign/$version-$sources}"
if [[ ! -x "$out/conveyor-cosign" ]]; then
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  mkdir -p "$out"
  if command -v flock >/dev/null 2>&1; then  # two sessions starting at once build it once
    exec 9>"$out/.build.lock"
    flock 9
  fi
fi
if [[ ! -x "$out/conveyor-cosign" ]]; then
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "building conveyor-cosign with github.com/sigstore/cosign/v2@$version" >&2
  start=$SECONDS
  (cd "$here" && GOFLAGS=-trimpath "$go_bin" build -buildvcs=false -ldflags='-s -w' \
     -o "$tmp/conveyor-cosign" .)
  mv "$tmp/conveyor-cosign" "$out/conveyor-cosign"
  echo "build.sh: built conveyor-cosign in $((SECONDS - start))s: $out" >&2
fi
echo "$out"
