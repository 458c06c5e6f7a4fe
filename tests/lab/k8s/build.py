"""The lab's one-time builds: Debian's etcd, then the pinned upstream Go programs.

The lab's control plane is a real, current Kubernetes: kube-apiserver and kubectl (and the kubelet) of the release
pinned as ``real_kubernetes_version`` in hnlab/config.py, built from k8s.io/kubernetes through the Go module proxy
by hnlab.gobuild, beside the real nodeadm (``real_nodeadm_version``). Nothing else serves Kubernetes binaries to
this machine. etcd comes from Debian's archive (etcd-server).

Idempotent: Debian packages are installed only when missing, and a Go program is built only when its binaries do
not report their pin. Go's module and build caches and the build log live under cfg.cache_dir, outside the
repository. Needs root (apt, /var/cache).

Usage: python tests/lab/k8s/build.py [--force]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

# hnlab: the lab's package, installed editable into the venv by `make setup` (tests/lab/pyproject.toml), and this
# checkout's (the pins it builds are in its hnlab/config.py).
import hnlab

hnlab.require_checkout(Path(__file__).resolve().parents[1])

from hnlab import gobuild, pause  # noqa: E402
from hnlab.config import load  # noqa: E402

APT_PACKAGES = ("etcd-server", "openssl")


def missing_packages() -> list[str]:
    missing = []
    for pkg in APT_PACKAGES:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True,
                             check=False).stdout
        if "install ok installed" not in out:
            missing.append(pkg)
    return missing


def ensure_apt() -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"k8s-build: needs root to apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"[k8s-build] apt-get install {' '.join(missing)}", flush=True)
    subprocess.run(["apt-get", "update"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the binaries are up to date")
    args = parser.parse_args()
    ensure_apt()
    cfg = load()
    gobuild.build(cfg, force=args.force)
    # The sandbox image's program, from the Kubernetes module the build above downloaded (C, built by gcc).
    print(f"[pause-build] {pause.build(cfg)}", flush=True)


if __name__ == "__main__":
    main()
