"""The lab's observable state, to compare before and after a run that must change nothing.

snapshot(cfg) reads, once each: every lab host (routes, addresses, path, mode, size and
modification time of the files the collection may write, the installed packages and unit states), the AWS emulator
(route tables, VPN connection routes, SSM activations and managed instances, EKS
access entries and remote networks, IAM roles, Roles Anywhere) and the API server
(Nodes, CiliumNodes, and the kube-system objects Cilium's install makes). Values
that move on their own (status, resourceVersion, leases, timestamps) are left out.
diff(before, after) lists what differs, one line per key.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import shlex
from typing import Any

from . import edge
from .aws.clients import client

# Directories whose files the collection's roles may write, on edge hosts and the VPN gateway.
WATCHED_DIRS = ("/etc", "/usr/local/bin", "/usr/local/sbin", "/opt", "/var/lib/hybridnodes", "/root/.aws")
# Files under WATCHED_DIRS that change without anyone's help.
VOLATILE = ("/etc/mtab", "/etc/resolv.conf", "/etc/adjtime", "/etc/.pwd.lock", "/etc/ld.so.cache",
            "/etc/machine-id")

_HOST_SCRIPT = r"""
echo '## routes'; ip -o route show table all | grep -v -e ' proto kernel ' -e '^local ' -e '^broadcast ' -e '^multicast ' -e ' table local ' | sort
echo '## addresses'; ip -o addr show | awk '{print $2, $3, $4}' | sort
echo '## files'; find {dirs} -xdev \( -type f -o -type l \) -printf '%p %m %s %T@\n' 2>/dev/null | grep -v {volatile} | sort
echo '## packages'; dpkg-query -W -f '${Package}=${Version}\n' 2>/dev/null | sort
echo '## units'; systemctl list-unit-files --no-legend --type=service 2>/dev/null | awk '{print $1, $2}' | sort
"""


def host_script() -> str:
    volatile = " ".join(f"-e {shlex.quote('^' + v + ' ')}" for v in VOLATILE)
    return _HOST_SCRIPT.replace("{dirs}", " ".join(WATCHED_DIRS)).replace("{volatile}", volatile)


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = []
        elif current and line.strip():
            out[current].append(line.rstrip())
    return out


def hosts_state(cfg) -> dict[str, Any]:
    """{host: {section: [lines]}} of every lab host; an unreachable host shows as such."""
    script = host_script()

    def one(host):
        r = edge.ssh(cfg, host["ip"], "sh", "-c", shlex.quote(script), check=False, timeout=120)
        return host["name"], (_sections(r.stdout) if r.returncode == 0 else {"unreachable": [r.stderr[-300:]]})

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(one, edge.load_hosts(cfg)))


def _strip(obj: Any, drop: tuple[str, ...]) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [_strip(v, drop) for v in obj]
    return obj


_AWS_VOLATILE = ("ResponseMetadata", "CreatedDate", "CreationDate", "LastPingDateTime", "RegistrationDate",
                 "LastStatusChange", "createdAt", "modifiedAt", "updatedAt", "LastRegistrationUpdateDateTime",
                 "VgwTelemetry", "PingStatus")


def aws_state(cfg) -> dict[str, Any]:
    """What the collection writes in the emulator, as plain data."""
    ec2 = client(cfg, "ec2")
    ssm = client(cfg, "ssm")
    eks = client(cfg, "eks")
    iam = client(cfg, "iam")
    ra = client(cfg, "rolesanywhere")
    state: dict[str, Any] = {}
    state["route_tables"] = {
        rt["RouteTableId"]: sorted(json.dumps(r, sort_keys=True, default=str) for r in rt.get("Routes", []))
        for rt in ec2.describe_route_tables()["RouteTables"]}
    state["vpn_connections"] = {
        v["VpnConnectionId"]: {"state": v.get("State"),
                               "routes": sorted(f"{r.get('DestinationCidrBlock')}:{r.get('State')}"
                                                for r in v.get("Routes", []))}
        for v in ec2.describe_vpn_connections()["VpnConnections"]}
    state["ssm_activations"] = sorted(
        json.dumps(_strip(a, _AWS_VOLATILE + ("RegistrationsCount",)), sort_keys=True, default=str)
        for a in ssm.describe_activations().get("ActivationList", []))
    state["ssm_activation_registrations"] = {
        a["ActivationId"]: a.get("RegistrationsCount") for a in ssm.describe_activations().get("ActivationList", [])}
    state["ssm_instances"] = sorted(
        f"{i['InstanceId']}:{i.get('Name', '')}" for i in ssm.describe_instance_information().get("InstanceInformationList", []))
    clusters = eks.list_clusters()["clusters"]
    state["eks"] = {}
    for name in clusters:
        cluster = eks.describe_cluster(name=name)["cluster"]
        entries = eks.list_access_entries(clusterName=name).get("accessEntries", [])
        state["eks"][name] = {
            "remote_networks": _strip(cluster.get("remoteNetworkConfig", {}), _AWS_VOLATILE),
            "access_entries": {arn: _strip(eks.describe_access_entry(clusterName=name, principalArn=arn)["accessEntry"],
                                           _AWS_VOLATILE) for arn in sorted(entries)},
        }
    state["iam_roles"] = {}
    for role in iam.list_roles()["Roles"]:
        attached = iam.list_attached_role_policies(RoleName=role["RoleName"]).get("AttachedPolicies", [])
        inline = iam.list_role_policies(RoleName=role["RoleName"]).get("PolicyNames", [])
        state["iam_roles"][role["RoleName"]] = {
            "trust": json.dumps(role.get("AssumeRolePolicyDocument"), sort_keys=True, default=str),
            "attached": sorted(p["PolicyArn"] for p in attached), "inline": sorted(inline)}
    state["trust_anchors"] = sorted(
        json.dumps(_strip(t, _AWS_VOLATILE), sort_keys=True, default=str) for t in ra.list_trust_anchors().get("trustAnchors", []))
    state["profiles"] = sorted(
        json.dumps(_strip(p, _AWS_VOLATILE), sort_keys=True, default=str) for p in ra.list_profiles().get("profiles", []))
    return state


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def k8s_state(cfg) -> dict[str, Any]:
    """Nodes, CiliumNodes and the kube-system workloads and configuration, without status or versions."""
    from kubernetes import client as kclient
    from kubernetes.client.rest import ApiException

    from . import k8s

    api = k8s.api_client(cfg)
    core = kclient.CoreV1Api(api)
    apps = kclient.AppsV1Api(api)
    custom = kclient.CustomObjectsApi(api)
    state: dict[str, Any] = {}
    state["nodes"] = {
        n.metadata.name: {"labels": n.metadata.labels or {}, "taints": [t.to_dict() for t in (n.spec.taints or [])],
                          "unschedulable": bool(n.spec.unschedulable)}
        for n in core.list_node().items}
    try:
        cnodes = custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnodes")["items"]
    except ApiException as exc:
        cnodes = [] if exc.status == 404 else [{"error": exc.status}]
    state["ciliumnodes"] = {c["metadata"].get("name"): _digest(c.get("spec", {})) for c in cnodes}
    state["kube_system"] = {}
    for kind, items in (("configmap", core.list_namespaced_config_map("kube-system").items),
                        ("secret", core.list_namespaced_secret("kube-system").items),
                        ("daemonset", apps.list_namespaced_daemon_set("kube-system").items),
                        ("deployment", apps.list_namespaced_deployment("kube-system").items),
                        ("serviceaccount", core.list_namespaced_service_account("kube-system").items)):
        for item in items:
            body = api.sanitize_for_serialization(item)
            body.pop("status", None)
            meta = body.get("metadata", {})
            kept = {"labels": meta.get("labels"), "annotations": {
                k: v for k, v in (meta.get("annotations") or {}).items() if "last-applied" not in k and "revision" not in k}}
            spec = {k: v for k, v in body.items() if k not in ("metadata", "status")}
            state["kube_system"][f"{kind}/{meta.get('name')}"] = _digest([kept, spec])
    state["namespaces"] = sorted(n.metadata.name for n in core.list_namespace().items)
    return state


def snapshot(cfg) -> dict[str, Any]:
    """The whole lab: {'hosts': ..., 'aws': ..., 'k8s': ...}."""
    return {"hosts": hosts_state(cfg), "aws": aws_state(cfg), "k8s": k8s_state(cfg)}


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}/{key}" if prefix else str(key)))
        return out
    if isinstance(obj, list) and all(isinstance(v, str) for v in obj):
        return {f"{prefix}[{v}]": True for v in obj}
    return {prefix: obj}


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per difference: '- key' (gone), '+ key' (new), '~ key: old -> new'."""
    flat_before, flat_after = _flatten(before), _flatten(after)
    lines = []
    for key in sorted(set(flat_before) | set(flat_after)):
        if key not in flat_after:
            lines.append(f"- {key}")
        elif key not in flat_before:
            lines.append(f"+ {key}")
        elif flat_before[key] != flat_after[key]:
            lines.append(f"~ {key}: {flat_before[key]!r} -> {flat_after[key]!r}")
    return lines
