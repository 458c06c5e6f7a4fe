"""Cilium operator stand-in: cluster-pool IPAM for the lab's hybrid nodes.

The lab has no pods, so Cilium's DaemonSet and operator never run. This
process does the one thing of the operator the lab needs: once Cilium is
"deployed" (the CiliumNode CRD exists and ConfigMap kube-system/cilium-config
carries ``cluster-pool-ipv4-cidr`` and ``cluster-pool-ipv4-mask-size``, the
keys Cilium's chart writes from ipam.operator.clusterPoolIPv4PodCIDRList /
clusterPoolIPv4MaskSize), every Node labelled
``eks.amazonaws.com/compute-type=hybrid`` gets a CiliumNode (cilium.io/v2)
with ``spec.ipam.podCIDRs`` = the next free block of the mask size and
``spec.addresses`` = the node's InternalIP plus the CiliumInternalIP (first
address of the block). Allocations are read back from existing CiliumNodes,
so they are stable across restarts. CiliumNodes whose Node is gone are
deleted. The cluster-pool CIDR may be a list (space or comma separated).

Runs on the controller side with the admin kubeconfig on loopback; polls
every POLL_SECONDS, bounded per pass; stops on SIGTERM.
CLI: ``python -m hnlab.cilium_operator run`` (what start() spawns).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hnlab.config import LabConfig, load

POLL_SECONDS = 2.0
MAX_NODES_PER_PASS = 500
COMPUTE_TYPE_LABEL = "eks.amazonaws.com/compute-type"
CILIUM_CONFIG = ("kube-system", "cilium-config")
CIDR_KEY = "cluster-pool-ipv4-cidr"
MASK_KEY = "cluster-pool-ipv4-mask-size"
CRD_NAME = "ciliumnodes.cilium.io"
LAB_DIR = Path(__file__).resolve().parents[1]


class PoolExhausted(Exception):
    pass


# ------------------------------------------------------------ pure allocation
def parse_pool(cidr_value: str) -> list[ipaddress.IPv4Network]:
    """cilium-config's cluster-pool-ipv4-cidr (one CIDR or a list) -> networks."""
    nets = [ipaddress.ip_network(c.strip()) for c in cidr_value.replace(",", " ").split() if c.strip()]
    if not nets:
        raise ValueError("empty cluster-pool-ipv4-cidr")
    return nets


def allocate(pool: list, mask: int, used: set) -> str:
    """First block of /mask in pool that overlaps no CIDR in used. Raises PoolExhausted."""
    used_nets = [ipaddress.ip_network(u, strict=False) for u in used]
    for net in pool:
        net = ipaddress.ip_network(net)
        if mask < net.prefixlen:
            raise ValueError(f"mask size /{mask} is larger than the pool {net}")
        for block in net.subnets(new_prefix=mask):
            if not any(block.overlaps(u) for u in used_nets):
                return str(block)
    raise PoolExhausted(f"cluster pool {[str(n) for n in pool]} has no free /{mask} block "
                        f"({len(used_nets)} allocated)")


def plan(pool: list, mask: int, nodes: dict, ciliumnodes: dict) -> dict:
    """What to do in one pass.

    nodes: {name: InternalIP or None} of hybrid nodes; ciliumnodes: {name:
    [podCIDRs]}. Returns {"create": {name: cidr}, "delete": [names],
    "keep": {name: cidr}, "errors": {name: message}}. Existing allocations are
    kept (stable); new nodes get the next free block in name order.
    """
    keep = {n: c[0] for n, c in ciliumnodes.items() if n in nodes and c}
    used = set(keep.values())
    create, errors = {}, {}
    for name in sorted(nodes):
        if name in keep:
            continue
        try:
            cidr = allocate(pool, mask, used)
        except PoolExhausted as exc:
            errors[name] = str(exc)
            continue
        used.add(cidr)
        create[name] = cidr
    delete = sorted(n for n in ciliumnodes if n not in nodes)
    return {"create": create, "delete": delete, "keep": keep, "errors": errors}


def ciliumnode_manifest(name: str, cidr: str, internal_ip: str | None, owner_uid: str | None = None) -> dict:
    router = str(ipaddress.ip_network(cidr).network_address + 1)
    addresses = []
    if internal_ip:
        addresses.append({"type": "InternalIP", "ip": internal_ip})
    addresses.append({"type": "CiliumInternalIP", "ip": router})
    meta: dict = {"name": name, "labels": {COMPUTE_TYPE_LABEL: "hybrid"}}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": owner_uid}]
    return {
        "apiVersion": "cilium.io/v2", "kind": "CiliumNode", "metadata": meta,
        "spec": {"addresses": addresses, "ipam": {"podCIDRs": [cidr]}},
    }


# ------------------------------------------------------------------- the loop
def _internal_ip(node) -> str | None:
    for a in (node.status.addresses or []) if node.status else []:
        if a.type == "InternalIP":
            return a.address
    return None


def reconcile(api_client, log=print) -> dict | None:
    """One bounded pass. Returns the plan, or None when Cilium is not deployed."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    try:
        ext.read_custom_resource_definition(CRD_NAME)
        cm = core.read_namespaced_config_map(CILIUM_CONFIG[1], CILIUM_CONFIG[0])
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data = cm.data or {}
    if CIDR_KEY not in data or MASK_KEY not in data:
        return None
    pool, mask = parse_pool(data[CIDR_KEY]), int(data[MASK_KEY])
    node_list = core.list_node(label_selector=f"{COMPUTE_TYPE_LABEL}=hybrid", limit=MAX_NODES_PER_PASS)
    nodes = {n.metadata.name: n for n in node_list.items}
    cns = custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnodes", limit=MAX_NODES_PER_PASS)
    existing = {c["metadata"]["name"]: ((c.get("spec") or {}).get("ipam") or {}).get("podCIDRs") or []
                for c in cns.get("items", [])}
    # Only CiliumNodes we manage (hybrid) are candidates for deletion.
    managed = {c["metadata"]["name"] for c in cns.get("items", [])
               if (c["metadata"].get("labels") or {}).get(COMPUTE_TYPE_LABEL) == "hybrid"}
    result = plan(pool, mask, {n: _internal_ip(o) for n, o in nodes.items()}, existing)
    result["delete"] = [n for n in result["delete"] if n in managed]
    for name, cidr in result["create"].items():
        node = nodes[name]
        body = ciliumnode_manifest(name, cidr, _internal_ip(node), node.metadata.uid)
        if name in existing:  # exists without podCIDRs: fill it in
            custom.patch_cluster_custom_object("cilium.io", "v2", "ciliumnodes", name, body)
        else:
            custom.create_cluster_custom_object("cilium.io", "v2", "ciliumnodes", body)
        log(f"cilium-operator: {name} <- {cidr}")
    for name in result["delete"]:
        try:
            custom.delete_cluster_custom_object("cilium.io", "v2", "ciliumnodes", name)
            log(f"cilium-operator: deleted CiliumNode {name} (node gone)")
        except ApiException as exc:
            if exc.status != 404:
                raise
    for name, msg in result["errors"].items():
        log(f"cilium-operator: cannot allocate for {name}: {msg}")
    return result


def run(cfg: LabConfig, poll: float = POLL_SECONDS, max_passes: int | None = None) -> None:
    from kubernetes import config as kconfig

    stopping = {"flag": False}

    def _term(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    api = None
    passes = 0
    while not stopping["flag"] and (max_passes is None or passes < max_passes):
        passes += 1
        try:
            if api is None:  # the kubeconfig appears once the API server is up
                api = kconfig.new_client_from_config(config_file=str(cfg.kubeconfig))
            reconcile(api, log=lambda m: print(m, flush=True))
        except Exception as exc:  # API server not up or restarting: the next pass retries
            print(f"cilium-operator: pass failed: {exc}", flush=True)
        deadline = time.monotonic() + poll
        while not stopping["flag"] and time.monotonic() < deadline:
            time.sleep(0.1)
    if api is not None:
        api.close()


# ------------------------------------------------------------------ lifecycle
def pid_file(cfg: LabConfig) -> Path:
    return cfg.state_dir / "run" / "cilium-operator.pid"


def _alive(pid: int) -> bool:
    try:
        return b"hnlab.cilium_operator" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _pid(cfg: LabConfig) -> int | None:
    try:
        return int(pid_file(cfg).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def start(cfg: LabConfig) -> dict:
    st = status(cfg)
    if st["running"]:
        return st
    run_dir = pid_file(cfg).parent
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(LAB_DIR), os.environ.get("PYTHONPATH")])),
               HNLAB_STATE=str(cfg.state_dir))
    log = open(run_dir / "cilium-operator.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "hnlab.cilium_operator", "run"], env=env, stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    pid_file(cfg).write_text(str(proc.pid))
    return status(cfg)


def stop(cfg: LabConfig, timeout: float = 5.0) -> None:
    pid = _pid(cfg)
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    pid_file(cfg).unlink(missing_ok=True)


def status(cfg: LabConfig) -> dict:
    pid = _pid(cfg)
    running = pid is not None and _alive(pid)
    return {"component": "cilium-operator", "running": running, "pid": pid if running else None,
            "log": str(pid_file(cfg).parent / "cilium-operator.log")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="hnlab.cilium_operator")
    p.add_argument("cmd", choices=["run", "once"])
    args = p.parse_args(argv)
    cfg = load()
    if args.cmd == "once":
        from kubernetes import config as kconfig

        with kconfig.new_client_from_config(config_file=str(cfg.kubeconfig)) as api:
            print(json.dumps(reconcile(api), indent=2))
        return 0
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
