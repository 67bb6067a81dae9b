#!/usr/bin/env bash
# Does the edge extra install on a 64-bit Raspberry Pi without a compiler? Downloads (does not install) every
# dependency as a prebuilt arm64 wheel for the given Python versions and prints what came and its size.
# Usage: deploy/check-wheels.sh [PYTHON_VERSION ...]   (default: 3.11 = Bookworm, 3.13 = Trixie)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.11 3.13)
platforms=(--platform manylinux2014_aarch64 --platform any)
for glibc in 17 27 28; do platforms+=(--platform "manylinux_2_${glibc}_aarch64"); done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for python in "${versions[@]}"; do
  if ! pip download --only-binary=:all: "${platforms[@]}" --python-version "$python" --dest "$work/$python" \
       "$repo[edge]" >"$work/pip.log" 2>&1; then
    grep -v '^WARNING' "$work/pip.log" | tail -3 >&2
    echo "Python $python, arm64: not every dependency has a wheel (above)" >&2
    exit 1
  fi
  rm -f "$work/$python"/emotion_edge-*
  echo "Python $python, arm64: $(ls "$work/$python" | wc -l) wheels, $(du -sh "$work/$python" | cut -f1) downloaded"
  ls "$work/$python" | sed 's/^/  /'
done
