"""playbooks/cilium.yml (role hybridnodes.eks.cilium, method manifest) against a real kube-apiserver (hnlab.k8s):
the manifest is applied and the CiliumNode CRD waited for, a re-run changes nothing, and a pod CIDR pool other
than the deployed one (or than the manifest's) is refused before anything is applied.

Starts its own API server (and etcd) on free loopback ports with a temporary state dir.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from hnlab import k8s
from hnlab.config import LabConfig, isolated
from hnlab.testing import REPO, play

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402

pytestmark = pytest.mark.lab

POOL = "10.201.0.0/16"


def _manifest(path: Path, pool: str, mask: str = "25") -> Path:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": "kube-system"},
              "data": {"ipam": "cluster-pool", "cluster-pool-ipv4-cidr": pool, "cluster-pool-ipv4-mask-size": mask}}
    path.write_text(yaml.safe_dump_all([k8s.CILIUMNODE_CRD, config]))
    return path


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    base = LabConfig()
    if not os.access(base.apiserver_binary, os.X_OK):
        pytest.skip(f"{base.apiserver_binary} not built: run `python tests/lab/k8s/build.py`")
    if not os.access(k8s.ETCD_BINARY, os.X_OK):
        pytest.skip(f"{k8s.ETCD_BINARY} missing: apt-get install etcd-server")
    cfg = isolated(tmp_path_factory.mktemp("k8s-state"), "apiserver_port", "etcd_client_port", "etcd_peer_port")
    k8s.start(cfg)
    try:
        yield cfg
    finally:
        k8s.stop(cfg)


def _run(cfg: LabConfig, manifest: Path, pool: str) -> tuple[int, str]:
    extra = {"cilium_method": "manifest", "cilium_manifest_path": str(manifest), "hybrid_remote_pod_cidrs": [pool],
             "hybrid_kubeconfig": str(cfg.kubeconfig), "cilium_crd_wait_timeout": 30}
    return play("localhost,", REPO / "playbooks" / "cilium.yml", "-e", json.dumps(extra), timeout=300, fake_aws=False)


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), (int(g) for g in match.groups())))


def _deployed_pool(cfg: LabConfig) -> str:
    with k8s.api_client(cfg) as api:
        return client.CoreV1Api(api).read_namespaced_config_map("cilium-config", "kube-system").data["cluster-pool-ipv4-cidr"]


def test_apply_rerun_and_refusals(apiserver, tmp_path):
    manifest = _manifest(tmp_path / "cilium.yaml", POOL)
    code, output = _run(apiserver, manifest, POOL)
    assert code == 0, output
    assert _recap(output)["changed"] == 1, output  # the one apply of the manifest
    with k8s.api_client(apiserver) as api:
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("ciliumnodes.cilium.io")
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    assert _deployed_pool(apiserver) == POOL

    code, output = _run(apiserver, manifest, POOL)
    assert code == 0, output
    assert _recap(output)["changed"] == 0, output

    # Another pool than the deployed one: refused, even with a manifest that agrees with it.
    other = _manifest(tmp_path / "other.yaml", "10.202.0.0/16")
    code, output = _run(apiserver, other, "10.202.0.0/16")
    assert code != 0, output
    assert "uses cluster-pool-ipv4-cidr 10.201.0.0/16 with mask size 25" in output, output
    assert "cannot be changed after deployment" in output
    assert _deployed_pool(apiserver) == POOL

    # A manifest whose cilium-config disagrees with the wanted pool: refused before it is applied.
    code, output = _run(apiserver, other, POOL)
    assert code != 0, output
    assert "sets cluster-pool-ipv4-cidr 10.202.0.0/16" in output and "clusterPoolIPv4PodCIDRList=10.201.0.0/16" in output
    assert _deployed_pool(apiserver) == POOL


def test_a_manifest_whose_workloads_leave_the_hybrid_nodes_is_refused(apiserver, tmp_path):
    from hnlab import cilium_manifest

    docs = cilium_manifest.build([POOL], 25)
    for doc in docs:
        if doc["kind"] == "Deployment":
            del doc["spec"]["template"]["spec"]["affinity"]  # rendered without operator.affinity
    manifest = tmp_path / "unpinned.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    code, output = _run(apiserver, manifest, POOL)
    assert code != 0, output
    assert "Deployment cilium-operator would run outside the hybrid nodes" in output, output
    assert "DaemonSet cilium" not in output, output
    with k8s.api_client(apiserver) as api:
        names = [d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment("kube-system").items]
    assert "cilium-operator" not in names
