#!/usr/bin/env bash
# Build the test control plane binaries (kube-apiserver + etcd) from the Go
# module proxy, envtest-style: no kubelet, no controller-manager, no scheduler.
#
# Idempotent: each binary is built only when it is missing from the output
# directory. The output directory is printed as the last line of stdout.
#
#   tools/envtest/build.sh                   # build into the default cache dir
#   CONVEYOR_ENVTEST_DIR=/some/dir tools/envtest/build.sh
#
# The versions are pinned in tools/envtest/*/go.mod (single source of truth).
# GOCACHE / GOMODCACHE are left at their defaults so reruns are cached. A cold
# kube-apiserver build takes a long time (tens of minutes on 2 cores).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

go_bin="${GO:-}"
if [[ -z "$go_bin" ]]; then
  if command -v go >/dev/null 2>&1; then
    go_bin="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
  else
    echo "build.sh: no Go toolchain found (set GO=/path/to/go)" >&2
    exit 1
  fi
fi

module_version() {
  # module_version <go.mod> <module path>: the version required in go.mod.
  awk -v mod="$2" '$1 == mod && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == mod {print $3; exit}' "$1"
}

k8s_version="$(module_version "$here/kube-apiserver/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build.sh: could not read pinned versions from tools/envtest/*/go.mod" >&2
  exit 1
fi

out_dir="${CONVEYOR_ENVTEST_DIR:-$HOME/.cache/conveyor/envtest/$k8s_version}"
mkdir -p "$out_dir"

# Serialise concurrent runs (e.g. two test sessions starting at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out_dir/.build.lock"
  flock 9
fi

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"

# build <name> <module dir> <extra ldflags>
build() {
  local name="$1" mod_dir="$2" extra_ldflags="$3"
  local target="$out_dir/$name"
  if [[ -x "$target" ]]; then
    echo "build.sh: $name already built: $target" >&2
    return 0
  fi
  echo "build.sh: building $name ($mod_dir) ..." >&2
  local start=$SECONDS
  local tmp="$target.tmp.$$"
  (
    cd "$mod_dir"
    "$go_bin" build -trimpath -buildvcs=false \
      -ldflags="-s -w $extra_ldflags" \
      -o "$tmp" .
  ) || { rm -f "$tmp"; echo "build.sh: building $name failed" >&2; return 1; }
  mv -f "$tmp" "$target"
  echo "build.sh: built $name in $((SECONDS - start))s: $target" >&2
}

# Stamp the version like upstream's hack/lib/version.sh does, so /version and
# the apiserver's emulation version report the real release.
k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"
k8s_ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  k8s_ldflags+=" -X '$pkg.gitVersion=$k8s_version'"
  k8s_ldflags+=" -X '$pkg.gitMajor=1'"
  k8s_ldflags+=" -X '$pkg.gitMinor=$k8s_minor'"
  k8s_ldflags+=" -X '$pkg.gitTreeState=clean'"
  k8s_ldflags+=" -X '$pkg.buildDate=1970-01-01T00:00:00Z'"
done

build etcd "$here/etcd" ""
build kube-apiserver "$here/kube-apiserver" "$k8s_ldflags"

echo "build.sh: kube-apiserver $k8s_version, etcd $etcd_version" >&2
echo "$out_dir"
