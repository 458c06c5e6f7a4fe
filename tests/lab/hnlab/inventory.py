"""Writes the running lab's inventory, in the inventory contract of docs/inventory.md (cluster vars on `all`, pools
as children of `hybrid_nodes`, per-host vars), plus group `vpn_gateways` (vpngw) and a `lab` group whose vars are
lab-only facts for tests (never used by roles).

The file is cfg.inventory_path, in the lab's state dir; inventories/lab/hosts.yml (cfg.inventory_link), the path
the docs, make targets and Molecule use, is a symlink to it, made here and removed with it by remove().
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import yaml

from . import cilium_manifest

POOLS = ("pool_a", "pool_b")
# The lab's profiles (docs/lab.md): "light" joins with the nodeadm stand-in (its kubelet stand-in; fits 50 hosts on
# 2 cores); "real" joins with the real nodeadm, kubelet and containerd over IAM Roles Anywhere (real_profile_vars).
PROFILES = ("light", "real")
# What the real kubelet needs of its configuration inside an nspawn host (tests/lab/tests/lab/test_real_kubelet.py):
# no QoS cgroup tree and nothing to enforce node allocatable on, swap allowed. NodeConfig's spec.kubelet.config.
REAL_KUBELET_CONFIG = {"cgroupsPerQOS": False, "enforceNodeAllocatable": [], "failSwapOn": False}


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # no &id001 anchors in a hand-read inventory
        return True


def _seed_value(seed: dict, *keys, default=None):
    for key in keys:
        if seed.get(key) not in (None, "", []):
            return seed[key]
    return default


def validate_vars(cfg) -> dict:
    """The variables of playbooks/validate.yml for the lab. Its cloud worker is a bare network namespace (no pods,
    no sshd), so the cluster-side probe is a command on the controller that pings from inside it."""
    return {
        "hybrid_validate_vpc_targets": [cfg.cloud_worker_ip],
        "hybrid_validate_probe_method": "command",
        "hybrid_validate_probe_command": ["ip", "netns", "exec", cfg.netns_worker,
                                          "ping", "-n", "-c", "2", "-W", "2", "{ip}"],
    }


def real_profile_vars(cfg) -> dict:
    """The cluster variables that differ in the real profile: the real nodeadm at the control plane's minor, with the
    mirror's manifest of the real artifacts (copied onto the hosts by the nodeadm role), IAM Roles Anywhere with the
    lab site's CA (hnlab.realnode), the kubelet settings nspawn needs."""
    from . import mirror, realnode

    ca_cert, ca_key = realnode.site_ca_paths(cfg)
    return {
        "hybrid_kubernetes_version": cfg.cluster_kubernetes_version,
        "hybrid_credential_provider": "iam-ra",
        "hybrid_iam_ra_ca_certificate_path": str(ca_cert),
        "hybrid_iam_ra_ca_private_key_path": str(ca_key),
        "hybrid_nodeadm_version": cfg.real_nodeadm_version,
        "hybrid_nodeadm_manifest_file": str(mirror.real_manifest_path(cfg)),
        "hybrid_kubelet_config": dict(REAL_KUBELET_CONFIG),
    }


def profile_path(cfg, profile: str) -> Path:
    """Each profile's inventory of the running lab (cfg.inventory_path is the one `up` was asked for)."""
    return Path(cfg.inventory_path).with_name(f"{profile}.yml")


def build(cfg, hosts: list[dict], seed: dict | None = None, profile: str = "light") -> dict:
    if profile not in PROFILES:
        raise ValueError(f"unknown lab profile {profile!r}: one of {', '.join(PROFILES)}")
    seed = seed or {}
    edges = [h for h in hosts if h["kind"] == "edge"]
    gateways = [h for h in hosts if h["kind"] == "vpngw"]
    npools = 2 if len(edges) >= 3 else 1
    pools: dict[str, dict] = {}
    for n, pool in enumerate(POOLS[:npools]):
        pool_vars = {
            "hybrid_node_labels": {"hybridnodes.eks/pool": pool, "topology.kubernetes.io/zone": "edge-lab"},
            "hybrid_node_taints": ["hybridnodes.eks/dedicated=edge:NoSchedule"] if pool == "pool_b" else [],
            "hybrid_ntp_servers": [],
            "hybrid_architecture": "amd64",
        }
        members = {}
        for i, h in enumerate(edges):
            if i % npools == n:
                members[h["name"]] = {
                    "ansible_host": h["ip"],
                    "hybrid_vpn_server_ip": cfg.vpn_gateway_edge_ip,
                    "hybrid_nic": "eth0",
                    "hybrid_node_name": h["name"],
                    "lab_netns": h["netns"],
                }
        pools[pool] = {"hosts": members, "vars": pool_vars}

    rtbs = _seed_value(seed, "route_table_ids", "hybrid_route_table_ids")
    if rtbs is None and _seed_value(seed, "route_table_id"):
        rtbs = [seed["route_table_id"]]
    cluster = {
        "hybrid_cluster_name": cfg.cluster_name,
        "hybrid_region": cfg.region,
        "hybrid_kubernetes_version": cfg.kubernetes_version,
        "hybrid_credential_provider": "ssm",
        "hybrid_vpc_id": _seed_value(seed, "vpc_id", "hybrid_vpc_id", default=""),
        "hybrid_vpc_cidrs": [cfg.vpc_cidr],
        "hybrid_service_cidr": cfg.service_cidr,
        "hybrid_remote_node_cidrs": [cfg.edge_cidr],
        "hybrid_remote_pod_cidrs": [cfg.pod_cidr],
        "hybrid_route_table_ids": rtbs or [],
        "hybrid_vpn_gateway_id": _seed_value(seed, "vpn_gateway_id", "vgw_id", "hybrid_vpn_gateway_id", default=""),
        "hybrid_vpn_connection_id": _seed_value(seed, "vpn_connection_id", "hybrid_vpn_connection_id", default=""),
        "hybrid_nodeadm_version": cfg.nodeadm_versions[0],
        "hybrid_nodeadm_base_url": cfg.mirror_base_url,
        # The lab's mirror serves plain http on a network only the lab reaches.
        "hybrid_nodeadm_allow_insecure_url": True,
        "hybrid_aws_endpoint_url": cfg.moto_endpoint,
        "hybrid_kubeconfig": str(cfg.kubeconfig),
        "hybrid_pod_cidr_mask_size": cfg.pod_mask_size,
        # Cilium from the manifest `labctl up` renders (no helm binary here); the lab runs no pods, so there
        # is no rollout to wait for.
        "cilium_method": "manifest",
        "cilium_manifest_path": str(cilium_manifest.path(cfg)),
        "cilium_wait_rollout": False,
        # The lab's hosts run Debian, outside the EKS support matrix: the
        # documented override, set explicitly as an operator would.
        "hybrid_allow_unsupported_os": True,
        **validate_vars(cfg),
        # connection
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(cfg.ssh_key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if profile == "real":
        cluster.update(real_profile_vars(cfg))
    lab_vars = {
        "lab_profile": profile,
        "lab_cloud_worker_ip": cfg.cloud_worker_ip,
        # The VPN connection is attached to the virtual private gateway, which the route tables use
        # (hybrid_vpn_gateway_id); the emulator's transit gateway is there for the transit gateway tests.
        "lab_transit_gateway_id": _seed_value(seed, "transit_gateway_id", "tgw_id", "hybrid_transit_gateway_id", default=""),
        "lab_eks_endpoint_ip": cfg.eks_endpoint_ip,
        "lab_eks_endpoint_port": cfg.eks_endpoint_port,
        "lab_aws_endpoint_port": cfg.aws_endpoint_port,
        "lab_vpn_gateway_vpc_ip": cfg.vpn_gateway_vpc_ip,
        "lab_edge_gateway_ip": cfg.edge_gateway_ip,
        "lab_mirror_ip": cfg.mirror_ip,
        "lab_netns_worker": cfg.netns_worker,
        "lab_netns_eksapi": cfg.netns_eksapi,
        "lab_netns_vpngw": cfg.netns_vpngw,
        "lab_netns_mirror": cfg.netns_mirror,
        "lab_state_dir": str(cfg.state_dir),
    }
    if seed:
        lab_vars["lab_aws_seed"] = seed
    return {"all": {
        "vars": cluster,
        "children": {
            "hybrid_nodes": {"children": pools},
            "vpn_gateways": {"hosts": {g["name"]: {"ansible_host": g["ip"], "lab_netns": g["netns"],
                                                   "hybrid_vpc_side_ip": cfg.vpn_gateway_vpc_ip}
                                       for g in gateways}},
            "lab": {"children": {"hybrid_nodes": {}, "vpn_gateways": {}}, "vars": lab_vars},
        },
    }}


def _write_file(path: Path, doc: dict, profile: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (f"# Written by tests/lab/hnlab/inventory.py for the running lab (profile {profile}); `labctl down` removes "
            "it.\n" + yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write(cfg, hosts: list[dict], seed: dict | None = None, profile: str = "light") -> Path:
    """cfg.inventory_path in PROFILE (and its link), and every profile's own file (profile_path)."""
    for each in PROFILES:
        _write_file(profile_path(cfg, each), build(cfg, hosts, seed, each), each)
    path = Path(cfg.inventory_path)
    _write_file(path, build(cfg, hosts, seed, profile), profile)
    _link(Path(cfg.inventory_link), path)
    return path


def _link(link: Path, target: Path) -> None:
    """link -> target (absolute), replacing whatever is at link (an older lab's file, a link) in one rename."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(link.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target.absolute())
    os.replace(tmp, link)


def remove(cfg) -> None:
    """The inventory and its link (a link left dangling by a lab that went away without `down` too)."""
    for path in (Path(cfg.inventory_link), Path(cfg.inventory_path), *(profile_path(cfg, p) for p in PROFILES)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def leftovers(cfg) -> list[str]:
    """What of the inventory is on disk (nothing once the lab is down)."""
    return [f"inventory {path}" for path in (Path(cfg.inventory_link), Path(cfg.inventory_path),
                                             *(profile_path(cfg, p) for p in PROFILES))
            if os.path.lexists(path)]
