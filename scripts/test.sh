#!/usr/bin/env bash
# Run the test suite on a fresh Debian / Raspberry Pi OS machine that has only python3.
# Installs what the tests need: a venv with the project's dev extra, Debian's mosquitto broker
# (the tests start their own on a free loopback port; the system service is left alone), openssl (test
# certificates), GStreamer's RTSP server and Chromium (the live view's headless screenshot). Under CI a test
# missing one of them fails rather than skips.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # the TLS broker's test certificates
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the live view's screenshot test
python3 -c "import ensurepip" 2>/dev/null || need_apt+=(python3-venv)
# The edge tests serve a real RTSP stream on loopback with GStreamer's RTSP server (run by the system python3).
/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
  || need_apt+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
# One style (pyproject.toml's [tool.ruff]): lint and format are checked before the tests.
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --quiet --check .
exec .venv/bin/python -m pytest "$@"
