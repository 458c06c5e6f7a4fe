#!/usr/bin/env bash
# Run ansible-test on this checkout. ansible-test wants the collection at
# .../ansible_collections/hybridnodes/eks, with the collections it depends on
# beside it: mirror the files git knows of (tracked, or new and not ignored)
# into a tree outside the checkout (ansible-test would otherwise ask this
# checkout's git which files exist, and get none under an ignored folder) and
# link the dependencies from the venv. Results land in that tree's
# tests/output, which is linked back as build/ansible-test-output.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
checkout=$(pwd)
root=${ANSIBLE_TEST_TREE:-/tmp/hybridnodes-eks-$(printf '%s' "$checkout" | sha256sum | cut -c1-12)}/ansible_collections
dest=$root/hybridnodes/eks
mkdir -p "$dest" build
ln -sfn "$dest/tests/output" build/ansible-test-output
git ls-files -z --cached --others --exclude-standard \
  | rsync -a --delete --delete-excluded --exclude tests/output --from0 --files-from=- ./ "$dest/"
# rsync --files-from does not delete files that left the tree: prune them.
(cd "$dest" && find . -path ./tests/output -prune -o -type f -print | sed 's|^\./||' | sort) > build/.mirrored
git ls-files --cached --others --exclude-standard | sort > build/.wanted
comm -23 build/.mirrored build/.wanted | (cd "$dest" && xargs -r -d '\n' rm -f)
site=$("$VENV/bin/python" -c 'import ansible_collections, os; print([p for p in ansible_collections.__path__ if "site-packages" in p][0])')
for dep in amazon/aws kubernetes/core community/crypto ansible/utils community/general; do
  mkdir -p "$root/${dep%/*}"
  ln -sfn "$site/$dep" "$root/$dep"
done
cd "$dest"
PATH="$checkout/$VENV/bin:$PATH" exec ansible-test "$@"
