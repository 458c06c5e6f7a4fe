"""Builds of pinned upstream Go programs through the Go module proxy, cached outside the repository.

The lab runs the real upstream program wherever this machine can. A Go program whose module the Go module proxy
serves is built here with go's own commands: a small build module under ``cfg.cache_dir / "go-builds"`` requires the
pinned module version and ``go build``s the command package from it (``go install pkg@version`` cannot be used for
eks-hybrid: it asks the proxy for the module's version list, which the proxy refuses). Nothing of the upstream code
or of the binaries lands in the repository.

The pins are ``LabConfig`` fields (one place): ``real_nodeadm_version`` for nodeadm (github.com/aws/eks-hybrid,
cmd/nodeadm). A binary is rebuilt only when its pin changes (the pin is part of its path) or it no longer answers
``--version`` with the pinned version. Go's module and build caches live under ``cfg.cache_dir / "go"``.

Usage: python -m hnlab.gobuild [--force]   (from tests/lab; also run by tests/lab/k8s/build.py)
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
from dataclasses import dataclass
from pathlib import Path

from hnlab.config import LabConfig, load

# The Go toolchain of the project's machines; Debian's golang-go (1.19, used only for the Debian kube-apiserver
# build) is too old for these modules.
GO_CANDIDATES = ("/usr/local/go/bin/go",)
NODEADM_MANIFEST_URL = "https://hybrid-assets.eks.amazonaws.com/manifest.yaml"


@dataclass(frozen=True)
class Program:
    name: str
    module: str
    package: str
    version: str
    ldflags: tuple = ()

    def binary(self, cfg: LabConfig) -> Path:
        return cfg.go_builds_dir / f"{self.name}-{self.version}" / self.name


def programs(cfg: LabConfig) -> list[Program]:
    """The pinned programs of the lab, from the pins in LabConfig."""
    return [
        # The link-time variables are those of upstream's release build (Makefile, target build: LINKER_FLAGS):
        # the version stamp and the default manifest URL, the real hybrid-assets one.
        Program("nodeadm", "github.com/aws/eks-hybrid", "github.com/aws/eks-hybrid/cmd/nodeadm",
                cfg.real_nodeadm_version,
                (f"-X github.com/aws/eks-hybrid/cmd/nodeadm/version.GitVersion={cfg.real_nodeadm_version}",
                 f"-X github.com/aws/eks-hybrid/internal/aws.manifestUrl={NODEADM_MANIFEST_URL}")),
    ]


def go_binary() -> str:
    for candidate in GO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("go")
    if found:
        return found
    sys.exit("gobuild: no Go toolchain found (expected /usr/local/go/bin/go, Go 1.26)")


def version_of(binary: Path) -> str | None:
    """The first line of ``BINARY --version``, or None when it is absent or broken."""
    if not binary.exists():
        return None
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (proc.stdout or proc.stderr).strip()
    return out.splitlines()[0] if proc.returncode == 0 and out else None


def up_to_date(program: Program, cfg: LabConfig) -> bool:
    version = version_of(program.binary(cfg))
    return version is not None and program.version in version


def go_env(cfg: LabConfig) -> dict:
    go_cache = cfg.cache_dir / "go"
    return {
        **os.environ,
        "GOPATH": str(go_cache / "path"),
        "GOCACHE": str(go_cache / "build"),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }


def build_one(program: Program, cfg: LabConfig, log) -> Path:
    """Build PROGRAM at its pin into its cache path; returns the binary."""
    out = program.binary(cfg)
    work = out.parent / "module"
    work.mkdir(parents=True, exist_ok=True)
    go = go_binary()
    env = go_env(cfg)
    (work / "go.mod").write_text(f"module hnlab.local/build/{program.name}\n\ngo 1.26\n\n"
                                 f"require {program.module} {program.version}\n")
    # A build-tagged import keeps the command package in the module graph for `go mod tidy`.
    (work / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport _ \"{program.package}\"\n")

    def run(*args: str) -> None:
        log.write(f"$ {' '.join(args)}\n")
        log.flush()
        proc = subprocess.run(list(args), cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}; see {log.name}")

    run(go, "mod", "tidy")
    tmp = out.with_suffix(".tmp")
    run(go, "build", "-trimpath", "-ldflags", " ".join(("-s", "-w", *program.ldflags)), "-o", str(tmp),
        program.package)
    os.replace(tmp, out)
    return out


def build(cfg: LabConfig, force: bool = False) -> None:
    todo = [p for p in programs(cfg) if force or not up_to_date(p, cfg)]
    if not todo:
        print(f"[go-build] up to date: {', '.join(str(p.binary(cfg)) for p in programs(cfg))}")
        return
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    log_path = cfg.cache_dir / "go-build.log"
    with open(cfg.cache_dir / "go-build.lock", "w") as lock, contextlib.ExitStack() as stack:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per cache
        log = stack.enter_context(open(log_path, "a"))
        for program in todo:
            if not force and up_to_date(program, cfg):  # built by another process meanwhile
                continue
            t0 = time.monotonic()
            print(f"[go-build] {program.module}@{program.version} ({program.package}); log {log_path}", flush=True)
            try:
                binary = build_one(program, cfg, log)
            except Exception:
                log.flush()
                if os.environ.get("CI"):
                    print("---- last lines of the build log ----")
                    print("".join(log_path.read_text().splitlines(True)[-40:]))
                raise
            print(f"[go-build] {binary}: {version_of(binary)} ({time.monotonic() - t0:.0f}s)", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the binaries are up to date")
    args = parser.parse_args(argv)
    build(load(), force=args.force)


if __name__ == "__main__":
    main()
