#!/usr/bin/env bash
# The whole suite, in the order that fails fastest: unit tests, ansible-test
# sanity, ansible-lint, antsibull-changelog lint, the built collection, the
# tests against the lab, then the default Molecule scenario (the whole site on
# a lab of its own).
# Each stage prints its own summary; the first failure stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned tools of `make setup`, also when this script is run directly.
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"

started=$SECONDS
stage() {
  printf '\n==== %s (%ds elapsed)\n' "$1" $((SECONDS - started))
}

# The lab's one-time kube-apiserver build (minutes of compiling on a new machine; a no-op once cached) runs in the
# background while the stages before the lab tests, mostly waiting on pip for the sanity environments, run.
build_log=$(mktemp)
"$PWD/${VENV:-.venv}/bin/python" tests/lab/k8s/build.py >"$build_log" 2>&1 &
build_pid=$!

stage "unit tests (ansible-test units)"
scripts/ansible-test.sh units --local --python 3.11 --color no

stage "ansible-test sanity"
if compgen -G "tests/sanity/ignore-*.txt" >/dev/null; then
  echo "tests/sanity/ignore-*.txt exists: sanity must pass with no ignore entries" >&2
  exit 1
fi
scripts/ansible-test.sh sanity --venv --requirements --python 3.11 --color no

stage "ansible-lint (production profile)"
ansible-lint

stage "changelog fragments (antsibull-changelog lint)"
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
echo "changelog: $(find changelogs/fragments -name '*.yml' | wc -l) fragments and changelogs/changelog.yaml pass antsibull-changelog lint"

stage "collection build, install and ansible-doc"
scripts/collection-check.sh

stage "lab tests"
if ! wait "$build_pid"; then
  cat "$build_log" >&2
  echo "the lab's kube-apiserver build failed" >&2
  exit 1
fi
cat "$build_log"
rm -f "$build_log"
scripts/lab-tests.sh

stage "molecule, default scenario (site.yml on a lab of its own: check, converge, idempotence, validate)"
scripts/molecule.sh default

printf '\n==== all stages passed in %ds\n' $((SECONDS - started))
