"""cilium_pod_routes_info run by ansible-playbook against a real kube-apiserver (hnlab.k8s) holding the
CiliumNode CRD, Nodes and CiliumNodes; page_size smaller than the node count so that a run only sees
every node by following the continue tokens.

Starts its own API server (and etcd) on free loopback ports with a temporary state dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hnlab import k8s
from hnlab.config import LabConfig, isolated
from hnlab.testing import LOCAL, play

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402

pytestmark = pytest.mark.lab

NODES = 5

PLAYBOOK = """
- name: Pod routes of the hybrid nodes
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the routes
      hybridnodes.eks.cilium_pod_routes_info:
        kubeconfig: {kubeconfig}
        remote_pod_cidrs: ["10.201.0.0/16"]
        page_size: 2
        next_hop: "{{{{ next_hop | default('internal_ip') }}}}"
        label_selector: "{{{{ selector | default(omit) }}}}"
        fail_on_problems: "{{{{ strict | default(true) }}}}"
      register: pod_routes

    - name: Write what the module returned, and the table
      ansible.builtin.copy:
        content: "{{{{ pod_routes | combine({{'table': pod_routes.routes | hybridnodes.eks.route_table_export}}) | to_json }}}}"
        dest: {out}
        mode: "0600"
      changed_when: false  # a test report
"""


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
        k8s.create_ciliumnode_crd(cfg)
        with k8s.api_client(cfg) as api:
            core = client.CoreV1Api(api)
            custom = client.CustomObjectsApi(api)
            for index in range(NODES):
                name = f"edge{index:02d}"
                labels = {"eks.amazonaws.com/compute-type": "hybrid" if index < NODES - 1 else "ec2"}
                core.create_node({"metadata": {"name": name, "labels": labels}})
                core.patch_node_status(name, {"status": {"addresses": [
                    {"type": "InternalIP", "address": f"10.200.0.{11 + index}"}, {"type": "Hostname", "address": name}]}})
                custom.create_cluster_custom_object("cilium.io", "v2", "ciliumnodes", {
                    "apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": {"name": name},
                    "spec": {"ipam": {"podCIDRs": [f"10.201.{index}.0/25"]},
                             "addresses": [{"type": "CiliumInternalIP", "ip": f"10.201.{index}.7"}]}})
        yield cfg
    finally:
        k8s.stop(cfg)


def _run(cfg: LabConfig, tmp_path: Path, *extra: str) -> tuple[int, str, dict]:
    out = tmp_path / "seen.json"
    playbook = tmp_path / "pod-routes.yml"
    playbook.write_text(PLAYBOOK.format(kubeconfig=cfg.kubeconfig, out=out))
    code, output = play("localhost,", playbook, *LOCAL, *extra, timeout=300, fake_aws=False)
    seen = json.loads(out.read_text()) if out.exists() else {}
    return code, output, seen


def test_every_page_is_read_and_routes_go_via_the_internal_ip(apiserver, tmp_path):
    code, output, seen = _run(apiserver, tmp_path)
    assert code == 0, output
    assert seen["nodes"] == NODES  # 5 nodes at 2 per page: only reachable by following continue tokens
    assert seen["problems"] == []
    assert seen["routes"] == [{"destination": f"10.201.{i}.0/25", "next_hop": f"10.200.0.{11 + i}", "node": f"edge{i:02d}"}
                              for i in range(NODES)]
    assert seen["table"].splitlines()[2] == "| 10.201.0.0/25 | 10.200.0.11 |"
    assert seen["changed"] is False


def test_cilium_internal_ip_and_label_selector(apiserver, tmp_path):
    code, output, seen = _run(apiserver, tmp_path, "-e", "next_hop=cilium_internal_ip",
                              "-e", "selector=eks.amazonaws.com/compute-type=hybrid")
    assert code == 0, output
    assert [route["next_hop"] for route in seen["routes"]] == [f"10.201.{i}.7" for i in range(NODES - 1)]


def test_problems_fail_the_run_or_are_returned(apiserver, tmp_path):
    with k8s.api_client(apiserver) as api:
        client.CustomObjectsApi(api).create_cluster_custom_object("cilium.io", "v2", "ciliumnodes", {
            "apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": {"name": "stray"},
            "spec": {"ipam": {"podCIDRs": ["10.201.0.64/26", "192.168.0.0/24"]}}})
    try:
        code, output, seen = _run(apiserver, tmp_path)
        assert code != 0, output
        assert "3 problem(s)" in output and "10.201.0.64/26 of stray overlaps 10.201.0.0/25 of edge00" in output
        assert "node stray has no InternalIP" in output and "192.168.0.0/24 lies outside" in output

        code, output, seen = _run(apiserver, tmp_path, "-e", '{"strict": false}')
        assert code == 0, output
        assert len(seen["problems"]) == 3 and seen["nodes"] == NODES + 1
    finally:
        with k8s.api_client(apiserver) as api:
            client.CustomObjectsApi(api).delete_cluster_custom_object("cilium.io", "v2", "ciliumnodes", "stray")
