"""Pure checks of the lab inventory writer and PID-file helpers (no lab needed)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hnlab import config, edge, inventory, netns

pytestmark = pytest.mark.lab

CLUSTER_VARS = {
    "hybrid_cluster_name", "hybrid_region", "hybrid_kubernetes_version", "hybrid_credential_provider",
    "hybrid_vpc_id", "hybrid_vpc_cidrs", "hybrid_service_cidr", "hybrid_remote_node_cidrs",
    "hybrid_remote_pod_cidrs", "hybrid_route_table_ids", "hybrid_vpn_gateway_id",
    "hybrid_vpn_connection_id", "hybrid_nodeadm_version",
    "hybrid_nodeadm_base_url", "hybrid_aws_endpoint_url", "hybrid_kubeconfig",
    "hybrid_pod_cidr_mask_size", "ansible_user", "ansible_ssh_private_key_file",
    "ansible_ssh_common_args", "ansible_python_interpreter",
}


def _inv(n, seed=None):
    cfg = config.load()
    return cfg, inventory.build(cfg, edge.host_specs(cfg, n), seed)


def test_five_hosts_two_pools_alternating():
    cfg, inv = _inv(5)
    pools = inv["all"]["children"]["hybrid_nodes"]["children"]
    assert list(pools) == ["pool_a", "pool_b"]
    assert list(pools["pool_a"]["hosts"]) == ["edge01", "edge03", "edge05"]
    assert list(pools["pool_b"]["hosts"]) == ["edge02", "edge04"]
    assert pools["pool_a"]["vars"]["hybrid_node_taints"] == []
    for taint in pools["pool_b"]["vars"]["hybrid_node_taints"]:
        key_value, effect = taint.rsplit(":", 1)
        assert "=" in key_value and effect in ("NoSchedule", "PreferNoSchedule", "NoExecute")
    for pool in pools.values():
        assert set(pool["vars"]) == {"hybrid_node_labels", "hybrid_node_taints", "hybrid_ntp_servers",
                                     "hybrid_architecture"}
        assert isinstance(pool["vars"]["hybrid_node_labels"], dict)
        assert pool["vars"]["hybrid_architecture"] == "amd64"
    host = pools["pool_b"]["hosts"]["edge02"]
    assert host["ansible_host"] == cfg.host_ip(2) == "10.200.0.12"
    assert host["hybrid_vpn_server_ip"] == cfg.vpn_gateway_edge_ip
    assert host["hybrid_nic"] == "eth0" and host["hybrid_node_name"] == "edge02"
    assert inv["all"]["children"]["vpn_gateways"]["hosts"]["vpngw"]["ansible_host"] == cfg.vpn_gateway_edge_ip


def test_small_lab_has_one_pool_and_cluster_vars():
    cfg, inv = _inv(2)
    assert list(inv["all"]["children"]["hybrid_nodes"]["children"]) == ["pool_a"]
    v = inv["all"]["vars"]
    assert CLUSTER_VARS <= set(v)
    assert v["hybrid_vpc_cidrs"] == [cfg.vpc_cidr]
    assert v["hybrid_remote_node_cidrs"] == [cfg.edge_cidr]
    assert v["hybrid_remote_pod_cidrs"] == [cfg.pod_cidr]
    assert v["hybrid_credential_provider"] == "ssm"
    assert v["hybrid_nodeadm_version"] == cfg.nodeadm_versions[0]
    assert "StrictHostKeyChecking=no" in v["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/dev/null" in v["ansible_ssh_common_args"]


def test_seed_ids_flow_into_cluster_vars():
    _unused, inv = _inv(3, {"vpc_id": "vpc-1", "route_table_ids": ["rtb-1", "rtb-2"],
                            "vpn_gateway_id": "vgw-1", "transit_gateway_id": "tgw-1", "vpn_connection_id": "vpn-1"})
    v = inv["all"]["vars"]
    assert (v["hybrid_vpc_id"], v["hybrid_route_table_ids"], v["hybrid_vpn_gateway_id"],
            v["hybrid_vpn_connection_id"]) == ("vpc-1", ["rtb-1", "rtb-2"], "vgw-1", "vpn-1")
    # One target for the route tables: the transit gateway is the lab's own variable.
    assert "hybrid_transit_gateway_id" not in v
    assert inv["all"]["children"]["lab"]["vars"]["lab_transit_gateway_id"] == "tgw-1"


def test_written_inventory_parses_with_ansible_inventory(tmp_path):
    cfg = dataclasses.replace(config.load())
    target = tmp_path / "hosts.yml"
    text = yaml.safe_dump(inventory.build(cfg, edge.host_specs(cfg, 4)), sort_keys=False)
    target.write_text(text)
    tool = Path(sys.executable).parent / "ansible-inventory"
    if not tool.exists():
        pytest.skip("ansible-inventory not in this venv")
    r = subprocess.run([str(tool), "-i", str(target), "--list"], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(r.stdout)
    assert sorted(data["hybrid_nodes"]["children"]) == ["pool_a", "pool_b"]
    assert sorted(data["pool_b"]["hosts"]) == ["edge02", "edge04"]
    hv = data["_meta"]["hostvars"]["edge03"]
    assert hv["hybrid_cluster_name"] == cfg.cluster_name and hv["lab_cloud_worker_ip"] == cfg.cloud_worker_ip


def test_inventory_in_the_state_dir_and_the_documented_path_a_link_to_it(tmp_path):
    assert config.load().inventory_link == config.REPO_ROOT / "inventories" / "lab" / "hosts.yml"
    cfg = dataclasses.replace(config.load(), state_dir=tmp_path / "state",
                              inventory_link=tmp_path / "repo" / "inventories" / "lab" / "hosts.yml")
    assert cfg.inventory_path == tmp_path / "state" / "inventory" / "hosts.yml"
    cfg.inventory_link.parent.mkdir(parents=True)
    cfg.inventory_link.write_text("# the inventory file of a lab from before the move\n")

    path = inventory.write(cfg, edge.host_specs(cfg, 2))
    assert path == cfg.inventory_path
    assert cfg.inventory_link.is_symlink() and cfg.inventory_link.resolve() == path.resolve()
    assert yaml.safe_load(cfg.inventory_link.read_text()) == yaml.safe_load(path.read_text())
    assert sorted(p.name for p in cfg.inventory_link.parent.iterdir()) == ["hosts.yml"]  # no .tmp left
    profiles = [inventory.profile_path(cfg, profile) for profile in inventory.PROFILES]
    assert inventory.leftovers(cfg) == [f"inventory {p}" for p in (cfg.inventory_link, path, *profiles)]
    # Each profile's inventory beside it: hosts.yml is the light one (up's default), real.yml the real one.
    assert yaml.safe_load(profiles[0].read_text()) == yaml.safe_load(path.read_text())
    real = yaml.safe_load(profiles[1].read_text())["all"]["vars"]
    assert real["hybrid_credential_provider"] == "iam-ra" and real["hybrid_nodeadm_version"] == cfg.real_nodeadm_version
    assert real["hybrid_kubernetes_version"] == cfg.cluster_kubernetes_version

    for leftover in (path, *profiles):  # a lab gone without `down`: the link dangles, and is still a leftover
        leftover.unlink()
    assert inventory.leftovers(cfg) == [f"inventory {cfg.inventory_link}"]
    inventory.remove(cfg)
    assert inventory.leftovers(cfg) == [] and not os.path.lexists(cfg.inventory_link)
    inventory.remove(cfg)  # nothing to remove: fine


def test_pidfile_guards_against_recycled_pids(tmp_path):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        pf = tmp_path / "x.pid"
        netns.write_pidfile(pf, proc.pid)
        assert netns.pidfile_alive(pf)
        info = netns.read_pidfile(pf)
        pf.write_text(f'{{"pid": {proc.pid}, "start": {info["start"] + 1}}}')
        assert not netns.pidfile_alive(pf)  # same pid, other start time: not ours
        netns.write_pidfile(pf, proc.pid)
        assert netns.terminate_pidfiles([pf], timeout=5) == []
        assert proc.wait(timeout=5) is not None and not pf.exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_host_limits():
    cfg = config.load()
    with pytest.raises(ValueError):
        edge.start(cfg, cfg.max_hosts + 1)
    with pytest.raises(ValueError):
        edge.start(cfg, 0)
    assert len({cfg.host_ip(i) for i in range(1, cfg.max_hosts + 1)}) == cfg.max_hosts
    assert cfg.vpn_gateway_edge_ip not in {cfg.host_ip(i) for i in range(1, cfg.max_hosts + 1)}
    assert os.path.basename(str(cfg.rootfs_cache)) == "rootfs-bookworm"
