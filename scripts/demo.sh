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
# real: the real nodeadm, kubelet and containerd join over IAM Roles Anywhere; light: the stand-ins (docs/lab.md).
PROFILE=${PROFILE:-real}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Building the lab's one-time caches (first run only: a few minutes)"
"$PY" tests/lab/k8s/build.py

lab_status=$("$PY" tests/lab/labctl.py status --json 2>/dev/null \
  | "$PY" -c 'import json, sys; print((json.load(sys.stdin).get("lab") or {}).get("status", "down"))' 2>/dev/null || echo down)
if [ "$lab_status" = up ] && [ -f inventories/lab/hosts.yml ]; then
  say "A lab is already running: reusing it, in the profile it was started with ($(sed -n 's/^# .*(profile \(.*\)).*/\1/p' inventories/lab/hosts.yml))"
else
  say "Starting the lab with $HOSTS edge hosts (profile $PROFILE)"
  "$PY" tests/lab/labctl.py up --hosts "$HOSTS" --profile "$PROFILE"
fi
"$PY" tests/lab/labctl.py status

# The lab's AWS emulator takes any key; these keep boto3 away from real credentials and profiles.
export AWS_ACCESS_KEY_ID=AKIAHNLABFAKEKEY0001 AWS_SECRET_ACCESS_KEY=hnlab-fake-secret-key
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# The lab's own Ansible configuration (host keys of hosts made anew each time are not checked there).
export ANSIBLE_CONFIG="$PWD/tests/lab/ansible.cfg"
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
REPORTS=${REPORTS:-reports}

# The lab's kubectl (its pinned Kubernetes release) and admin kubeconfig.
read -r KUBECTL KUBECONFIG_LAB < <("$PY" -c 'from hnlab.config import load; c = load(); print(c.kubectl_binary, c.kubeconfig)')
nodes() { "$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" get nodes -o wide || true; }

say "Running the workflow over the lab: playbooks/site.yml stages 1 to 6, up to the join (the PLAY lines)"
ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml --skip-tags cilium,routes,validate

say "The Nodes after the join: registered, NotReady until their CNI runs"
nodes

say "Stages 7 and 8: Cilium, then the routes"
ansible-playbook -i inventories/lab/hosts.yml playbooks/site.yml --tags cilium,routes

say "The Nodes after Cilium: Ready"
nodes

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
