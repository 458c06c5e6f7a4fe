#!/usr/bin/env bash
# The demo: build the lab's one-time caches, start the lab (or reuse the one
# that runs), run playbooks/site.yml and playbooks/validate.yml over it, and
# print the validation report and how to tear down.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned tools of `make setup`, also when this script is run directly.
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
PY=${VENV:-.venv}/bin/python
HOSTS=${HOSTS:-3}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Building the lab's one-time caches (first run only: a few minutes)"
"$PY" tests/lab/k8s/build.py

lab_status=$("$PY" tests/lab/labctl.py status --json 2>/dev/null \
  | "$PY" -c 'import json, sys; print((json.load(sys.stdin).get("lab") or {}).get("status", "down"))' 2>/dev/null || echo down)
if [ "$lab_status" = up ] && [ -f inventories/lab/hosts.yml ]; then
  say "A lab is already running: reusing it"
else
  say "Starting the lab with $HOSTS edge hosts"
  "$PY" tests/lab/labctl.py up --hosts "$HOSTS"
fi
"$PY" tests/lab/labctl.py status

# The lab's AWS emulator takes any key; these keep boto3 away from real credentials and profiles.
export AWS_ACCESS_KEY_ID=AKIAHNLABFAKEKEY0001 AWS_SECRET_ACCESS_KEY=hnlab-fake-secret-key
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# The lab's own Ansible configuration (host keys of hosts made anew each time are not checked there).
export ANSIBLE_CONFIG="$PWD/tests/lab/ansible.cfg"
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
REPORTS=${REPORTS:-reports}

say "Running the workflow over the lab: playbooks/site.yml, stage by stage (the PLAY lines)"
ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml --skip-tags validate

say "Validating: playbooks/validate.yml (reports in $REPORTS/)"
rc=0
ansible-playbook -i inventories/lab/hosts.yml playbooks/validate.yml -e hybrid_validate_report_dir="$PWD/$REPORTS" || rc=$?

say "Summary ($REPORTS/validate.md)"
cat "$REPORTS/validate.md"
if [ "$rc" -ne 0 ]; then
  echo "Validation failed (rc=$rc): the report above names each failed check and its fix." >&2
  exit "$rc"
fi

say "Done. The lab keeps running: 'make lab-status' shows it, 'make lab-down' removes it and everything it made."
