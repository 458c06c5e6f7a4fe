#!/usr/bin/env bash
# The execution environment's build context, without building an image: the collection tarball
# from this checkout (galaxy.yml's build_ignore applies) as build/ee/hybridnodes-eks.tar.gz, then
# `ansible-builder create` from execution-environment.yml into build/ee/context (or $1).
# Needs no network; building the image (`podman build build/ee/context`) does.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
context=${1:-build/ee/context}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
mkdir -p build/ee
mv "$out"/hybridnodes-eks-*.tar.gz build/ee/hybridnodes-eks.tar.gz
ansible-builder create --file execution-environment.yml --context "$context" --output-filename Containerfile
