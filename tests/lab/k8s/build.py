"""Build the lab's kube-apiserver and kubectl from Debian's source package.

No Kubernetes binary is obtainable from the registries this project can
reach, so the lab builds one (see the lab recipes): Debian bookworm's source
package ``kubernetes`` (1.20.5+really1.20.2, full tree with vendor/) compiled
with Debian's golang-go 1.19. Before compiling, Debian's reflect2 (1.0.2) and
json-iterator (1.1.12) sources are copied over the vendored copies; without
that, kube-apiserver segfaults on the first custom-resource write.

Idempotent: when cfg.apiserver_binary and cfg.kubectl_binary exist and answer
``--version`` nothing is done. Source tree, Go build cache and log live under
cfg.cache_dir, outside the repository. Needs root (apt, /var/cache).

Then builds the pinned upstream Go programs of hnlab.gobuild (the real nodeadm).

Usage: python tests/lab/k8s/build.py [--force]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hnlab import gobuild  # noqa: E402
from hnlab.config import LabConfig, load  # noqa: E402

APT_PACKAGES = (
    "golang-go",
    "rsync",
    "etcd-server",
    "dpkg-dev",
    "build-essential",
    "openssl",
    "golang-github-modern-go-reflect2-dev",
    "golang-github-json-iterator-go-dev",
)
SOURCE_PACKAGE = "kubernetes"
DEB_SRC_FILE = Path("/etc/apt/sources.list.d/hnlab-deb-src.sources")
DEB_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# vendor/ path in the Kubernetes tree -> Debian's source of the fixed module.
VENDOR_FIXES = {
    "github.com/modern-go/reflect2": "/usr/share/gocode/src/github.com/modern-go/reflect2",
    "github.com/json-iterator/go": "/usr/share/gocode/src/github.com/json-iterator/go",
}
# Version stamped into the binaries (the tarball is not a git checkout).
KUBE_VERSION = {
    "KUBE_GIT_VERSION": "v1.20.2",
    "KUBE_GIT_MAJOR": "1",
    "KUBE_GIT_MINOR": "20",
    "KUBE_GIT_COMMIT": "debian-1.20.5+really1.20.2",
    "KUBE_GIT_TREE_STATE": "clean",
}


class Builder:
    """One build run: logs every command to a file, prints progress lines."""

    def __init__(self, cfg: LabConfig) -> None:
        self.cfg = cfg
        self.work = cfg.cache_dir / "k8s-build"
        self.log_path = cfg.cache_dir / "k8s-build.log"
        self.t0 = time.monotonic()
        self.log = None

    def say(self, msg: str) -> None:
        line = f"[k8s-build {time.monotonic() - self.t0:6.1f}s] {msg}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def run(self, cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> None:
        self.log.write(f"$ {' '.join(cmd)}\n")
        self.log.flush()
        full_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", **(env or {})}
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}; see {self.log_path}")

    # --- steps -------------------------------------------------------------

    def ensure_deb_src(self) -> bool:
        """Write a deb-src twin of the deb entries. Returns True when it changed."""
        if DEB_SOURCES.exists():  # deb822 format (bookworm images)
            path = DEB_SRC_FILE
            lines = ["Types: deb-src" if ln.strip() == "Types: deb" else ln
                     for ln in DEB_SOURCES.read_text().splitlines()]
        else:  # one-line format
            path = DEB_SRC_FILE.with_suffix(".list")
            lines = ["deb-src" + ln[3:] for ln in Path("/etc/apt/sources.list").read_text().splitlines()
                     if ln.startswith("deb ")]
        wanted = "# Written by hybridnodes-lab tests/lab/k8s/build.py\n" + "\n".join(lines) + "\n"
        if path.exists() and path.read_text() == wanted:
            return False
        path.write_text(wanted)
        self.say(f"wrote {path}")
        return True

    def missing_packages(self) -> list[str]:
        missing = []
        for pkg in APT_PACKAGES:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False).stdout
            if "install ok installed" not in out:
                missing.append(pkg)
        return missing

    def ensure_apt(self) -> None:
        changed = self.ensure_deb_src()
        missing = self.missing_packages()
        if changed or missing:
            self.say("apt-get update")
            self.run(["apt-get", "update"])
        if missing:
            self.say(f"apt-get install {' '.join(missing)}")
            self.run(["apt-get", "install", "-y", "--no-install-recommends", *missing])

    def source_tree(self) -> Path:
        """Fetch and unpack the source package once; return the tree."""
        trees = sorted(p for p in self.work.glob(f"{SOURCE_PACKAGE}-*") if (p / "Makefile").exists())
        if trees:
            return trees[-1]
        self.work.mkdir(parents=True, exist_ok=True)
        self.say(f"apt-get source {SOURCE_PACKAGE} (into {self.work})")
        try:
            self.run(["apt-get", "source", SOURCE_PACKAGE], cwd=self.work)
        except RuntimeError:  # source indexes missing or stale: refresh once
            self.say("apt-get update, then apt-get source again")
            self.run(["apt-get", "update"])
            self.run(["apt-get", "source", SOURCE_PACKAGE], cwd=self.work)
        trees = sorted(p for p in self.work.glob(f"{SOURCE_PACKAGE}-*") if (p / "Makefile").exists())
        if not trees:
            raise RuntimeError(f"no source tree unpacked under {self.work}")
        return trees[-1]

    def fix_vendor(self, tree: Path) -> None:
        """Replace the vendored package sources by Debian's (files differ between versions)."""
        for mod, src in VENDOR_FIXES.items():
            dest = tree / "vendor" / mod
            for old in [*dest.glob("*.go"), *dest.glob("*.s")]:
                old.unlink()
            for path in [*Path(src).glob("*.go"), *Path(src).glob("*.s")]:
                if not path.name.endswith("_test.go"):
                    shutil.copy2(path, dest / path.name)
            self.say(f"vendor/{mod} <- {src}")

    def make(self, tree: Path, what: list[str]) -> None:
        """Offline build; Go's build cache stays in the tree's _output (incremental rebuilds)."""
        version_file = self.work / "version.env"
        version_file.write_text("".join(f"{k}='{v}'\n" for k, v in KUBE_VERSION.items()))
        env = {
            "KUBE_GIT_VERSION_FILE": str(version_file),
            "GOPROXY": "off",
            "GOFLAGS": "-mod=vendor",
            "GO111MODULE": "on",
        }
        self.say(f"make WHAT='{' '.join(what)}' (several minutes on 2 cores)")
        self.run(["make", f"WHAT={' '.join(what)}"], cwd=tree, env=env)

    def install(self, tree: Path, name: str, dest: Path) -> None:
        built = tree / "_output" / "bin" / name
        tmp = dest.with_suffix(".tmp")
        shutil.copy2(built, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
        self.say(f"installed {dest}: {version_of(dest)}")


def version_of(binary: Path) -> str | None:
    """The binary's version line, or None when it is absent or broken."""
    if not binary.exists():
        return None
    args = ["version", "--client", "--short"] if binary.name == "kubectl" else ["--version"]
    try:
        proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def build(cfg: LabConfig, force: bool = False) -> None:
    targets = {"kube-apiserver": cfg.apiserver_binary, "kubectl": cfg.kubectl_binary}
    todo = {n: p for n, p in targets.items() if force or version_of(p) is None}
    if not todo:
        print(f"[k8s-build] up to date: {', '.join(map(str, targets.values()))}")
        return
    if os.geteuid() != 0:
        sys.exit("k8s-build: needs root (apt-get, writes under /var/cache)")
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    lock_path = cfg.cache_dir / "k8s-build.lock"
    with open(lock_path, "w") as lock, contextlib.ExitStack() as stack:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per cache
        b = Builder(cfg)
        b.log = stack.enter_context(open(b.log_path, "a"))
        b.say(f"building {', '.join(todo)}; log {b.log_path}")
        try:
            b.ensure_apt()
            tree = b.source_tree()
            b.say(f"source tree {tree}")
            b.fix_vendor(tree)
            b.make(tree, [f"cmd/{name}" for name in todo])
            for name, dest in todo.items():
                b.install(tree, name, dest)
        except Exception:
            b.log.flush()
            if os.environ.get("CI"):
                print("---- last lines of the build log ----")
                print("".join(b.log_path.read_text().splitlines(True)[-60:]))
            raise
        b.say("done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when binaries work")
    args = parser.parse_args()
    cfg = load()
    build(cfg, force=args.force)
    # The lab's other one-time builds: the pinned upstream Go programs (the real nodeadm), from the Go module proxy.
    gobuild.build(cfg, force=args.force)


if __name__ == "__main__":
    main()
