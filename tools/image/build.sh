#!/usr/bin/env bash
# Build conveyor's image (the Dockerfile, from this tree) and the compose test's Redis and
# registry image with podman, from what a build can reach here: Debian's mirror, and PyPI from
# this host only. Prints the conveyor image's name as the last line of stdout.
#
#   tools/image/build.sh             # -> localhost/conveyor:dev
#
# What goes in, and what is cached (in tools/image/podman's store under ~/.cache/conveyor/podman,
# and ~/.cache/conveyor/image; a second run rebuilds only the layers whose inputs changed):
#   localhost/conveyor-bookworm:minbase   debootstrap --variant=minbase bookworm, podman import
#   localhost/conveyor-python:3.11-bookworm   python.Containerfile: the Dockerfile's BASE_IMAGE
#   localhost/conveyor-services:bookworm  services.Containerfile: redis-server, docker-registry
#   wheels-<hash of the dependencies>/    `pip wheel` of pyproject's dependencies on this host,
#                                         installed in the build with --no-index
#   kubectl                               the one on PATH, checked in the build by its sha256
#   localhost/conveyor:dev                the Dockerfile with those as build arguments
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
podman="$here/podman"
cache="${CONVEYOR_IMAGE_CACHE:-$HOME/.cache/conveyor/image}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base=localhost/conveyor-bookworm:minbase
python_image=localhost/conveyor-python:3.11-bookworm
services_image=localhost/conveyor-services:bookworm
image=localhost/conveyor:dev  # as docker-compose.yml names it
mkdir -p "$cache"
exec 9>"$cache/.build.lock"  # one build at a time (two test sessions starting at once)
flock 9

step() { echo "build.sh: $*" >&2; }
build() {  # build <tag> <podman build arguments...>: quiet, its output shown if it fails
  local tag="$1" log="$cache/build.log" start=$SECONDS
  shift
  if ! "$podman" build --layers -t "$tag" "$@" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    step "building $tag failed (whole log: $log)"
    return 1
  fi
  step "$tag built in $((SECONDS - start)) s"
}

if ! "$podman" image exists "$base"; then
  step "debootstrap --variant=minbase bookworm ($mirror) ..."
  start=$SECONDS
  tmp="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 30 "$cache/debootstrap.log" >&2; exit 1; }
  tar -C "$tmp/rootfs" -c . | "$podman" import --quiet --change 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  step "$base imported in $((SECONDS - start)) s"
fi
build "$python_image" -f "$here/python.Containerfile" --build-arg "BASE=$base" "$here"
build "$services_image" -f "$here/services.Containerfile" --build-arg "BASE=$base" "$here"

# The wheels of conveyor's dependencies (and of its build backend), built once per dependency
# list by the image's own Python: Debian's, on this host too (a dependency may depend on the
# patch version, as redis does on async-timeout below 3.11.3). The image builds conveyor itself.
host_python="${WHEEL_PYTHON:-/usr/bin/python3}"
version() { "$@" -c 'import platform; print(platform.python_version())'; }
python_version="$(version "$podman" run --rm "$python_image" python3)"
if [[ "$(version "$host_python")" != "$python_version" ]]; then
  step "$host_python is not Python $python_version, the image's: set WHEEL_PYTHON"
  exit 1
fi
requirements="$(cd "$root" && "$host_python" - <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
print("\n".join([*project["project"]["dependencies"], *project["build-system"]["requires"],
                 "wheel"]))
EOF
)"
key="$(printf '%s\n' "$python_version" "$requirements" | sha256sum | cut -c1-16)"
wheels="$cache/wheels-$key"
if [[ ! -d "$wheels" ]]; then
  step "pip wheel of the dependencies ..."
  start=$SECONDS
  tmp="$(mktemp -d "$cache/wheels.XXXXXX")"
  printf '%s\n' "$requirements" >"$tmp/requirements.txt"
  "$host_python" -m pip wheel -q --disable-pip-version-check --wheel-dir "$tmp/wheels" \
    -r "$tmp/requirements.txt" >&2
  mv "$tmp/wheels" "$wheels"
  rm -rf "$tmp"
  step "wheels built in $((SECONDS - start)) s: $wheels"
fi

# The build reads its local inputs from a directory mounted at /inputs for its RUN steps.
inputs="$cache/inputs"
rm -rf "$inputs"
mkdir -p "$inputs/wheels"  # the wheels are mounted there
kubectl="$(readlink -f "$(command -v kubectl)")" || { step "kubectl is missing"; exit 1; }
cp "$kubectl" "$inputs/kubectl"
kubectl_sha256="$(sha256sum "$inputs/kubectl" | cut -d' ' -f1)"
build "$image" -f "$root/Dockerfile" -v "$inputs:/inputs:ro" -v "$wheels:/inputs/wheels:ro" \
  --build-arg "BASE_IMAGE=$python_image" \
  --build-arg "KUBECTL_URL=file:///inputs/kubectl" \
  --build-arg "KUBECTL_SHA256=$kubectl_sha256" \
  --build-arg "PIP_INSTALL_OPTIONS=--no-index --find-links /inputs/wheels" \
  "$root"
"$podman" image prune -f >/dev/null  # the previous build of a tag, now untagged
echo "$image"
