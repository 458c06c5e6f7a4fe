"""Lab Kubernetes API server (hnlab.k8s): start, use as the lab's clients do, stop.

Needs the binary from tests/lab/k8s/build.py and Debian's etcd; skipped otherwise.
Runs beside a lab that is up: its own temporary state_dir and free loopback
ports instead of the lab's fixed ones (LabConfig is frozen: dataclasses.replace).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from hnlab import k8s
from hnlab.config import LabConfig, isolated

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

pytestmark = pytest.mark.lab

BASE = LabConfig()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ports(cfg: LabConfig) -> tuple[int, ...]:
    return (cfg.etcd_client_port, cfg.etcd_peer_port, cfg.apiserver_port, cfg.authn_port)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not os.access(BASE.apiserver_binary, os.X_OK):
        pytest.skip(f"{BASE.apiserver_binary} not built: run `python tests/lab/k8s/build.py`")
    if not os.access(k8s.ETCD_BINARY, os.X_OK):
        pytest.skip(f"{k8s.ETCD_BINARY} missing: apt-get install etcd-server")
    cfg = isolated(tmp_path_factory.mktemp("k8s-state"), "apiserver_port", "etcd_client_port", "etcd_peer_port")
    assert len(set(_ports(cfg))) == 4
    k8s.start(cfg)
    yield cfg
    k8s.stop(cfg)


def test_ready_and_files_private(lab):
    st = k8s.status(lab)
    assert st["running"] and st["readyz"], st
    for path in (lab.kubeconfig, k8s.k8s_dir(lab) / "tokens.csv", k8s.k8s_dir(lab) / "pki" / "ca.key",
                 k8s.k8s_dir(lab) / "pki" / "sa.key", k8s.k8s_dir(lab) / "pki" / "apiserver.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert k8s.admin_token(lab) != k8s.node_token(lab)


def test_serving_cert_sans(lab):
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((k8s.k8s_dir(lab) / "pki" / "apiserver.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", lab.eks_endpoint_ip} <= ips
    assert {"kubernetes", "kubernetes.default", "kubernetes.default.svc"} <= set(
        sans.get_values_for_type(x509.DNSName)
    )


def test_custom_resource_write(lab):
    """The write that segfaults a binary built without the vendor fix."""
    k8s.create_ciliumnode_crd(lab)
    body = {"apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": {"name": "crd-probe"},
            "spec": {"ipam": {"podCIDRs": ["192.168.0.0/25"]}}}
    with k8s.api_client(lab) as api:
        co = client.CustomObjectsApi(api)
        co.create_cluster_custom_object("cilium.io", "v2", "ciliumnodes", body)
        got = co.get_cluster_custom_object("cilium.io", "v2", "ciliumnodes", "crd-probe")
    assert got["spec"]["ipam"]["podCIDRs"] == ["192.168.0.0/25"]
    assert k8s.status(lab)["running"]


def test_node_token_registers_node(lab):
    k8s.create_ciliumnode_crd(lab)
    with k8s.api_client(lab, token=k8s.node_token(lab)) as api:
        core = client.CoreV1Api(api)
        core.create_node({"metadata": {"name": "edge01", "labels": {"eks.amazonaws.com/compute-type": "hybrid"}}})
        core.patch_node_status("edge01", {"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "lab"}]}})
        assert core.read_node("edge01").status.conditions[0].type == "Ready"
        co = client.CustomObjectsApi(api)
        co.create_cluster_custom_object("cilium.io", "v2", "ciliumnodes", {
            "apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": {"name": "edge01"}})
        names = [i["metadata"]["name"] for i in co.list_cluster_custom_object("cilium.io", "v2", "ciliumnodes")["items"]]
        assert "edge01" in names
        with pytest.raises(ApiException) as denied:
            core.list_namespaced_secret("kube-system")
        assert denied.value.status == 403


def test_kubeconfig_access(lab):
    with config.new_client_from_config(config_file=str(lab.kubeconfig)) as api:
        namespaces = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    assert "default" in namespaces and "kube-system" in namespaces


def test_kubectl_get_nodes(lab):
    if not os.access(lab.kubectl_binary, os.X_OK):
        pytest.skip(f"{lab.kubectl_binary} not built")
    with k8s.api_client(lab) as api:
        client.CoreV1Api(api).create_node({"metadata": {"name": "kubectl-probe"}})
    out = subprocess.run([str(lab.kubectl_binary), "--kubeconfig", str(lab.kubeconfig), "get", "nodes", "-o", "name"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert "node/kubectl-probe" in out.split()


def test_control_plane_is_the_pinned_release(lab):
    """The API server is the real release of the pin, not Debian's 1.20: /version reports exactly the pin."""
    with k8s.api_client(lab) as api:
        info = client.VersionApi(api).get_code()
    assert info.git_version == lab.real_kubernetes_version
    assert f"{info.major}.{info.minor}" == lab.cluster_kubernetes_version


def test_stop_leaves_nothing(lab):
    pids = k8s.status(lab)["pids"]
    assert all(pids.values()), pids
    k8s.stop(lab)
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} still present"
    assert not any(_port_open(p) for p in _ports(lab))
    st = k8s.status(lab)
    assert not st["running"] and not st["readyz"]
    k8s.stop(lab)  # idempotent
