#!/usr/bin/env bash
# The main job on a fresh Debian / Raspberry Pi OS (64-bit) machine with only python3:
# install the edge extra (no TensorFlow) into .venv and run the daemon on the bundled sample,
# printing emotion events as JSON lines (no camera or MQTT broker needed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import ensurepip" 2>/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"; $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[edge]'
exec .venv/bin/edge run --config config.yaml --stdout "$@"
