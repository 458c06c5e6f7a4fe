#!/usr/bin/env bash
# Build the collection tarball as Galaxy would, install it into a scratch
# collections path, and render the documentation of every module and filter
# from the installed copy: what a user who installs the release gets.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned tools of `make setup`, also when this script is run directly.
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
out=build/collection
rm -rf "$out"
mkdir -p "$out/dist" "$out/install"
ansible-galaxy collection build --force --output-path "$out/dist" . >/dev/null
tarball=$(ls "$out"/dist/hybridnodes-eks-*.tar.gz)
echo "collection-check: built $tarball ($(du -h "$tarball" | cut -f1))"
# No file of the lab, of what runs on it (Molecule scenarios, benchmarks), of the AWX playbooks (awx.awx is not a
# dependency) or of the development tools: galaxy.yml's build_ignore keeps them out.
unwanted=$(tar -tzf "$tarball" | grep -v '/$' \
  | grep -E '^(benchmarks|molecule|scripts|\.ci|\.venv|build|tests/lab|tests/output|tests/unit/benchmarks|tests/unit/awx|inventories/lab|playbooks/awx)/' || true)
if [ -n "$unwanted" ]; then
  printf 'collection-check: the tarball carries lab, benchmark or development files (add them to build_ignore in galaxy.yml):\n%s\n' "$unwanted" >&2
  exit 1
fi
# --no-deps: the dependencies come from the PyPI ansible package here.
ANSIBLE_COLLECTIONS_PATH="$out/install" ansible-galaxy collection install --no-deps --force -p "$out/install" "$tarball" >/dev/null
installed=$out/install/ansible_collections/hybridnodes/eks
test -f "$installed/MANIFEST.json"
# Nor a file that names the lab's code: its Python package (hnlab), labctl, its state and cache directories
# (/var/lib/hybridnodes-lab, /var/cache/hybridnodes-lab), its environment variables (HNLAB_*). The documentation
# (README.md and docs/*.md), which also tells developers how to run the lab, and the unit test that keeps the lab's
# names out of the product files (it lists them) are the exceptions.
marked=$(grep -rlE 'hnlab|labctl|hybridnodes-lab|HNLAB_' "$installed" | sed "s|^$installed/||" \
  | grep -vxE 'README\.md|docs/[^/]+\.md|tests/unit/test_no_lab_names\.py' || true)
if [ -n "$marked" ]; then
  printf 'collection-check: shipped files name the lab (hnlab, labctl, hybridnodes-lab, HNLAB_); keep them out of the tarball or the lab out of them:\n%s\n' "$marked" >&2
  exit 1
fi
site=$(python -c 'import ansible_collections, os; print(os.path.dirname([p for p in ansible_collections.__path__ if "site-packages" in p][0]))')
export ANSIBLE_COLLECTIONS_PATH="$out/install:$site"
rendered=0
for kind in module filter; do
  for name in $(ANSIBLE_COLLECTIONS_PATH="$ANSIBLE_COLLECTIONS_PATH" ansible-doc -t "$kind" -l hybridnodes.eks 2>/dev/null | awk '{print $1}'); do
    text=$(ansible-doc -t "$kind" "$name")
    if ! grep -q "EXAMPLES" <<<"$text"; then
      echo "collection-check: ansible-doc -t $kind $name rendered no EXAMPLES" >&2
      exit 1
    fi
    rendered=$((rendered + 1))
  done
done
expected=$(( $(find plugins/modules -name '*.py' ! -name '__init__.py' | wc -l) + $(find plugins/filter -name '*.yml' | wc -l) ))
if [ "$rendered" -ne "$expected" ]; then
  echo "collection-check: ansible-doc rendered $rendered plugins from the installed collection, expected $expected" >&2
  exit 1
fi
echo "collection-check: installed from the tarball; ansible-doc rendered all $rendered modules and filters"
