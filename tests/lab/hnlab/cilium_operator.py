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

It also plays the one part of Cilium's agent that the lab's kubelets need:
once the agent DaemonSet ``kube-system/cilium`` that the cilium role deployed
selects a Node (its pod template's required node affinity and nodeSelector
match the Node's labels, and its tolerations cover the Node's NoSchedule and
NoExecute taints, as the DaemonSet controller decides), the CNI configuration
``/etc/cni/net.d/05-cilium.conflist`` is written onto that node's lab host (the
agent writes it at start-up: cilium daemon/cmd/cni). Until then the Node stays
NotReady, as a real one does. The file is never removed by this stand-in (a
real agent leaves it behind too unless cni.uninstall is set).

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
AGENT_DAEMONSET = ("kube-system", "cilium")
CNI_CONF = "/etc/cni/net.d/05-cilium.conflist"
# What Cilium's agent writes (the cilium-cni plugin chained as the only plugin); the kubelet needs only that a
# configuration exists.
CNI_CONFLIST = json.dumps({"cniVersion": "0.3.1", "name": "cilium", "plugins": [
    {"type": "cilium-cni", "enable-debug": False, "log-file": "/var/run/cilium/cilium-cni.log"}]}, indent=2) + "\n"
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


# ------------------------------------------------- pure: DaemonSet node selection
def _requirement_matches(expr: dict, labels: dict) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, IndexError, ValueError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def _tolerated(taint: dict, tolerations: list) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator", "Equal") == "Exists":
            if not tol.get("key") or tol["key"] == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def daemonset_selects(pod_spec: dict, labels: dict, taints: list) -> bool:
    """Whether a DaemonSet with this pod template spec places a pod on a Node with these labels and taints.

    As the DaemonSet controller decides (kubernetes pkg/controller/daemon predicates): the nodeSelector and the
    required node affinity (terms ORed, expressions ANDed) match the labels, and every NoSchedule/NoExecute taint
    is tolerated.
    """
    labels = labels or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms is not None and not any(
            term.get("matchExpressions") and all(_requirement_matches(e, labels) for e in term["matchExpressions"])
            for term in terms):
        return False
    return all(_tolerated(t, pod_spec.get("tolerations") or [])
               for t in taints or [] if t.get("effect") in ("NoSchedule", "NoExecute"))


# ------------------------------------------------------------------- the loop
def _internal_ip(node) -> str | None:
    for a in (node.status.addresses or []) if node.status else []:
        if a.type == "InternalIP":
            return a.address
    return None


def agent_nodes(api_client) -> dict:
    """{node name: InternalIP} of the hybrid Nodes that the agent DaemonSet selects ({} when it is absent)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    try:
        ds = client.AppsV1Api(api_client).read_namespaced_daemon_set(AGENT_DAEMONSET[1], AGENT_DAEMONSET[0])
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    pod_spec = api_client.sanitize_for_serialization(ds.spec.template.spec) or {}
    nodes = client.CoreV1Api(api_client).list_node(label_selector=f"{COMPUTE_TYPE_LABEL}=hybrid",
                                                   limit=MAX_NODES_PER_PASS)
    selected = {}
    for node in nodes.items:
        raw = api_client.sanitize_for_serialization(node)
        # An agent pod runs only where a kubelet runs: a Node whose kubelet stopped (Ready Unknown) gets none.
        conditions = (raw.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "Unknown" for c in conditions):
            continue
        if daemonset_selects(pod_spec, raw["metadata"].get("labels"), (raw.get("spec") or {}).get("taints")):
            selected[node.metadata.name] = _internal_ip(node)
    return selected


def write_cni_conf(root: Path) -> bool:
    """Write the agent's CNI configuration under a host's root. Returns True when it was missing."""
    path = root / CNI_CONF.lstrip("/")
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(CNI_CONFLIST)
    os.replace(tmp, path)
    return True


def host_roots(cfg: LabConfig) -> dict:
    """{lab host address: its root directory} of the edge hosts."""
    from hnlab import edge

    return {h["ip"]: edge.host_root(cfg, h["name"]) for h in edge.load_hosts(cfg) if h.get("kind") == "edge"}


def reconcile_agent(api_client, cfg: LabConfig, log=print) -> list:
    """The agent's part: the CNI configuration on every host whose Node the DaemonSet selects. Returns the
    names of the Nodes whose host got it in this pass."""
    roots = None
    written = []
    for name, ip in sorted(agent_nodes(api_client).items()):
        if roots is None:
            roots = host_roots(cfg)
        root = roots.get(ip)
        if root is not None and root.is_dir() and write_cni_conf(root):
            written.append(name)
            log(f"cilium-agent: {name} ({ip}): wrote {CNI_CONF}")
    return written


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
            reconcile_agent(api, cfg, log=lambda m: print(m, flush=True))
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
