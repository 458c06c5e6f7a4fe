"""playbooks/routes.yml against its own AWS emulator and kube-apiserver: the AWS routes are made on the first
run and not touched on the second (labapi counts), and the pod CIDR table of the hybrid nodes is printed.

The inventory holds the controller only (no edge host), so the edge routes play has no host to run on.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from hnlab import aws, k8s
from hnlab.aws.clients import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from hnlab.aws.labapi import LabApi
from hnlab.config import LabConfig, isolated
from hnlab.testing import REPO, play

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = LabConfig()
    if not os.access(base.apiserver_binary, os.X_OK) or not os.access(k8s.ETCD_BINARY, os.X_OK):
        pytest.skip("kube-apiserver or etcd missing")
    cfg = isolated(tmp_path_factory.mktemp("state"), "moto_port", "apiserver_port", "etcd_client_port", "etcd_peer_port")
    aws.start(cfg)
    try:
        ids = aws.seed(cfg, None, "https://10.100.0.20")
        k8s.start(cfg)
        try:
            k8s.create_ciliumnode_crd(cfg)
            with k8s.api_client(cfg) as api:
                core = client.CoreV1Api(api)
                for index in range(2):
                    name = f"edge{index + 1:02d}"
                    core.create_node({"metadata": {"name": name, "labels": {"eks.amazonaws.com/compute-type": "hybrid"}}})
                    core.patch_node_status(name, {"status": {"addresses": [
                        {"type": "InternalIP", "address": f"10.200.0.{11 + index}"}]}})
                    client.CustomObjectsApi(api).create_cluster_custom_object("cilium.io", "v2", "ciliumnodes", {
                        "apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": {"name": name},
                        "spec": {"ipam": {"podCIDRs": [f"10.201.0.{128 * index}/25"]}}})
            yield cfg, ids
        finally:
            k8s.stop(cfg)
    finally:
        aws.stop(cfg)


def _run(cfg: LabConfig, ids: dict, tmp_path: Path) -> tuple[int, str]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"localhost": {"ansible_connection": "local"}},
        "children": {"hybrid_nodes": {"hosts": {}}},
        "vars": {"hybrid_region": cfg.region, "hybrid_aws_endpoint_url": cfg.moto_endpoint,
                 "hybrid_remote_node_cidrs": ["10.200.0.0/24"], "hybrid_remote_pod_cidrs": ["10.201.0.0/16"],
                 "hybrid_route_table_ids": ids["route_table_ids"], "hybrid_vpn_gateway_id": ids["vpn_gateway_id"],
                 "hybrid_vpn_connection_id": ids["vpn_connection_id"], "hybrid_kubeconfig": str(cfg.kubeconfig)}}}))
    # The fake keys alone, as this test always ran (no AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE override).
    return play(inventory, REPO / "playbooks" / "routes.yml", timeout=300, fake_aws=False,
                env={"AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY})


def _changed(output: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_routes_playbook(site, tmp_path):
    cfg, ids = site
    api = LabApi(cfg.moto_endpoint, cfg.region)
    tables = len(ids["route_table_ids"])

    api.reset()
    code, output = _run(cfg, ids, tmp_path)
    assert code == 0, output
    assert _changed(output) == 2, output
    assert api.writes() == {("ec2", "CreateRoute"): 2 * tables, ("ec2", "CreateVpnConnectionRoute"): 2}
    assert "| 10.201.0.0/25   | 10.200.0.11 |" in output and "| 10.201.0.128/25 | 10.200.0.12 |" in output, output

    api.reset()
    code, output = _run(cfg, ids, tmp_path)
    assert code == 0, output
    assert _changed(output) == 0, output
    assert api.writes() == {}, api.requests()
