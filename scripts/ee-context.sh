#!/usr/bin/env bash
# The execution environment's build context, without building an image: the collection tarball
# from this checkout (galaxy.yml's build_ignore applies) as build/ee/hybridnodes-eks.tar.gz, then
# `ansible-builder create` from execution-environment.yml into build/ee/context (or $1).
# The base image is pinned by digest: where execution-environment.yml names it by
# `@sha256:${EE_BASE_IMAGE_SHA256}`, EE_BASE_IMAGE_SHA256 (64 hex digits, "sha256:" optional) takes its place
# in the Containerfile, and without it no context is written.
# Needs no network; building the image (`podman build build/ee/context`) does.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
context=${1:-build/ee/context}
# shellcheck disable=SC2016  # the literal variable reference of execution-environment.yml
placeholder='@sha256:${EE_BASE_IMAGE_SHA256}'
digest=${EE_BASE_IMAGE_SHA256:-}
digest=${digest#sha256:}
if grep -qF "$placeholder" execution-environment.yml && ! [[ $digest =~ ^[0-9a-f]{64}$ ]]; then
  image=$(sed -n 's/^ *name: *\([^ ]*\)@sha256:.*/\1/p' execution-environment.yml)
  if [ -n "${EE_BASE_IMAGE_SHA256:-}" ]; then
    problem="is \"$EE_BASE_IMAGE_SHA256\", not 64 lowercase hex digits"
  else
    problem="is not set"
  fi
  cat >&2 <<MSG
ee-context: EE_BASE_IMAGE_SHA256 $problem. The execution environment is built from its base image
by digest only: look up the digest of $image where its registry is reachable, and pass it:
  skopeo inspect --format '{{.Digest}}' docker://$image
  make ee-context EE_BASE_IMAGE_SHA256=<the 64 hex digits after sha256:>
MSG
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
mkdir -p build/ee
mv "$out"/hybridnodes-eks-*.tar.gz build/ee/hybridnodes-eks.tar.gz
ansible-builder create --file execution-environment.yml --context "$context" --output-filename Containerfile
# Only in the ARG line of the base image, before the first stage.
# shellcheck disable=SC2016  # the pattern is the literal ${EE_BASE_IMAGE_SHA256}
sed -i '1,/^FROM /s|^\(ARG EE_BASE_IMAGE="[^"]*@sha256:\)\${EE_BASE_IMAGE_SHA256}"$|\1'"$digest"'"|' "$context/Containerfile"
if ! grep -qE '^ARG EE_BASE_IMAGE="[^"@]+@sha256:[0-9a-f]{64}"$' "$context/Containerfile"; then
  echo "ee-context: $context/Containerfile does not name its base image by digest (ARG EE_BASE_IMAGE)" >&2
  exit 1
fi
