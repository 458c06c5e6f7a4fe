#!/usr/bin/env bash
# `molecule test` for the named scenarios (molecule/*), one after the other, each on a lab of its own: the
# scenario's create starts it and its destroy takes it down. The lab's caches are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned tools of `make setup`, also when this script is run directly.
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
"${VENV:-.venv}/bin/python" tests/lab/k8s/build.py
export ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
for scenario in "${@:-default}"; do
  printf '\n---- molecule test -s %s\n' "$scenario"
  molecule test -s "$scenario"
done
