"""Artifact mirror (hnlab.mirror): layout, checksums, faults, request counts.

Runs the real server process on 127.0.0.1 (no network namespace) with a
temporary state_dir.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from hnlab import mirror
from hnlab.config import isolated


@pytest.fixture()
def cfg(tmp_path):
    return isolated(tmp_path / "state", "mirror_port")


@pytest.fixture()
def server(cfg):
    st = mirror.start(cfg, host="127.0.0.1", netns=None)
    try:
        yield cfg, st
    finally:
        mirror.stop(cfg)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def test_layout_matches_hybrid_assets(cfg):
    root = mirror.publish(cfg)
    for version in list(cfg.nodeadm_versions) + ["latest"]:
        rel = root / "releases" / version
        assert (rel / "GIT_VERSION").is_file()
        for arch in ("amd64", "arm64"):
            d = rel / "bin" / "linux" / arch
            names = sorted(p.name for p in d.iterdir())
            assert names == ["nodeadm", "nodeadm.gz", "nodeadm.gz.sha256", "nodeadm.gz.sha512",
                             "nodeadm.sha256", "nodeadm.sha512"]
            assert (d / "nodeadm").stat().st_mode & 0o111
    newest = max(cfg.nodeadm_versions, key=lambda v: tuple(map(int, v[1:].split("."))))
    assert (root / "releases" / "latest" / "GIT_VERSION").read_text().strip() == newest


def test_checksums_are_valid_and_in_sha256sum_format(cfg):
    root = mirror.publish(cfg)
    for version in cfg.nodeadm_versions:
        for arch in ("amd64", "arm64"):
            binary = root / "releases" / version / "bin" / "linux" / arch / "nodeadm"
            data = binary.read_bytes()
            line = Path(f"{binary}.sha256").read_text()
            # As upstream's release script writes it: "<hex>  _bin/<arch>/nodeadm"
            assert line == f"{hashlib.sha256(data).hexdigest()}  _bin/{arch}/nodeadm\n"
            assert mirror.parse_checksum_file(Path(f"{binary}.sha512").read_text()) == hashlib.sha512(data).hexdigest()
            gz = binary.with_name("nodeadm.gz")
            assert gzip.decompress(gz.read_bytes()) == data
            assert mirror.parse_checksum_file(Path(f"{gz}.sha256").read_text()) == hashlib.sha256(gz.read_bytes()).hexdigest()


def test_parse_checksum_file_accepts_both_shapes():
    hexd = "ab" * 32
    assert mirror.parse_checksum_file(f"{hexd}  _bin/amd64/nodeadm\n") == hexd
    assert mirror.parse_checksum_file(hexd.upper() + "\n") == hexd
    with pytest.raises(ValueError):
        mirror.parse_checksum_file("")
    with pytest.raises(ValueError):
        mirror.parse_checksum_file("not-a-digest  nodeadm")


def test_published_binary_is_the_stamped_standin(cfg):
    root = mirror.publish(cfg)
    binary = root / "releases" / cfg.nodeadm_versions[1] / "bin" / "linux" / "arm64" / "nodeadm"
    out = subprocess.run([sys.executable, str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0
    assert out.stdout.strip() == f"Version: {cfg.nodeadm_versions[1]}"
    assert 'ARCH = "arm64"' in binary.read_text()


def test_manifest_has_upstream_shape(cfg):
    root = mirror.publish(cfg)
    man = yaml.safe_load((root / "manifest.yaml").read_text())
    minors = [r["major_minor_version"] for r in man["supported_eks_releases"]]
    assert minors == ["1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]
    rel = man["supported_eks_releases"][3]
    latest = f"{rel['major_minor_version']}.{rel['latest_patch_version']}"
    assert latest in [p["version"] for p in rel["patch_releases"]]
    art = rel["patch_releases"][0]["artifacts"][0]
    assert set(art) == {"arch", "checksum_uri", "name", "os", "uri"}
    assert man["region_config"][cfg.region]["cred_providers"] == {"iam-ra": True, "ssm": True}


def test_fault_breaks_checksum_and_restore_fixes_it(cfg):
    root = mirror.publish(cfg)
    v, arch = cfg.nodeadm_versions[0], "amd64"
    binary = root / "releases" / v / "bin" / "linux" / arch / "nodeadm"
    good = hashlib.sha256(binary.read_bytes()).hexdigest()
    mirror.set_fault(cfg, v, arch, "checksum-mismatch")
    broken = mirror.parse_checksum_file(Path(f"{binary}.sha256").read_text())
    assert broken != good and len(broken) == 64
    # other arch untouched
    other = binary.parent.parent / "arm64" / "nodeadm"
    assert mirror.parse_checksum_file(Path(f"{other}.sha256").read_text()) == hashlib.sha256(other.read_bytes()).hexdigest()
    # a re-publish keeps the fault
    mirror.publish(cfg)
    assert mirror.parse_checksum_file(Path(f"{binary}.sha256").read_text()) != good
    assert mirror.status(cfg)["faults"] == {f"{v}/{arch}": "checksum-mismatch"}
    mirror.set_fault(cfg, v, arch, None)
    assert mirror.parse_checksum_file(Path(f"{binary}.sha256").read_text()) == good
    assert mirror.status(cfg)["faults"] == {}
    with pytest.raises(ValueError):
        mirror.set_fault(cfg, v, arch, "bogus")


def test_server_serves_tree_and_counts_requests(server):
    cfg, st = server
    assert st["running"] and st["pid"]
    base = f"http://127.0.0.1:{cfg.mirror_port}"
    path = mirror.binary_url_path(cfg.nodeadm_versions[0], "amd64")
    body = _get(base + path)
    digest = mirror.parse_checksum_file(_get(base + path + ".sha256").decode())
    assert hashlib.sha256(body).hexdigest() == digest
    _get(base + path)
    with pytest.raises(urllib.error.HTTPError) as exc:
        _get(base + "/releases/v9.9.9/bin/linux/amd64/nodeadm")
    assert exc.value.code == 404
    counts = mirror.request_counts(cfg)
    assert counts[path] == 2
    assert counts[path + ".sha256"] == 1
    assert counts["/releases/v9.9.9/bin/linux/amd64/nodeadm"] == 1
    mirror.reset_request_counts(cfg)
    assert mirror.request_counts(cfg) == {}
    _get(base + "/manifest.yaml")
    assert mirror.request_counts(cfg) == {"/manifest.yaml": 1}


def test_fault_visible_over_http_while_running(server):
    cfg, _unused = server
    base = f"http://127.0.0.1:{cfg.mirror_port}"
    path = mirror.binary_url_path("latest", "arm64")
    mirror.set_fault(cfg, "latest", "arm64", "checksum-mismatch")
    body = _get(base + path)
    assert hashlib.sha256(body).hexdigest() != mirror.parse_checksum_file(_get(base + path + ".sha256").decode())
    mirror.set_fault(cfg, "latest", "arm64", None)
    assert hashlib.sha256(body).hexdigest() == mirror.parse_checksum_file(_get(base + path + ".sha256").decode())


def test_start_is_idempotent_and_stop_ends_the_process(cfg):
    first = mirror.start(cfg, host="127.0.0.1", netns=None)
    try:
        again = mirror.start(cfg, host="127.0.0.1", netns=None)
        assert again["pid"] == first["pid"]
    finally:
        mirror.stop(cfg)
    assert not Path(f"/proc/{first['pid']}").exists() or not mirror.status(cfg)["running"]
    assert mirror.status(cfg)["running"] is False
    mirror.stop(cfg)  # idempotent


def test_listening_socket_handed_to_server_process(cfg, monkeypatch):
    """The netns path: start() creates the socket (hnlab.netns.socket_in_netns) and passes its fd."""
    made = []

    def fake_socket_in_netns(netns, host, port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
        made.append((netns, host, port))
        return s

    monkeypatch.setattr(mirror, "_listening_socket_in_netns", fake_socket_in_netns)
    st = mirror.start(cfg, host="127.0.0.1", netns="hnl-mirror-test")
    try:
        assert made == [("hnl-mirror-test", "127.0.0.1", cfg.mirror_port)]
        assert st["netns"] == "hnl-mirror-test" and st["running"]
        assert b"supported_eks_releases" in _get(f"http://127.0.0.1:{cfg.mirror_port}/manifest.yaml")
        assert mirror.request_counts(cfg) == {"/manifest.yaml": 1}
    finally:
        mirror.stop(cfg)
