#!/usr/bin/env bash
# Installs (or upgrades) the agent on a store device, from a checkout of this repository:
#   sudo ./deploy/install.sh
# - Debian packages: python3 and its venv module (plus libzbar0 with the pyzbar extra);
# - a virtual environment in /opt/retail-edge/venv with the agent at requirements/runtime.lock's
#   versions (the same on every store);
# - the system user retail-edge and the groups the unit names (created if the image lacks them);
# - /etc/retail-edge/agent.example.toml, and agent.toml from it when there is none yet;
# - /etc/systemd/system/retail-edge.service, enabled when systemd runs (not started: edit the
#   config first, then `systemctl start retail-edge`).
# Environment: EXTRAS (comma-separated extras of the package: gpio, nfc, pyzbar; default gpio
# on ARM boards, none elsewhere), PREFIX (default /opt/retail-edge).
# docs/install.md walks through it on a Raspberry Pi.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deploy/apt.sh
APT_TAG=install
. "$SRC/deploy/apt.sh"

PREFIX=${PREFIX:-/opt/retail-edge}
VENV=$PREFIX/venv
UNIT=/etc/systemd/system/retail-edge.service
SERVICE_USER=retail-edge
STATE=/var/lib/retail-edge
CONFIG_DIR=/etc/retail-edge
case "$(uname -m)" in
  aarch64 | armv7l | armv6l) default_extras=gpio ;;
  *) default_extras= ;;
esac
EXTRAS=${EXTRAS-$default_extras}

say() { echo "install: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "run as root (sudo $0)"; exit 1; }

# 1. Debian packages.
packages=()
command -v python3 >/dev/null 2>&1 || packages+=(python3)
apt_install "${packages[@]}"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "Python >= 3.11 is required (found $(python3 --version)): Debian 12 or later"; exit 1; }
pyver=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
packages=()
# `python3 -m venv` needs Debian's python3.X-venv (ensurepip), optional on bookworm.
python3 -c 'import ensurepip' 2>/dev/null || packages+=("python$pyver-venv")
case ",$EXTRAS," in
  *,pyzbar,*) ldconfig -p | grep libzbar.so.0 >/dev/null || packages+=(libzbar0) ;;
esac
apt_install "${packages[@]}"

# 2. The service user and the groups the unit's SupplementaryGroups= names: systemd refuses to
# start a unit naming a group that does not exist (Raspberry Pi OS has gpio; plain Debian not).
for group in bluetooth video gpio dialout lp; do
  getent group "$group" >/dev/null || { say "creating group $group"; groupadd --system "$group"; }
done
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  say "creating system user $SERVICE_USER"
  useradd --system --user-group --home-dir "$STATE" --no-create-home \
    --shell /usr/sbin/nologin --comment "retail-edge agent" "$SERVICE_USER"
fi

# 3. The virtual environment, from the lock file. An existing venv is upgraded in place.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pip_step() {
  local what=$1
  shift
  say "$what"
  "$@" >"$log" 2>&1 || { cat "$log" >&2; say "failed (output above)"; exit 1; }
}
[ -x "$VENV/bin/python" ] || pip_step "creating $VENV" python3 -m venv "$VENV"
spec=$SRC
[ -z "$EXTRAS" ] || spec="$SRC[$EXTRAS]"
pip_step "installing retail-edge${EXTRAS:+[$EXTRAS]} into $VENV (versions from requirements/runtime.lock)" \
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
  -c "$SRC/requirements/runtime.lock" "$spec"
install -m 0644 "$SRC/requirements/runtime.lock" "$PREFIX/runtime.lock"
"$VENV/bin/python" -m pip freeze --disable-pip-version-check >"$PREFIX/installed.txt"

# 4. Directories and the config. The unit's StateDirectory= and ConfigurationDirectory= create
# these too; making them here lets `check-config` and a manual start work before the first boot.
install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE"
install -d -m 0750 -o root -g "$SERVICE_USER" "$CONFIG_DIR"
install -m 0640 -o root -g "$SERVICE_USER" "$SRC/deploy/agent.example.toml" "$CONFIG_DIR/agent.example.toml"
if [ ! -e "$CONFIG_DIR/agent.toml" ]; then
  say "writing $CONFIG_DIR/agent.toml from the example: edit it (store id, public_url, [mqtt])"
  install -m 0640 -o root -g "$SERVICE_USER" "$SRC/deploy/agent.example.toml" "$CONFIG_DIR/agent.toml"
fi

# 5. The unit.
install -m 0644 "$SRC/deploy/retail-edge.service" "$UNIT"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable retail-edge.service >/dev/null 2>&1
  say "enabled retail-edge.service (not started)"
else
  say "systemd is not running here: the unit is installed, not enabled"
fi

# 6. The config as the service will read it.
if runuser -u "$SERVICE_USER" -- "$VENV/bin/retail-edge" check-config "$CONFIG_DIR/agent.toml" >&2; then
  say "next: edit $CONFIG_DIR/agent.toml, then: systemctl start retail-edge; journalctl -u retail-edge -f"
else
  say "fix $CONFIG_DIR/agent.toml (above), then: systemctl start retail-edge"
fi
