#!/usr/bin/env bash
# Install the emotion-edge daemon as a systemd service on Raspberry Pi OS (64-bit) or Debian.
#
#   sudo deploy/install.sh                 # user, venv, config, unit, udev rule, then enable and (re)start
#
# Safe to run again to upgrade: the venv is reinstalled from this checkout, the unit and udev rule are
# replaced, an existing /etc/emotion-edge/config.yaml is kept. Options, for packaging and tests:
#   DESTDIR=/some/root   write every file under this root instead of /
#   --no-useradd         do not create the emotion-edge system user
#   --no-pip             do not create the venv nor pip-install the package
#   --no-systemctl       do not reload udev or systemd, nor enable and start the service
set -euo pipefail

NAME=emotion-edge
REPO=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PYTHON=${PYTHON:-python3}
OPT=/opt/$NAME
ETC=/etc/$NAME
do_useradd=1 do_pip=1 do_systemctl=1

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

for arg in "$@"; do
  case $arg in
    --no-useradd) do_useradd=0 ;;
    --no-pip) do_pip=0 ;;
    --no-systemctl) do_systemctl=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0), or set DESTDIR to install under another root" >&2
  exit 1
fi

# The service's group can read the config (it may name a password file); others cannot.
service_group() { if getent group "$NAME" >/dev/null; then echo "$NAME"; else id -gn; fi; }

create_user() {
  if ! id -u "$NAME" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "/var/lib/$NAME" --no-create-home \
      --shell /usr/sbin/nologin --comment "emotion-edge daemon" "$NAME"
  fi
  for group in video plugdev; do
    getent group "$group" >/dev/null || groupadd --system "$group"
  done
  usermod --append --groups video,plugdev "$NAME"
}

# --system-site-packages: picamera2 (Pi camera modules) comes only from apt (python3-picamera2); pip's
# packages in the venv still take precedence over the system's.
install_venv() {
  [ -x "$DESTDIR$OPT/venv/bin/python" ] || "$PYTHON" -m venv --system-site-packages "$DESTDIR$OPT/venv"
  "$DESTDIR$OPT/venv/bin/python" -m pip install --quiet --upgrade pip
  "$DESTDIR$OPT/venv/bin/python" -m pip install --quiet --upgrade "$REPO[edge]"
}

# The repository's edge: section made a device's: the host name as device name, the first V4L2 camera
# instead of the bundled sample folder (a relative path that would not exist under /etc).
device_config() {
  echo "# emotion-edge settings for this device, from the repository's config.yaml by deploy/install.sh."
  echo "# Set your cameras and MQTT broker, then: sudo systemctl restart $NAME"
  awk '/^edge:/ { keep = 1 } /^[^[:space:]#]/ && !/^edge:/ { keep = 0 } keep' "$REPO/config.yaml" | sed \
    -e 's/^  device: .*/  # device: kitchen            # MQTT topics and Home Assistant device name; default: the host name/' \
    -e 's/- name: sample$/- name: camera0/' \
    -e 's#source: edge/samples #source: /dev/video0  #'
}

install_config() {
  install -d -m 0750 -g "$(service_group)" "$DESTDIR$ETC"
  if [ -e "$DESTDIR$ETC/config.yaml" ]; then
    echo "install.sh: keeping existing $ETC/config.yaml"
  else
    device_config > "$DESTDIR$ETC/config.yaml.new"
    chmod 0640 "$DESTDIR$ETC/config.yaml.new"
    chgrp "$(service_group)" "$DESTDIR$ETC/config.yaml.new"
    mv "$DESTDIR$ETC/config.yaml.new" "$DESTDIR$ETC/config.yaml"
  fi
}

install_files() {
  install -D -m 0644 "$REPO/deploy/$NAME.service" "$DESTDIR/etc/systemd/system/$NAME.service"
  install -D -m 0644 "$REPO/deploy/99-coral-edgetpu.rules" "$DESTDIR/etc/udev/rules.d/99-coral-edgetpu.rules"
  install -D -m 0644 "$REPO/deploy/README.md" "$DESTDIR$OPT/README.md"
}

start_service() {
  udevadm control --reload-rules
  udevadm trigger --subsystem-match=usb --subsystem-match=apex
  systemctl daemon-reload
  systemctl enable "$NAME.service"
  systemctl restart "$NAME.service"  # starts it, or picks up an upgrade when it was already running
}

if [ "$do_useradd" = 1 ]; then create_user; fi
if [ "$do_pip" = 1 ]; then install_venv; fi
install_config
install_files
if [ "$do_systemctl" = 1 ]; then start_service; fi
echo "install.sh: $NAME installed${DESTDIR:+ under $DESTDIR}"
