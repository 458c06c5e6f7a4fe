"""playbooks/validate_inventory.yml over inventories/example and broken copies of it.

Lab-independent (plain pytest, no `lab` marker): the playbook runs on the controller only, so the example hosts'
addresses are never contacted; the play recap must list localhost alone.
"""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from hnlab.testing import REPO, run_play

EXAMPLE = REPO / "inventories" / "example"
RECAP_RE = re.compile(r"^(\S+)\s+: ok=\d+", re.MULTILINE)


def run_validate(inventory):
    return run_play(inventory, "playbooks/validate_inventory.yml", timeout=300, fake_aws=False)


def recap_hosts(output):
    return RECAP_RE.findall(output.split("PLAY RECAP", 1)[-1])


def edit(path, **changes):
    data = yaml.safe_load(path.read_text()) or {}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def broken(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, inventory)
    return inventory


def test_example_is_valid():
    result = run_validate(EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Inventory valid: 3 hybrid node(s) of cluster hybrid-example" in result.stdout
    assert recap_hosts(result.stdout) == ["localhost"]


def test_cluster_mistakes_are_all_reported(broken):
    edit(broken / "group_vars" / "all.yml", hybrid_remote_pod_cidrs=["10.100.128.0/17"], hybrid_credential_provider="iam-ra",
         hybrid_kubernetes_version=1.3, hybrid_nodeadm_version="latest")
    result = run_validate(broken)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "4 problem(s) in the inventory" in output
    assert "VPC CIDR 10.100.0.0/16 (hybrid_vpc_cidrs) overlaps remote pod network 10.100.128.0/17" in output
    assert "hybrid_iam_ra_ca_certificate_path is not set" in output
    assert "hybrid_kubernetes_version=1.3 is not a Kubernetes minor version" in output
    assert "hybrid_nodeadm_version='latest' is not a nodeadm release" in output
    assert recap_hosts(result.stdout) == ["localhost"]


def test_host_and_pool_mistakes_are_all_reported(broken):
    hosts = yaml.safe_load((broken / "hosts.yml").read_text())
    hosts["all"]["children"]["hybrid_nodes"]["children"]["pool_gpu"]["hosts"]["edge-b01"]["ansible_host"] = "10.9.0.5"
    (broken / "hosts.yml").write_text(yaml.safe_dump(hosts))
    edit(broken / "group_vars" / "pool_general.yml", hybrid_node_taints=["hybridnodes.eks/dedicated=gpu"],
         hybrid_architecture="x86_64")
    edit(broken / "host_vars" / "edge-a01.yml", hybrid_vpn_server_ip="172.16.0.1")
    (broken / "host_vars" / "edge-a02.yml").write_text(yaml.safe_dump({
        "hybrid_node_labels": ["pool=general"], "nodeadm_retries": "many", "cilium_remote_pod_cidrs": ["10.201.0.0/16"]}))
    result = run_validate(broken)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "7 problem(s) in the inventory" in output
    assert "edge-b01: node address 10.9.0.5 is outside the remote node networks 10.200.0.0/16" in output
    assert "edge-a01, edge-a02: taint 'hybridnodes.eks/dedicated=gpu' is not key[=value]:Effect" in output
    assert "edge-a01, edge-a02: hybrid_architecture='x86_64' is not one of amd64, arm64" in output
    assert "edge-a01: hybrid_vpn_server_ip 172.16.0.1 is not on the host's subnet 10.200.1.0/24" in output
    assert "edge-a02: hybrid_node_labels is a list, not a dict" in output
    assert "edge-a02: nodeadm_retries='many' is refused by roles/nodeadm/meta/argument_specs.yml" in output
    assert "edge-a02: cilium_remote_pod_cidrs ['10.201.0.0/16'] differs from hybrid_remote_pod_cidrs" in output
    assert recap_hosts(result.stdout) == ["localhost"]
    assert "UNREACHABLE" not in output


def test_missing_cluster_variables_are_reported_not_a_template_error(broken):
    edit(broken / "group_vars" / "all.yml", hybrid_cluster_name=None, hybrid_region=None, hybrid_remote_node_cidrs=None)
    result = run_validate(broken)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "3 problem(s) in the inventory" in output
    for variable in ("hybrid_cluster_name", "hybrid_region", "hybrid_remote_node_cidrs"):
        assert f"[missing] {variable} is not set" in output
    assert "is undefined" not in output
    assert recap_hosts(result.stdout) == ["localhost"]
