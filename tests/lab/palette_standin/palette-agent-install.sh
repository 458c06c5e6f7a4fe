#!/usr/bin/env bash
# LAB STAND-IN for Spectro Cloud's palette-agent-install.sh (Palette agent mode). NOT the real installer:
# the lab mirror serves it at /palette/palette-agent-install.sh so that the agent-mode install of
# hybridnodes.eks (roles/palette_artifacts, playbooks/palette_agent.yml) can run against the lab hosts.
#
# The contract it keeps, as far as the Palette docs give it ("Install Agent on a Host", and the
# spectrocloud/agent-mode README):
#   - run as root with the environment preserved (sudo --preserve-env ./palette-agent-install.sh);
#   - USERDATA names the user-data file (the real one also takes a URL; the stand-in refuses one);
#     VERSION optionally names the agent version;
#   - the user-data must hold edgeHostToken, the registration token; a missing or malformed one is refused
#     (lab rule for "malformed": not 16-256 characters of A-Z a-z 0-9 + / = _ . -);
#   - installs the agent as the systemd unit spectro-stylus-agent.service, enabled and started;
#   - exits non-zero on any error, and then leaves nothing installed;
#   - where the real installer reboots (user-data reboot: true) the stand-in never reboots: it only says so.
# It never prints the token.
set -euo pipefail

UNIT_NAME=spectro-stylus-agent.service
UNIT=/etc/systemd/system/$UNIT_NAME
STATE_DIR=/var/lib/palette-standin

fail() {
  echo "palette-agent-install (lab stand-in): ERROR: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root: sudo --preserve-env ./palette-agent-install.sh"
[ -n "${USERDATA:-}" ] || fail "USERDATA is not set: export USERDATA=/path/to/user-data"
case "$USERDATA" in
  http://* | https://*) fail "USERDATA is a URL; the lab stand-in reads a file only" ;;
esac
if [ ! -f "$USERDATA" ] || [ ! -r "$USERDATA" ]; then
  fail "USERDATA $USERDATA is not a readable file"
fi
[ ! -e "$UNIT" ] || fail "the Palette agent is already installed ($UNIT)"

# Parse the user-data: "ok|<problem>", then reboot, projectName, projectUid (never the token).
parsed=$(python3 - "$USERDATA" <<'PY'
import re, sys
import yaml
try:
    with open(sys.argv[1]) as fh:
        data = yaml.safe_load(fh) or {}
except (OSError, yaml.YAMLError) as exc:
    print("user-data is not valid YAML: %s" % exc.__class__.__name__)
    sys.exit(0)
if not isinstance(data, dict):
    print("user-data is not a mapping")
    sys.exit(0)
token = data.get("edgeHostToken")
if token is None or str(token).strip() == "":
    print("edgeHostToken is missing from the user-data")
elif not re.fullmatch(r"[A-Za-z0-9+/=_.-]{16,256}", str(token)):
    print("edgeHostToken is malformed: not a Palette registration token")
else:
    print("ok")
print("true" if data.get("reboot") is True else "false")
print(str(data.get("projectName") or ""))
print(str(data.get("projectUid") or ""))
PY
)
verdict=$(sed -n 1p <<<"$parsed")
reboot=$(sed -n 2p <<<"$parsed")
project_name=$(sed -n 3p <<<"$parsed")
project_uid=$(sed -n 4p <<<"$parsed")
[ "$verdict" = ok ] || fail "$verdict"

cleanup_on_error() {
  systemctl disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
  rm -f "$UNIT"
  rm -rf "$STATE_DIR"
  systemctl daemon-reload >/dev/null 2>&1 || true
}
trap 'cleanup_on_error; fail "install failed; nothing is left installed"' ERR

echo "palette-agent-install (lab stand-in): installing the Palette agent ${VERSION:-latest}"
mkdir -p "$STATE_DIR"
chmod 0700 "$STATE_DIR"
cat >"$STATE_DIR/installed.json" <<JSON
{"standin": true, "version": "${VERSION:-latest}", "projectName": "$project_name", "projectUid": "$project_uid", "userdata": "$USERDATA"}
JSON
cat >"$UNIT" <<UNIT
[Unit]
Description=Palette agent (hybridnodes lab STAND-IN, not the real stylus agent)
After=network-online.target

[Service]
Type=simple
ExecStart=/bin/sleep infinity
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
chmod 0644 "$UNIT"
systemctl daemon-reload
systemctl enable --now "$UNIT_NAME"
trap - ERR

if [ "$reboot" = true ]; then
  echo "palette-agent-install (lab stand-in): user-data says reboot: true; the real installer reboots now, the stand-in does not"
fi
echo "palette-agent-install (lab stand-in): the Palette agent is installed ($UNIT_NAME)"
