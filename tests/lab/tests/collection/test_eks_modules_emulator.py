"""The EKS modules (eks_hybrid_cluster_info, eks_remote_networks, eks_access_entry) run by
ansible-playbook against the lab's AWS emulator: the first run changes the cluster, the
second changes nothing and makes no write call.

Starts its own emulator on a free loopback port with a temporary state dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hnlab import aws
from hnlab.aws.clients import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, client
from hnlab.aws.labapi import LabApi
from hnlab.config import LabConfig, isolated
from hnlab.testing import LOCAL, play

HYBRID_ROLE = "hybrid-lab-nodes"

PLAYBOOK = """
- name: EKS modules against the lab's emulator
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/hybridnodes.eks.aws:
      region: {region}
      endpoint_url: {endpoint}
      access_key: {access_key}
      secret_key: {secret_key}
  tasks:
    - name: Read the cluster before the change
      hybridnodes.eks.eks_hybrid_cluster_info:
        cluster_name: {cluster}
        fail_on_unmet: false
      register: before

    - name: Set the remote networks (VPC CIDRs read from the cluster's VPC)
      hybridnodes.eks.eks_remote_networks:
        cluster_name: {cluster}
        remote_node_cidrs: ["{edge_cidr}"]
        remote_pod_cidrs: ["{pod_cidr}"]
        wait_timeout: 60

    - name: Let the hybrid nodes' role in
      hybridnodes.eks.eks_access_entry:
        cluster_name: {cluster}
        principal_arn: {principal}
        type: HYBRID_LINUX

    - name: Check the cluster, Palette requirements included
      hybridnodes.eks.eks_hybrid_cluster_info:
        cluster_name: {cluster}
        palette: true
        fail_on_unmet: "{{{{ not ansible_check_mode }}}}"  # check mode set no remote networks
      register: after

    - name: Write what the info module saw
      ansible.builtin.copy:
        content: "{{{{ {{'before': before.failed_requirements, 'after': after.failed_requirements}} | to_json }}}}"
        dest: {out}
        mode: "0600"
      changed_when: false  # a test report, not a change to the cluster
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cfg = isolated(tmp_path_factory.mktemp("state"), "moto_port")
    aws.start(cfg)
    try:
        aws.seed(cfg, None, "https://10.100.0.20")
        yield cfg
    finally:
        aws.stop(cfg)


def _playbook(cfg: LabConfig, tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "seen.json"
    path = tmp_path / "eks.yml"
    path.write_text(PLAYBOOK.format(
        region=cfg.region, endpoint=cfg.moto_endpoint, access_key=FAKE_ACCESS_KEY, secret_key=FAKE_SECRET_KEY,
        cluster=cfg.cluster_name, edge_cidr=cfg.edge_cidr, pod_cidr=cfg.pod_cidr, out=out,
        principal=f"arn:aws:iam::{cfg.account_id}:role/{HYBRID_ROLE}"))
    return path, out


def _run(playbook: Path, *extra: str) -> tuple[int, str]:
    return play("localhost,", playbook, *LOCAL, *extra, timeout=300, fake_aws=False)


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), (int(g) for g in match.groups())))


def test_first_run_changes_second_run_writes_nothing(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    playbook, out = _playbook(cfg, tmp_path)

    api.reset()
    code, output = _run(playbook, "--check")
    assert code == 0, output
    assert _recap(output)["changed"] >= 2, output
    assert api.writes() == {}, api.requests()

    code, output = _run(playbook)
    assert code == 0, output
    assert _recap(output)["changed"] == 2, output  # remote networks, access entry
    assert api.writes() == {("eks", "UpdateClusterConfig"): 1, ("eks", "CreateAccessEntry"): 1}
    seen = json.loads(out.read_text())
    assert [item["name"] for item in seen["before"]] == ["remote-node-networks"]
    assert seen["after"] == []
    cluster = client(cfg, "eks").describe_cluster(name=cfg.cluster_name)["cluster"]
    assert cluster["remoteNetworkConfig"] == {"remoteNodeNetworks": [{"cidrs": [cfg.edge_cidr]}],
                                              "remotePodNetworks": [{"cidrs": [cfg.pod_cidr]}]}

    api.reset()
    code, output = _run(playbook)
    assert code == 0, output
    assert _recap(output)["changed"] == 0, output
    assert api.writes() == {}, api.requests()
    reads = api.counts()
    assert reads[("eks", "DescribeCluster")] == 3 and reads[("eks", "DescribeAccessEntry")] == 1


def test_a_dropped_network_is_refused_without_a_write(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    playbook = tmp_path / "drop.yml"
    playbook.write_text(f"""
- name: Try to drop the remote node network
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Replace the edge network
      hybridnodes.eks.eks_remote_networks:
        cluster_name: {cfg.cluster_name}
        remote_node_cidrs: ["10.201.0.0/24"]
        remote_pod_cidrs: ["{cfg.pod_cidr}"]
        vpc_cidrs: ["{cfg.vpc_cidr}"]
        region: {cfg.region}
        endpoint_url: {cfg.moto_endpoint}
        access_key: {FAKE_ACCESS_KEY}
        secret_key: {FAKE_SECRET_KEY}
""")
    api.reset()
    code, output = _run(playbook)
    assert code != 0
    assert "Refusing to drop remote node networks" in output and cfg.edge_cidr in output, output
    assert api.writes() == {}
