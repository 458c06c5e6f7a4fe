"""Artifact mirror: nodeadm releases published the way hybrid-assets does.

Layout under ``cfg.state_dir / "mirror"`` (served as the URL root), mirroring
``https://hybrid-assets.eks.amazonaws.com``::

    manifest.yaml                                  Kubernetes versions (upstream shape)
    releases/<v>/GIT_VERSION
    releases/<v>/ATTRIBUTION.txt
    releases/<v>/bin/linux/<arch>/nodeadm          the stand-in, version stamped in
    releases/<v>/bin/linux/<arch>/nodeadm.sha256
    releases/<v>/bin/linux/<arch>/nodeadm.sha512
    releases/<v>/bin/linux/<arch>/nodeadm.gz (+ .sha256, .sha512)
    releases/<real>/bin/linux/amd64/nodeadm        the REAL nodeadm at cfg.real_nodeadm_version (+ .sha256,
                                                   .sha512), once hnlab.gobuild built it

    palette/palette-agent-install.sh               the Palette agent installer STAND-IN
    palette/palette-agent-install.sh.sha256        (tests/lab/palette_standin/, not Spectro Cloud's)

for every version in ``cfg.nodeadm_versions`` plus ``latest`` (a copy of the
newest one). Checksum files have the format upstream's release script
produces with ``sha256sum _bin/<arch>/nodeadm > nodeadm.sha256``, i.e.
``"<hex>  _bin/<arch>/nodeadm\\n"``: the file name in the second field is the
build path, not ``nodeadm``. A consumer must therefore take the FIRST
whitespace-separated token as the digest and ignore the rest (a bare hex
digest, as some mirrors publish, parses the same way).

The server is a threaded ``http.server`` run as its own process. In the lab it
listens at ``cfg.mirror_ip:cfg.mirror_port`` inside the network namespace
``cfg.netns_mirror``; tests pass ``host="127.0.0.1", netns=None``. Every
request is appended to a JSON-lines log that :func:`request_counts` reads and
:func:`reset_request_counts` truncates.

Fault injection: :func:`set_fault` with ``"checksum-mismatch"`` rewrites the
published ``.sha256``/``.sha512`` of one version/arch so they no longer match
the binary; ``None`` restores them.

CLI (used by :func:`start`): ``python -m hnlab.mirror serve --root DIR --host H
--port P --log FILE [--ready FILE] [--fd N]``.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from hnlab.config import LabConfig

LAB_DIR = Path(__file__).resolve().parents[1]  # tests/lab
STANDIN_SOURCE = LAB_DIR / "nodeadm_standin" / "nodeadm.py"
PALETTE_STANDIN_SOURCE = LAB_DIR / "palette_standin" / "palette-agent-install.sh"
PALETTE_INSTALLER_URL_PATH = "/palette/palette-agent-install.sh"
ARCHES = ("amd64", "arm64")
# The registry path (/v2/) of the mirror: the sandbox image (hnlab.pause) under this directory of the tree.
REGISTRY_DIR = "registry"
REGISTRY_PATH = re.compile(r"^/v2/(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*)/manifests/(?P<ref>[A-Za-z0-9_.:-]+)$")
REGISTRY_BLOB = re.compile(r"^/v2/[a-z0-9]+(?:[._/-][a-z0-9]+)*/blobs/sha256:[0-9a-f]{64}$")
FAULTS = ("checksum-mismatch",)
# Placeholders in the stand-in source replaced when publishing.
VERSION_MARK = 'VERSION = "v0.0.0-dev"'
ARCH_MARK = 'ARCH = "noarch"'
RELEASE_DATE = "2025-05-01"


# --------------------------------------------------------------------- paths
def mirror_root(cfg: LabConfig) -> Path:
    return cfg.state_dir / "mirror"


def _run_dir(cfg: LabConfig) -> Path:
    return cfg.state_dir / "run"


def pid_file(cfg: LabConfig) -> Path:
    return _run_dir(cfg) / "mirror.pid"


def request_log(cfg: LabConfig) -> Path:
    return _run_dir(cfg) / "mirror-requests.jsonl"


def _meta_file(cfg: LabConfig) -> Path:
    return _run_dir(cfg) / "mirror.json"


def _faults_file(cfg: LabConfig) -> Path:
    return _run_dir(cfg) / "mirror-faults.json"


def binary_path(cfg: LabConfig, version: str, arch: str) -> Path:
    return mirror_root(cfg) / "releases" / version / "bin" / "linux" / arch / "nodeadm"


def binary_url_path(version: str, arch: str) -> str:
    return f"/releases/{version}/bin/linux/{arch}/nodeadm"


def palette_installer_path(cfg: LabConfig) -> Path:
    return mirror_root(cfg) / PALETTE_INSTALLER_URL_PATH.lstrip("/")


# ----------------------------------------------------------------- checksums
def parse_checksum_file(text: str) -> str:
    """Digest from a checksum file: first token, lower-case ("<hex>  name" or "<hex>")."""
    tokens = text.split()
    if not tokens:
        raise ValueError("empty checksum file")
    digest = tokens[0].lower()
    if len(digest) not in (64, 128) or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a sha256/sha512 hex digest: {tokens[0]!r}")
    return digest


def _checksum_line(data: bytes, algo: str, build_name: str) -> str:
    return f"{hashlib.new(algo, data).hexdigest()}  {build_name}\n"


def _write_checksums(path: Path, build_name: str) -> None:
    data = path.read_bytes()
    for algo in ("sha256", "sha512"):
        Path(f"{path}.{algo}").write_text(_checksum_line(data, algo, build_name))


# ------------------------------------------------------------------ content
def _load_standin_module():
    spec = importlib.util.spec_from_file_location("hnlab_nodeadm_standin", STANDIN_SOURCE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def supported_kubernetes() -> dict:
    """{"1.31": "1.31.7", ...}: the stand-in's built-in list, the single source."""
    return dict(_load_standin_module().SUPPORTED_KUBERNETES)


def stamped_standin(version: str, arch: str) -> bytes:
    src = STANDIN_SOURCE.read_text()
    if VERSION_MARK not in src or ARCH_MARK not in src:
        raise RuntimeError(f"{STANDIN_SOURCE} lacks the version/arch placeholders")
    src = src.replace(VERSION_MARK, f'VERSION = "{version}"', 1)
    src = src.replace(ARCH_MARK, f'ARCH = "{arch}"', 1)
    # The source carries no shebang (the collection's sanity tests allow only
    # "python", which a minimal Debian host lacks); the published binary does.
    return ("#!/usr/bin/env python3\n" + src).encode()


def _version_key(v: str) -> tuple:
    return tuple(int(p) for p in v.lstrip("v").split("."))


def manifest(cfg: LabConfig, base_url: str | None = None) -> dict:
    """The release manifest, in the shape of hybrid-assets' manifest.yaml."""
    base = (base_url or cfg.mirror_base_url).rstrip("/")
    releases = []
    for minor, full in sorted(supported_kubernetes().items(), key=lambda kv: _version_key(kv[0])):
        latest_patch = full.split(".")[2]
        patches = []
        for patch in range(max(0, int(latest_patch) - 1), int(latest_patch) + 1):
            ver = f"{minor}.{patch}"
            arts = []
            for arch in ARCHES:
                for name in ("kubelet", "kubectl"):
                    uri = f"{base}/artifacts/{ver}/{RELEASE_DATE}/bin/linux/{arch}/{name}"
                    arts.append({"arch": arch, "checksum_uri": uri + ".sha256", "name": name, "os": "linux", "uri": uri})
            patches.append({"artifacts": arts, "patch_version": str(patch), "release_date": RELEASE_DATE, "version": ver})
        releases.append({"latest_patch_version": latest_patch, "major_minor_version": minor, "patch_releases": patches})
    helper = []
    for arch, dirname in (("amd64", "X86_64"), ("arm64", "Aarch64")):
        uri = f"{base}/releases/1.4.0/{dirname}/Linux/aws_signing_helper"
        helper.append({"arch": arch, "checksum_uri": uri + ".sha256", "name": "aws_signing_helper", "os": "linux", "uri": uri})
    return {
        "supported_eks_releases": releases,
        "iam_roles_anywhere_releases": [{"version": "1.4.0", "artifacts": helper}],
        "ssm_releases": None,
        "region_config": {
            cfg.region: {"partition": "aws", "cred_providers": {"iam-ra": True, "ssm": True}, "ecr_account_id": "602401143452"}
        },
        "partition_config": {"aws": "amazonaws.com"},
    }


def publish(cfg: LabConfig, base_url: str | None = None) -> Path:
    """(Re)build the mirror tree; re-applies recorded faults. Returns the root."""
    root = mirror_root(cfg)
    root.mkdir(parents=True, exist_ok=True)
    versions = sorted(cfg.nodeadm_versions, key=_version_key, reverse=True)
    for version in versions + ["latest"]:
        real = versions[0] if version == "latest" else version
        rel = root / "releases" / version
        if rel.exists():
            shutil.rmtree(rel)
        for arch in ARCHES:
            d = rel / "bin" / "linux" / arch
            d.mkdir(parents=True)
            binary = d / "nodeadm"
            binary.write_bytes(stamped_standin(real, arch))
            binary.chmod(0o755)
            _write_checksums(binary, f"_bin/{arch}/nodeadm")
            gz = d / "nodeadm.gz"
            gz.write_bytes(gzip.compress(binary.read_bytes(), mtime=0))
            _write_checksums(gz, f"_bin/{arch}/nodeadm.gz")
        (rel / "GIT_VERSION").write_text(real + "\n")
        (rel / "ATTRIBUTION.txt").write_text("hybridnodes lab: nodeadm stand-in, not the real nodeadm\n")
    publish_real_nodeadm(cfg)
    publish_real_artifacts(cfg)
    publish_registry(cfg)
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest(cfg, base_url), sort_keys=False))
    for key, fault in _read_faults(cfg).items():
        version, arch = key.split("/")
        _apply_fault(cfg, version, arch, fault)
    publish_palette_standin(cfg)
    return root


def publish_real_nodeadm(cfg: LabConfig) -> Path | None:
    """Publish the real nodeadm (built by hnlab.gobuild, amd64 only) at its pinned version; None when not built."""
    if cfg.real_nodeadm_version in cfg.nodeadm_versions:
        raise ValueError(f"{cfg.real_nodeadm_version} is both a stand-in version and the real nodeadm's pin")
    built = cfg.real_nodeadm_binary
    if not built.exists():
        return None
    rel = mirror_root(cfg) / "releases" / cfg.real_nodeadm_version
    if rel.exists():
        shutil.rmtree(rel)
    d = rel / "bin" / "linux" / "amd64"
    d.mkdir(parents=True)
    binary = d / "nodeadm"
    shutil.copyfile(built, binary)
    binary.chmod(0o755)
    _write_checksums(binary, "_bin/amd64/nodeadm")
    (rel / "GIT_VERSION").write_text(cfg.real_nodeadm_version + "\n")
    (rel / "ATTRIBUTION.txt").write_text(f"hybridnodes lab: the real nodeadm {cfg.real_nodeadm_version}, built from "
                                         "the Go module github.com/aws/eks-hybrid (cmd/nodeadm)\n")
    return binary


# --------------------------------------------- the real nodeadm's artifacts
# What the real `nodeadm install` fetches, built from their Go modules by hnlab.gobuild, under real/ with a manifest of
# nodeadm's own schema (aws/eks-hybrid internal/aws/manifest.go; docs/lab-real-nodeadm.md): the five EKS artifacts of
# Kubernetes real_kubernetes_version and aws_signing_helper for IAM Roles Anywhere, amd64 only. The stand-in's
# manifest.yaml stays as it is. nodeadm reads an override manifest from file:// or https:// only (an http URL is taken
# for a path), so a host gets this one as a file; the artifact URIs in it are plain http to the mirror.
REAL_DIR = "real"


def real_manifest_path(cfg: LabConfig) -> Path:
    return mirror_root(cfg) / REAL_DIR / "manifest.yaml"


def _real_artifacts(cfg: LabConfig) -> dict:
    """{published name: built file} of the EKS artifacts, or {} when a build is missing."""
    from hnlab import gobuild

    kube = gobuild.program(cfg, "kubernetes")
    built = {"kubelet": kube.binary(cfg, "kubelet"), "kubectl": kube.binary(cfg, "kubectl"),
             "ecr-credential-provider": gobuild.program(cfg, "ecr-credential-provider").binary(cfg),
             "aws-iam-authenticator": gobuild.program(cfg, "aws-iam-authenticator").binary(cfg)}
    cni = gobuild.program(cfg, "cni-plugins")
    plugins = [cni.binary(cfg, c.name) for c in cni.commands]
    if not all(path.exists() for path in [*built.values(), *plugins]):
        return {}
    built["cni-plugins"] = _cni_tarball(cni.directory(cfg), plugins)
    return built


def _cni_tarball(directory: Path, plugins: list) -> Path:
    """The plugins as one flat .tgz (nodeadm unpacks it into /opt/cni/bin, files only), made once per build."""
    import tarfile

    tgz = directory / "cni-plugins-linux-amd64.tgz"
    if not tgz.exists() or any(p.stat().st_mtime > tgz.stat().st_mtime for p in plugins):
        tmp = tgz.with_suffix(".tmp")
        with tarfile.open(tmp, "w:gz") as tar:
            for path in plugins:
                info = tar.gettarinfo(str(path), arcname=path.name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with open(path, "rb") as f:
                    tar.addfile(info, f)
        os.replace(tmp, tgz)
    return tgz


def _publish_file(src: Path, dest: Path) -> None:
    """A link to the build (no copy of hundreds of MB per lab) and its GNU-format .sha256 ("<hex>  <name>")."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    dest.symlink_to(src)
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    Path(f"{dest}.sha256").write_text(f"{digest.hexdigest()}  {dest.name}\n")


def registry_root(cfg: LabConfig) -> Path:
    """What the registry path /v2/ serves: <repository>/manifests/<tag or digest>, blobs/<digest>."""
    return mirror_root(cfg) / REGISTRY_DIR


def publish_registry(cfg: LabConfig) -> str | None:
    """The sandbox image (hnlab.pause) in the registry path; its manifest digest, or None when gcc cannot build it."""
    from hnlab import pause

    try:
        return pause.publish(cfg, registry_root(cfg))
    except (OSError, subprocess.CalledProcessError):
        return None


def publish_real_artifacts(cfg: LabConfig) -> Path | None:
    """Publish the real artifacts and their manifest; returns the manifest, or None when a build is missing."""
    from hnlab import gobuild

    artifacts = _real_artifacts(cfg)
    helper = gobuild.program(cfg, "aws_signing_helper")
    if not artifacts or not helper.binary(cfg).exists():
        return None
    root = mirror_root(cfg) / REAL_DIR
    if root.exists():
        shutil.rmtree(root)
    version = cfg.real_kubernetes_version.lstrip("v")
    minor, patch = version.rsplit(".", 1)
    entries = []
    for name, src in artifacts.items():
        rel = f"{REAL_DIR}/artifacts/{version}/{RELEASE_DATE}/bin/linux/amd64/{src.name if name == 'cni-plugins' else name}"
        _publish_file(src, mirror_root(cfg) / rel)
        uri = f"{cfg.mirror_base_url}/{rel}"
        entries.append({"name": name, "arch": "amd64", "os": "linux", "uri": uri, "checksum_uri": uri + ".sha256"})
    helper_version = cfg.real_signing_helper_version.lstrip("v")
    rel = f"{REAL_DIR}/releases/{helper_version}/X86_64/Linux/aws_signing_helper"
    _publish_file(helper.binary(cfg), mirror_root(cfg) / rel)
    helper_uri = f"{cfg.mirror_base_url}/{rel}"
    doc = {
        "supported_eks_releases": [{
            "major_minor_version": minor, "latest_patch_version": patch,
            "patch_releases": [{"version": version, "patch_version": patch, "release_date": RELEASE_DATE,
                                "artifacts": entries}],
        }],
        "iam_roles_anywhere_releases": [{"version": helper_version, "artifacts": [
            {"name": "aws_signing_helper", "arch": "amd64", "os": "linux", "uri": helper_uri,
             "checksum_uri": helper_uri + ".sha256"}]}],
        "ssm_releases": None,
        "region_config": {cfg.region: {"partition": "aws", "dns_suffix": "amazonaws.com",
                                       "ecr_account_id": "602401143452", "cred_providers": {"iam-ra": True, "ssm": True}}},
    }
    path = real_manifest_path(cfg)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def publish_palette_standin(cfg: LabConfig) -> str:
    """Put the Palette agent installer stand-in (and its .sha256) into the mirror; returns its sha256."""
    dest = palette_installer_path(cfg)
    dest.parent.mkdir(parents=True, exist_ok=True)
    data = PALETTE_STANDIN_SOURCE.read_bytes()
    dest.write_bytes(data)
    dest.chmod(0o644)
    Path(f"{dest}.sha256").write_text(_checksum_line(data, "sha256", dest.name))
    return hashlib.sha256(data).hexdigest()


def unpublish_palette_standin(cfg: LabConfig) -> None:
    """Take the Palette agent installer stand-in out of the mirror again."""
    shutil.rmtree(palette_installer_path(cfg).parent, ignore_errors=True)


# ------------------------------------------------- files the hosts need
def standin_host_files(cfg: LabConfig, node_token: str | None = None) -> dict:
    """{host path: (content, mode)} the edge-host provisioning installs for the stand-in.

    /etc/hnlab/endpoints.json (AWS emulator and manifest URLs as seen from the
    edge LAN after the VPN route) and, when given (hnlab.k8s.node_token(cfg)),
    /etc/hnlab/node-token.
    """
    files = {"/etc/hnlab/endpoints.json": (json.dumps({
        "aws": f"http://{cfg.eks_endpoint_ip}:{cfg.aws_endpoint_port}",
        "manifest_url": f"{cfg.mirror_base_url}/manifest.yaml",
        "heartbeat_seconds": 10,
    }, indent=2) + "\n", 0o644)}
    if node_token:
        files["/etc/hnlab/node-token"] = (node_token + "\n", 0o600)
    return files


# ------------------------------------------------------------------- faults
def _read_faults(cfg: LabConfig) -> dict:
    try:
        return json.loads(_faults_file(cfg).read_text())
    except FileNotFoundError:
        return {}


def _apply_fault(cfg: LabConfig, version: str, arch: str, fault: str | None) -> None:
    binary = binary_path(cfg, version, arch)
    if not binary.exists():
        raise FileNotFoundError(f"no published nodeadm {version}/{arch} at {binary}")
    if fault is None:
        _write_checksums(binary, f"_bin/{arch}/nodeadm")
        return
    # Checksums of different bytes: well-formed files that do not match.
    wrong = binary.read_bytes() + b"\n# tampered\n"
    for algo in ("sha256", "sha512"):
        Path(f"{binary}.{algo}").write_text(_checksum_line(wrong, algo, f"_bin/{arch}/nodeadm"))


def set_fault(cfg: LabConfig, version: str, arch: str, fault: str | None) -> None:
    """Make the published checksums of nodeadm version/arch wrong, or restore them."""
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown mirror fault {fault!r}; known: {FAULTS}")
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}")
    _apply_fault(cfg, version, arch, fault)
    faults = _read_faults(cfg)
    key = f"{version}/{arch}"
    if fault is None:
        faults.pop(key, None)
    else:
        faults[key] = fault
    _run_dir(cfg).mkdir(parents=True, exist_ok=True)
    _faults_file(cfg).write_text(json.dumps(faults))


# ------------------------------------------------------------- request log
def request_counts(cfg: LabConfig, method: str | None = "GET") -> dict:
    """{path: count} of requests served since the last reset (method None: all)."""
    counts: collections.Counter = collections.Counter()
    try:
        lines = request_log(cfg).read_text().splitlines()
    except FileNotFoundError:
        return {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if method is None or entry.get("method") == method:
            counts[entry["path"]] += 1
    return dict(counts)


def reset_request_counts(cfg: LabConfig) -> None:
    log = request_log(cfg)
    if log.exists():
        with open(log, "r+") as fh:
            fh.truncate(0)


# ------------------------------------------------------------------- server
class _Handler(http.server.SimpleHTTPRequestHandler):
    log_path: str = ""
    _lock = threading.Lock()

    def log_request(self, code="-", size="-"):  # noqa: D401 - http.server hook
        entry = {
            "ts": round(time.time(), 3),
            "client": self.client_address[0],
            "method": self.command,
            "path": self.path.split("?", 1)[0],
            "status": int(code) if str(code).isdigit() else str(code),
        }
        line = json.dumps(entry) + "\n"
        with self._lock, open(self.log_path, "a") as fh:
            fh.write(line)

    def log_message(self, format, *args):  # keep stderr quiet; errors still logged via log_request
        pass

    # A read-only OCI distribution (registry v2) path over registry_root, for the sandbox image containerd pulls by
    # the ECR registry's name (the lab's TLS front forwards that name here): /v2/ answers the API version check,
    # manifests and blobs carry their media type and Docker-Content-Digest, as a registry sends them.
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?", 1)[0].startswith("/v2/"):
            return self._registry(body=True)
        return super().do_GET()

    def do_HEAD(self):  # noqa: N802 - http.server's name
        if self.path.split("?", 1)[0].startswith("/v2/"):
            return self._registry(body=False)
        return super().do_HEAD()

    def _registry(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        root = Path(self.directory) / REGISTRY_DIR
        match = REGISTRY_PATH.match(path)
        if path == "/v2/":
            data, media = b"{}", "application/json"
        elif match and ".." not in match["name"] and (root / match["name"] / "manifests" / match["ref"]).is_file():
            data = (root / match["name"] / "manifests" / match["ref"]).read_bytes()
            media = json.loads(data).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
        elif match is None and REGISTRY_BLOB.match(path) and (root / "blobs" / path.rsplit("/", 1)[1]).is_file():
            data, media = (root / "blobs" / path.rsplit("/", 1)[1]).read_bytes(), "application/octet-stream"
        else:
            data = json.dumps({"errors": [{"code": "NAME_UNKNOWN" if "/manifests/" in path else "BLOB_UNKNOWN",
                                           "message": "not in the lab registry"}]}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.end_headers()
            if body:
                self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(data).hexdigest())
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if body:
            self.wfile.write(data)


def serve(root: str, host: str, port: int, log_path: str, ready: str | None = None, fd: int | None = None) -> None:
    import functools
    import socket

    handler = functools.partial(_Handler, directory=root)
    _Handler.log_path = log_path
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(log_path).touch()
    if fd is not None:
        server = http.server.ThreadingHTTPServer((host, port), handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=fd)
    else:
        server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True

    def _term(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _term)
    if ready:
        Path(ready).write_text(str(os.getpid()))
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


# ---------------------------------------------------------------- lifecycle
def _pid_alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"hnlab.mirror" in cmdline


def _read_pid(cfg: LabConfig) -> int | None:
    try:
        return int(pid_file(cfg).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _listening_socket_in_netns(netns: str, host: str, port: int):
    """A listening socket inside netns via hnlab.netns, or None when unavailable."""
    try:
        from hnlab import netns as netns_mod  # written by the network engineer
    except ImportError:
        return None
    fn = getattr(netns_mod, "socket_in_netns", None)
    if fn is None:
        return None
    return fn(netns, host, port)


def start(cfg: LabConfig, host: str | None = None, port: int | None = None,
          netns: str | None = "default", timeout: float = 10.0) -> dict:
    """Publish the tree and start the server; idempotent. Returns status().

    host/port default to cfg.mirror_ip/cfg.mirror_port, netns to
    cfg.netns_mirror; tests pass host="127.0.0.1", netns=None.
    """
    host = cfg.mirror_ip if host is None else host
    port = cfg.mirror_port if port is None else port
    netns = cfg.netns_mirror if netns == "default" else netns
    st = status(cfg)
    if st["running"]:
        return st
    base_url = f"http://{host}:{port}"
    root = publish(cfg, base_url)
    run = _run_dir(cfg)
    run.mkdir(parents=True, exist_ok=True)
    ready = run / "mirror.ready"
    ready.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "hnlab.mirror", "serve", "--root", str(root), "--host", host,
           "--port", str(port), "--log", str(request_log(cfg)), "--ready", str(ready)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(LAB_DIR), os.environ.get("PYTHONPATH")])))
    pass_fds: tuple = ()
    sock = None
    if netns:
        sock = _listening_socket_in_netns(netns, host, port)
        if sock is not None:
            cmd += ["--fd", str(sock.fileno())]
            pass_fds = (sock.fileno(),)
        else:
            cmd = ["ip", "netns", "exec", netns] + cmd
    log = open(run / "mirror.log", "ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            pass_fds=pass_fds, start_new_session=True)
    log.close()
    if sock is not None:
        sock.close()
    pid_file(cfg).write_text(str(proc.pid))
    _meta_file(cfg).write_text(json.dumps({"host": host, "port": port, "netns": netns, "url": base_url}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return status(cfg)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop(cfg)
    raise RuntimeError(f"mirror did not start (see {run / 'mirror.log'})")


def stop(cfg: LabConfig, timeout: float = 5.0) -> None:
    pid = _read_pid(cfg)
    if pid is not None and _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    pid_file(cfg).unlink(missing_ok=True)
    (_run_dir(cfg) / "mirror.ready").unlink(missing_ok=True)


def status(cfg: LabConfig) -> dict:
    pid = _read_pid(cfg)
    running = pid is not None and _pid_alive(pid)
    try:
        meta = json.loads(_meta_file(cfg).read_text())
    except (FileNotFoundError, ValueError):
        meta = {}
    return {
        "component": "mirror",
        "running": running,
        "pid": pid if running else None,
        "url": meta.get("url", cfg.mirror_base_url),
        "netns": meta.get("netns"),
        "root": str(mirror_root(cfg)),
        "versions": list(cfg.nodeadm_versions) + ["latest"],
        "faults": _read_faults(cfg),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="hnlab.mirror")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--root", required=True)
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--ready")
    s.add_argument("--fd", type=int)
    args = p.parse_args(argv)
    serve(args.root, args.host, args.port, args.log, args.ready, args.fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
