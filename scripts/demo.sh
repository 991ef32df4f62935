#!/usr/bin/env bash
# Set up a fresh Debian machine and run the seed scenario on the embedded defaults:
# a local registry with CI-style tags, a local bare Git repo, and conveyor committing the newest
# tag. Needs root (or sudo) for apt-get only when git or docker-registry is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v git >/dev/null || need+=(git)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v kubectl >/dev/null || echo "note: kubectl is not installed; the applier's build step needs it" >&2
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -m pip install -q -e .
exec conveyor demo --dir "${1:-.demo}"
