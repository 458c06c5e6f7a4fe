#!/usr/bin/env bash
# Build the development environment, idempotently: the system packages the
# tests and the lab need, a virtualenv with the pinned tools, the offline
# bootstrap ansible-test needs, and the link that makes this checkout
# importable as hybridnodes.eks. A second run changes nothing and takes a
# second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# System packages: the lab (debootstrap, systemd-nspawn, iptables, etcd) and the tools
# the tests call. The lab's Go builds (Kubernetes, nodeadm) use the machine's Go 1.26 at
# /usr/local/go, not Debian's golang-go.
APT_PACKAGES=(
  git rsync openssh-client curl jq ca-certificates openssl shellcheck
  debootstrap systemd-container iptables iproute2 iputils-ping
  etcd-server ipset dnsmasq-base
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The virtualenv, reinstalled only when the pinned requirements change.
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
want=$(cat requirements-dev.txt requirements.txt requirements-ee-constraints.txt | sha256sum | cut -c1-16)
have=$(cat "$VENV/.requirements-hash" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "setup: installing pinned Python tools into $VENV (about a minute the first time)"
  # pip's output goes to a log: it is long, and on some machines full of
  # warnings about unused local index locations. Shown only when pip fails.
  log="$VENV/pip-install.log"
  # The execution environment's exact pins constrain the packages both install (idna, for one, arrives unpinned
  # through requests): what the tests run with is what the EE ships, whatever PyPI published since.
  if ! "$VENV/bin/pip" install --disable-pip-version-check -r requirements-dev.txt \
      -c requirements-ee-constraints.txt >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: pip install failed; the full log is $log" >&2
    exit 1
  fi
  echo "$want" > "$VENV/.requirements-hash"
fi

# The lab's Python package (tests/lab/hnlab), so that the lab tests, labctl.py, k8s/build.py and the benchmark
# import it from anywhere: installed editable (it reads the checkout around it) and offline (the venv's setuptools,
# wheel pinned above, no dependencies: they are the pinned requirements). Reinstalled only when the venv's hnlab is
# missing or is another checkout's (a venv shared between checkouts imports the last one installed).
lab_pkg=$(realpath tests/lab/hnlab)
have_pkg=$("$VENV/bin/python" -P -c 'import hnlab, os; print(os.path.dirname(os.path.realpath(hnlab.__file__)))' \
  2>/dev/null || true)
if [ "$have_pkg" != "$lab_pkg" ]; then
  echo "setup: installing the lab package (tests/lab, editable) into $VENV"
  log="$VENV/pip-install-lab.log"
  if ! "$VENV/bin/pip" install --disable-pip-version-check --no-index --no-deps --no-build-isolation -e tests/lab >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: pip install -e tests/lab failed; the full log is $log" >&2
    exit 1
  fi
fi

# ansible-test bootstraps its sanity virtualenvs with a get-pip script that it
# downloads from a host this machine cannot reach: an offline stand-in.
pip_version=$("$VENV/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s scripts/get_pip_offline.py "$cache"; then
  mkdir -p "$(dirname "$cache")"
  cp scripts/get_pip_offline.py "$cache"
  echo "setup: installed the offline get-pip stand-in at $cache"
fi

# Make the checkout usable as hybridnodes.eks (see collections_path in ansible.cfg).
mkdir -p .collections/ansible_collections/hybridnodes
ln -sfn ../../.. .collections/ansible_collections/hybridnodes/eks

echo "setup: ready ($("$VENV/bin/ansible" --version | awk 'NR == 1'))"
