"""Builds of pinned upstream Go programs through the Go module proxy, cached outside the repository.

The lab runs the real upstream program wherever this machine can. A Go program whose module the Go module proxy
serves is built here with go's own commands: a small build module under ``cfg.cache_dir / "go-builds"`` requires the
pinned module version and ``go build``s the command packages from it (``go install pkg@version`` cannot be used:
for eks-hybrid the proxy refuses the module's version list, and k8s.io/kubernetes has replace directives). Nothing
of the upstream code or of the binaries lands in the repository.

The pins are ``LabConfig`` fields (one place): ``real_nodeadm_version`` for nodeadm (github.com/aws/eks-hybrid,
cmd/nodeadm) and ``real_kubernetes_version`` for kube-apiserver, kubelet and kubectl (k8s.io/kubernetes). A binary
is rebuilt only when its pin changes (the pin is part of its path) or it no longer reports the pinned version. Go's
module and build caches live under ``cfg.cache_dir / "go"``.

k8s.io/kubernetes replaces each of its staging modules (k8s.io/api, k8s.io/client-go, ...) by a directory of its own
tree (``k8s.io/api => ./staging/src/k8s.io/api``); replace directives of a dependency do not apply to the module that
requires it, so the build module pins each of them to the version published from the same release: staging module
v0.Y.Z for Kubernetes v1.Y.Z (kubernetes/kubernetes staging/README.md, "published ... with tags v0.Y.Z"). The list
of staging modules is read from the pinned release's own go.mod, as the proxy serves it.

Usage: python -m hnlab.gobuild [--force]   (from tests/lab; also run by tests/lab/k8s/build.py)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
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
class Command:
    """One binary of a Program: its name, its package, and the arguments that print its version (first line; None
    for a program that has no such command: a stamp file written after the build records its version instead)."""
    name: str
    package: str
    version_args: tuple | None = ("--version",)


@dataclass(frozen=True)
class Program:
    name: str
    module: str
    version: str
    commands: tuple
    ldflags: tuple = ()
    # Pin the module's replace directives into its own staging/ tree to the published twins (k8s.io/kubernetes).
    staging_replaces: bool = False
    # Built with cgo (aws_signing_helper: github.com/miekg/pkcs11 is cgo-only); everything else is static.
    cgo: bool = False

    def directory(self, cfg: LabConfig) -> Path:
        return cfg.go_builds_dir / f"{self.name}-{self.version}"

    def binary(self, cfg: LabConfig, command: str | None = None) -> Path:
        return self.directory(cfg) / (command or self.commands[0].name)

    def stamp(self, cfg: LabConfig) -> Path:
        return self.directory(cfg) / ".built"


def kubernetes_ldflags(version: str) -> tuple:
    """The version stamp of upstream's release build (hack/lib/version.sh, kube::version::ldflags) for VERSION."""
    major, minor = version.lstrip("v").split(".")[:2]
    stamp = []
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        stamp += [f"-X {package}.gitVersion={version}", f"-X {package}.gitMajor={major}",
                  f"-X {package}.gitMinor={minor}", f"-X {package}.gitTreeState=clean"]
    return tuple(stamp)


def programs(cfg: LabConfig) -> list[Program]:
    """The pinned programs of the lab, from the pins in LabConfig."""
    return [
        # The link-time variables are those of upstream's release build (Makefile, target build: LINKER_FLAGS):
        # the version stamp and the default manifest URL, the real hybrid-assets one.
        Program("nodeadm", "github.com/aws/eks-hybrid", cfg.real_nodeadm_version,
                (Command("nodeadm", "github.com/aws/eks-hybrid/cmd/nodeadm"),),
                (f"-X github.com/aws/eks-hybrid/cmd/nodeadm/version.GitVersion={cfg.real_nodeadm_version}",
                 f"-X github.com/aws/eks-hybrid/internal/aws.manifestUrl={NODEADM_MANIFEST_URL}")),
        # What `nodeadm install` installs beside kubelet and kubectl (its manifest's artifacts; docs/lab-real-nodeadm.md).
        Program("cni-plugins", "github.com/containernetworking/plugins", cfg.real_cni_plugins_version,
                tuple(Command(name, f"github.com/containernetworking/plugins/plugins/{path}", None)
                      for name, path in CNI_PLUGINS)),
        Program("aws-iam-authenticator", "sigs.k8s.io/aws-iam-authenticator", cfg.real_iam_authenticator_version,
                (Command("aws-iam-authenticator", "sigs.k8s.io/aws-iam-authenticator/cmd/aws-iam-authenticator",
                         None),)),
        Program("ecr-credential-provider", "k8s.io/cloud-provider-aws", cfg.real_ecr_credential_provider_version,
                (Command("ecr-credential-provider", "k8s.io/cloud-provider-aws/cmd/ecr-credential-provider", None),)),
        # Upstream's Makefile stamps the version into cmd.Version.
        Program("aws_signing_helper", "github.com/aws/rolesanywhere-credential-helper",
                cfg.real_signing_helper_version,
                (Command("aws_signing_helper", "github.com/aws/rolesanywhere-credential-helper", ("version",)),),
                (f"-X github.com/aws/rolesanywhere-credential-helper/cmd.Version="
                 f"{cfg.real_signing_helper_version.lstrip('v')}",), cgo=True),
        Program("kubernetes", "k8s.io/kubernetes", cfg.real_kubernetes_version,
                (Command("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
                 Command("kubectl", "k8s.io/kubernetes/cmd/kubectl", ("version", "--client")),
                 Command("kubelet", "k8s.io/kubernetes/cmd/kubelet")),
                kubernetes_ldflags(cfg.real_kubernetes_version), staging_replaces=True),
    ]


# The CNI plugins the lab's hosts need (a bridge network on one host), as (binary, package path under plugins/).
CNI_PLUGINS = (("loopback", "main/loopback"), ("bridge", "main/bridge"), ("host-local", "ipam/host-local"),
               ("portmap", "meta/portmap"))


def program(cfg: LabConfig, name: str) -> Program:
    return next(p for p in programs(cfg) if p.name == name)


def go_binary() -> str:
    for candidate in GO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("go")
    if found:
        return found
    sys.exit("gobuild: no Go toolchain found (expected /usr/local/go/bin/go, Go 1.26)")


def version_of(binary: Path, args: tuple = ("--version",)) -> str | None:
    """The first line of ``BINARY ARGS`` (its version), or None when it is absent or broken."""
    if not binary.exists():
        return None
    try:
        proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (proc.stdout or proc.stderr).strip()
    return out.splitlines()[0] if proc.returncode == 0 and out else None


def up_to_date(program: Program, cfg: LabConfig) -> bool:
    for command in program.commands:
        if command.version_args is None:
            stamp = program.stamp(cfg)
            if not program.binary(cfg, command.name).exists() or not stamp.exists() \
                    or stamp.read_text().strip() != program.version:
                return False
            continue
        version = version_of(program.binary(cfg, command.name), command.version_args)
        if version is None or program.version.lstrip("v") not in version:
            return False
    return True


def go_env(cfg: LabConfig, cgo: bool = False) -> dict:
    go_cache = cfg.cache_dir / "go"
    return {
        **os.environ,
        "GOPATH": str(go_cache / "path"),
        "GOCACHE": str(go_cache / "build"),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "1" if cgo else "0",
    }


def staging_replaces(go: str, module: str, version: str, work: Path, env: dict, run) -> list[str]:
    """``replace`` lines pinning MODULE@VERSION's staging modules to their published v0.Y.Z twins."""
    log_free = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"], cwd=work, env=env,
                              capture_output=True, text=True, check=False)
    if log_free.returncode != 0:
        run(go, "mod", "download", f"{module}@{version}")  # logs go's message, then raises
    gomod = Path(json.loads(log_free.stdout)["GoMod"]).read_text()
    twin = "v0." + version.lstrip("v").split(".", 1)[1]
    staged = re.findall(r"^\s*(\S+)\s+=>\s+\./staging/src/\S+\s*$", gomod, re.MULTILINE)
    if not staged:
        raise RuntimeError(f"{module}@{version}: no staging replace directives in its go.mod")
    return [f"\t{name} => {name} {twin}" for name in staged]


def build_one(program: Program, cfg: LabConfig, log) -> Path:
    """Build PROGRAM's commands at its pin into its cache directory; returns the directory."""
    out_dir = program.directory(cfg)
    work = out_dir / "module"
    work.mkdir(parents=True, exist_ok=True)
    go = go_binary()
    env = go_env(cfg, program.cgo)

    def run(*args: str) -> None:
        log.write(f"$ {' '.join(args)}\n")
        log.flush()
        proc = subprocess.run(list(args), cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}; see {log.name}")

    gomod = f"module hnlab.local/build/{program.name}\n\ngo 1.26\n\nrequire {program.module} {program.version}\n"
    (work / "go.mod").write_text(gomod)
    if program.staging_replaces:
        replaces = staging_replaces(go, program.module, program.version, work, env, run)
        (work / "go.mod").write_text(gomod + "\nreplace (\n" + "\n".join(replaces) + "\n)\n")
    # A build-tagged import keeps the command packages in the module graph for `go mod tidy`.
    imports = "".join(f"\t_ \"{c.package}\"\n" for c in program.commands)
    (work / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports})\n")
    run(go, "mod", "tidy")
    for command in program.commands:
        out = program.binary(cfg, command.name)
        tmp = out.with_suffix(".tmp")
        run(go, "build", "-trimpath", "-ldflags", " ".join(("-s", "-w", *program.ldflags)), "-o", str(tmp),
            command.package)
        os.replace(tmp, out)
    program.stamp(cfg).write_text(program.version + "\n")
    return out_dir


def build(cfg: LabConfig, force: bool = False) -> None:
    todo = [p for p in programs(cfg) if force or not up_to_date(p, cfg)]
    if not todo:
        print(f"[go-build] up to date: {', '.join(str(p.directory(cfg)) for p in programs(cfg))}")
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
            packages = ", ".join(c.package for c in program.commands)
            print(f"[go-build] {program.module}@{program.version} ({packages}); log {log_path}", flush=True)
            try:
                directory = build_one(program, cfg, log)
            except Exception:
                log.flush()
                if os.environ.get("CI"):
                    print("---- last lines of the build log ----")
                    print("".join(log_path.read_text().splitlines(True)[-40:]))
                raise
            versions = "; ".join(
                f"{c.name}: {version_of(program.binary(cfg, c.name), c.version_args) if c.version_args else 'built'}"
                for c in program.commands)
            print(f"[go-build] {directory}: {versions} ({time.monotonic() - t0:.0f}s)", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the binaries are up to date")
    args = parser.parse_args(argv)
    build(load(), force=args.force)


if __name__ == "__main__":
    main()
