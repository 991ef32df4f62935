#!/usr/bin/env bash
# Build Gitea (a real forge for the pull-request tests: tests/fixtures/gitea.py) from the Go
# module proxy, once, into a cache directory; print that directory.
#
#   tools/gitea/build.sh      # -> ~/.cache/conveyor/gitea/<version>/{gitea,options,templates,public}
#
# `go install code.gitea.io/gitea@<version>` refuses it (its go.mod has replace directives, and
# v1.27's names itself gitea.dev), so it is built as its own main module, in a copy of the module
# the proxy serves. SQLite is built in (modernc.org/sqlite, pure Go: no tag, no cgo). Without the
# `bindata` tag (which needs the frontend built with npm) Gitea reads its options, templates and
# public files from STATIC_ROOT_PATH: they are copied beside the binary.
set -euo pipefail
version=v1.27.3
out="${CONVEYOR_GITEA_DIR:-$HOME/.cache/conveyor/gitea/$version}"
if [[ ! -x "$out/gitea" ]]; then
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  mkdir -p "$out"
  if command -v flock >/dev/null 2>&1; then  # two sessions starting at once build it once
    exec 9>"$out/.build.lock"
    flock 9
  fi
fi
if [[ ! -x "$out/gitea" ]]; then
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  echo "building code.gitea.io/gitea@$version" >&2
  start=$SECONDS
  src="$(cd "$tmp" && GOFLAGS=-mod=mod "$go_bin" mod download -json "code.gitea.io/gitea@$version" \
         | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || { echo "build.sh: code.gitea.io/gitea@$version was not downloaded" >&2; exit 1; }
  cp -r "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src" && GOFLAGS=-mod=mod "$go_bin" build -trimpath -buildvcs=false \
     -ldflags="-s -w -X main.Version=${version#v}" -o "$tmp/gitea" .)
  for dir in options templates public; do
    rm -rf "${out:?}/$dir"
    cp -r "$tmp/src/$dir" "$out/$dir"
  done
  mv "$tmp/gitea" "$out/gitea"  # last: its presence says the build is whole
  echo "build.sh: built gitea $version in $((SECONDS - start))s: $out" >&2
fi
echo "$out"
