#!/usr/bin/env bash
# The tests that run against the lab: first the one-time caches (a Debian
# root filesystem and a kube-apiserver binary, both kept outside the
# checkout), then the lab's own tests, which bring one lab up, reuse it,
# and take it down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned tools of `make setup`, also when this script is run directly.
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
PY=$(pwd)/${VENV:-.venv}/bin/python
"$PY" tests/lab/k8s/build.py
cd tests/lab
# Arguments select test folders or files (paths relative to tests/lab: tests/lab the lab's own tests,
# tests/collection the collection's on the lab, tests/zz the final down and leak check); none means all.
if [ "$#" -eq 0 ]; then
  set -- tests
fi
"$PY" -m pytest -p no:cacheprovider -q -ra --durations=25 "$@"
