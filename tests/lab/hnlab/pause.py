"""The sandbox ("pause") image the real nodeadm init pulls, built from Kubernetes' own source, served as ECR would.

nodeadm init's containerd post-launch step always pulls `<ecr account>.dkr.ecr.<region>.amazonaws.com/eks/pause:3.5`
through CRI, fatally (aws/eks-hybrid v1.0.19 internal/aws/ecr/ecr.go GetSandboxImage, internal/containerd/sandbox.go).
ECR's content cannot be fetched here, so the lab builds the same program: Kubernetes' pause (build/pause/linux/pause.c
of the pinned k8s.io/kubernetes module, from the Go module cache the kubelet build filled), compiled as upstream's
build/pause/Makefile compiles it (gcc -Os -Wall -Werror -static), and packs it as upstream's build/pause/Dockerfile
does (/pause, ENTRYPOINT ["/pause"], USER 65535:65535), as an OCI image: a STAND-IN for the ECR image's content,
named so, with the real program inside.

The mirror serves it through a read-only registry v2 path (hnlab.mirror, /v2/...), which the lab's TLS front answers
for the ECR registry's real host name (hnlab.awstls, hnlab.nsforward); containerd pulls it unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

from .config import LabConfig

REPOSITORY = "eks/pause"
TAG = "3.5"  # what nodeadm v1.0.19 asks for (internal/aws/ecr/ecr.go)
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def build_dir(cfg: LabConfig) -> Path:
    return cfg.go_builds_dir / f"pause-{cfg.real_kubernetes_version}"


def binary(cfg: LabConfig) -> Path:
    return build_dir(cfg) / "pause"


def _source(cfg: LabConfig) -> Path:
    from .gobuild import go_binary, go_env

    out = subprocess.run([go_binary(), "mod", "download", "-json", f"k8s.io/kubernetes@{cfg.real_kubernetes_version}"],
                         env=go_env(cfg), capture_output=True, text=True, check=True, cwd=str(cfg.cache_dir))
    return Path(json.loads(out.stdout)["Dir"]) / "build" / "pause" / "linux" / "pause.c"


def build(cfg: LabConfig) -> Path:
    """The pause binary of the pinned release (built once; the pin is in its path)."""
    stamp = build_dir(cfg) / ".built"
    if binary(cfg).exists() and stamp.exists() and stamp.read_text().strip() == cfg.real_kubernetes_version:
        return binary(cfg)
    build_dir(cfg).mkdir(parents=True, exist_ok=True)
    tmp = binary(cfg).with_suffix(".tmp")
    subprocess.run(["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION={cfg.real_kubernetes_version}-hnlab",
                    "-o", str(tmp), str(_source(cfg))], check=True, capture_output=True)
    tmp.replace(binary(cfg))
    stamp.write_text(cfg.real_kubernetes_version + "\n")
    return binary(cfg)


def _layer(program: bytes) -> tuple[bytes, bytes]:
    """(gzip, tar) of the one layer: /pause, 0755, reproducible (no times, no owner names)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("pause")
        info.size, info.mode, info.mtime = len(program), 0o755, 0
        tar.addfile(info, io.BytesIO(program))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue(), raw.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(cfg: LabConfig) -> dict:
    """{"manifest": bytes, "blobs": {digest: bytes}} of the image, from the built binary."""
    layer, tar = _layer(build(cfg).read_bytes())
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [_digest(tar)]},
        "history": [{"created_by": "hnlab.pause: Kubernetes build/pause/linux/pause.c"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": _digest(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    return {"manifest": manifest, "blobs": {_digest(config): config, _digest(layer): layer}}


def publish(cfg: LabConfig, registry_root: Path) -> str:
    """Write the image into REGISTRY_ROOT as the mirror's registry path serves it; returns the manifest digest."""
    built = image(cfg)
    manifests = registry_root / REPOSITORY / "manifests"
    blobs = registry_root / "blobs"
    manifests.mkdir(parents=True, exist_ok=True)
    blobs.mkdir(parents=True, exist_ok=True)
    digest = _digest(built["manifest"])
    for name in (TAG, digest):
        (manifests / name).write_bytes(built["manifest"])
    for blob_digest, data in built["blobs"].items():
        (blobs / blob_digest).write_bytes(data)
    return digest
