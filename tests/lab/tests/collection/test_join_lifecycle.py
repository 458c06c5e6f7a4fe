"""The nodeadm lifecycle on the lab: playbooks/join.yml, upgrade.yml and decommission.yml (root only).

In file order, over every edge host of the running lab:
  - a checksum mismatch on the mirror fails the download with a clear message and leaves no binary;
  - join with an init fault on one host fails only that host (nodeadm's message and `nodeadm debug`
    in the output), the others become Ready Nodes; after the fault is cleared the re-run converges;
    each Node has the hybrid label, its pool's labels and taints and its --node-ip in the remote
    node network; a further re-run reports changed=0 and leaves nodeadm and the kubelet untouched;
  - the upgrade 1.31 -> 1.32 with serial 1 never has more than one Node unschedulable (a thread
    watches the Nodes during the run);
  - decommission deletes the Nodes, deregisters the instances and leaves the hosts as before.
Everything is undone at the end of the module (uninstall, files, Nodes, routes, faults, AWS role),
since other lab tests expect hosts without the VPC route and without nodeadm.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import threading
import time
import uuid

import pytest

from hnlab.testing import REPO, light_inventory, play, recap as _recap, ssh as _ssh
from hnlab import edge, k8s, mirror, testing
from hnlab.aws.clients import client

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

# On the light profile's inventory (hnlab.testing.light_inventory): the stand-in's init fault file, the SSM activation
# and registration, the upgrade 1.31 -> 1.32.

JOIN = REPO / "playbooks" / "join.yml"
UPGRADE = REPO / "playbooks" / "upgrade.yml"
DECOMMISSION = REPO / "playbooks" / "decommission.yml"
REPAVE = REPO / "playbooks" / "repave.yml"
NODEADM = "/usr/local/bin/nodeadm"
ROUTE_DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
FAULT = "lab fault: kubelet serving certificate refused"
# What a join leaves on a host, and what decommission must take away again.
JOIN_PATHS = (NODEADM, "/etc/nodeadm/nodeConfig.yaml", "/opt/nodeadm/tracker", "/usr/bin/kubelet",
              "/var/lib/kubelet/kubeconfig", "/var/lib/amazon/ssm/registration", ROUTE_DROP_IN)


def _play(cfg, playbook, *extra, timeout=900):
    return play(light_inventory(cfg), playbook, *extra, timeout=timeout)


def _nodes(cfg):
    from kubernetes import client as kube

    with k8s.api_client(cfg) as api:
        return kube.CoreV1Api(api).list_node().items


def _node_by_ip(cfg, ip):
    for node in _nodes(cfg):
        if any(a.type == "InternalIP" and a.address == ip for a in (node.status.addresses or [])):
            return node
    return None


_network_not_ready = testing.network_not_ready
_kubelet_posting = testing.kubelet_posting


def _pools(cfg):
    import yaml

    inv = yaml.safe_load(light_inventory(cfg).read_text())
    pools = {}
    for pool in inv["all"]["children"]["hybrid_nodes"]["children"].values():
        for name in pool["hosts"]:
            pools[name] = pool["vars"]
    return pools


def _cleanup(cfg, hosts, role_name):
    route = f"{cfg.vpc_cidr} via {cfg.vpn_gateway_edge_ip}"
    for host in hosts:
        _ssh(cfg, host, f"[ -x {NODEADM} ] && {NODEADM} uninstall --skip pod-validation,node-validation; "
                        f"rm -f {NODEADM} /etc/hnlab/fail-init {ROUTE_DROP_IN}; rm -rf /etc/nodeadm /var/lib/amazon/ssm; "
                        f"rmdir {os.path.dirname(ROUTE_DROP_IN)} /opt/cni /var/lib/amazon /etc/eks /var/lib/nodeadm-standin "
                        f"2>/dev/null; ip route del {route} 2>/dev/null; {testing.CNI_CLEANUP}; true", timeout=180)
    from kubernetes import client as kube

    ips = {host["ip"] for host in hosts}
    with k8s.api_client(cfg) as api:
        core = kube.CoreV1Api(api)
        for node in core.list_node().items:
            if any(a.type == "InternalIP" and a.address in ips for a in (node.status.addresses or [])):
                core.delete_node(node.metadata.name)
    for version in cfg.nodeadm_versions:
        mirror.set_fault(cfg, version, "amd64", None)
    ssm, iam, eks = client(cfg, "ssm"), client(cfg, "iam"), client(cfg, "eks")
    for activation in ssm.describe_activations()["ActivationList"]:
        if activation.get("IamRole") == role_name:
            ssm.delete_activation(ActivationId=activation["ActivationId"])
    for instance in ssm.describe_instance_information()["InstanceInformationList"]:
        if instance.get("IamRole") == role_name:
            ssm.deregister_managed_instance(InstanceId=instance["InstanceId"])
    arn = f"arn:aws:iam::{cfg.account_id}:role/{role_name}"
    try:
        eks.delete_access_entry(clusterName=cfg.cluster_name, principalArn=arn)
    except Exception:  # noqa: BLE001 - cleanup is best effort, each step on its own
        pass
    try:
        iam.delete_role(RoleName=role_name)
    except Exception:  # noqa: BLE001
        pass


@pytest.fixture(scope="module")
def site(lab):
    """The edge hosts, and a hybrid nodes role with a HYBRID_LINUX access entry; all undone at the end."""
    hosts = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "edge"]
    role_name = f"lab-lifecycle-{uuid.uuid4().hex[:8]}"
    arn = client(lab, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=arn, type="HYBRID_LINUX")
    for host in hosts:  # hosts as new: no CNI configuration left by an earlier test's Cilium
        _ssh(lab, host, testing.CNI_CLEANUP)
    try:
        yield {"hosts": hosts, "role": role_name, "extra": ["-e", f"hybrid_iam_role_name={role_name}",
                                                            "-e", "nodeadm_retry_delay=1"]}
    finally:
        _cleanup(lab, hosts, role_name)


@pytest.mark.reliability("fault")
def test_checksum_mismatch_fails_the_download_and_leaves_no_binary(lab, site):
    host = site["hosts"][0]
    version = lab.nodeadm_versions[0]
    mirror.set_fault(lab, version, "amd64", "checksum-mismatch")
    try:
        code, output = _play(lab, JOIN, "--limit", host["name"], *site["extra"])
    finally:
        mirror.set_fault(lab, version, "amd64", None)
    assert code != 0, output
    assert f"nodeadm {version} (amd64) could not be downloaded and verified" in output, output
    assert "checksum" in output.lower() and "did not match" in output, output
    assert _recap(output)[host["name"]]["failed"] == 1
    left = _ssh(lab, host, f"ls {NODEADM}* /opt/nodeadm 2>/dev/null; ls /usr/local/bin")
    assert left.stdout.strip() == "", left.stdout


@pytest.mark.reliability("fault")
@pytest.mark.reliability("fault")
def test_the_activation_is_deleted_even_when_the_join_fails_on_every_host(lab, site):
    hosts = site["hosts"]
    for host in hosts:
        assert _ssh(lab, host, f"mkdir -p /etc/hnlab && printf %s {shlex.quote(FAULT)} > /etc/hnlab/fail-init"
                    ).returncode == 0
    try:
        code, output = _play(lab, JOIN, *site["extra"], "-e", "nodeadm_retries=0")
    finally:
        for host in hosts:
            _ssh(lab, host, "rm -f /etc/hnlab/fail-init")
    assert code != 0, output
    assert all(counts["failed"] == 1 for name, counts in _recap(output).items()
               if name in {h["name"] for h in hosts}), output
    # The role's always: the activation made for the hosts is gone, though no host joined.
    assert "Delete the SSM activation once the hosts have registered" in output, output
    left = [a for a in client(lab, "ssm").describe_activations()["ActivationList"] if a.get("IamRole") == site["role"]]
    assert left == [], left


def test_join_fails_only_the_faulty_host_then_converges(lab, site):
    hosts = site["hosts"]
    faulty = hosts[1] if len(hosts) > 1 else hosts[0]
    assert _ssh(lab, faulty, f"mkdir -p /etc/hnlab && printf %s {shlex.quote(FAULT)} > /etc/hnlab/fail-init").returncode == 0
    code, output = _play(lab, JOIN, *site["extra"])
    assert code != 0, output
    recap = _recap(output)
    assert recap[faulty["name"]]["failed"] == 1, output
    assert FAULT in output, output
    assert "[OK] config" in output, output  # nodeadm debug ran and its output came back
    for host in hosts:
        if host is not faulty:
            assert recap[host["name"]]["failed"] == 0, output
            # Registered, and NotReady until a CNI runs (no Cilium here): the join waits for the registration only.
            node = _node_by_ip(lab, host["ip"])
            assert node is not None and _network_not_ready(node), (host, node and node.status.conditions)
    assert _node_by_ip(lab, faulty["ip"]) is None

    assert _ssh(lab, faulty, "rm /etc/hnlab/fail-init").returncode == 0
    code, output = _play(lab, JOIN, *site["extra"])
    assert code == 0, output
    pools = _pools(lab)
    remote = [ipaddress.ip_network(c) for c in (lab.edge_cidr,)]
    for host in hosts:
        node = _node_by_ip(lab, host["ip"])
        assert node is not None and _network_not_ready(node), host
        assert node.metadata.name.startswith("mi-")
        labels = node.metadata.labels
        assert labels["eks.amazonaws.com/compute-type"] == "hybrid"
        pool = pools[host["name"]]
        for key, value in pool["hybrid_node_labels"].items():
            assert labels[key] == value, (host["name"], key)
        taints = sorted(f"{t.key}={t.value}:{t.effect}" for t in (node.spec.taints or []))
        assert taints == sorted(pool["hybrid_node_taints"]), host["name"]
        env = _ssh(lab, host, "cat /etc/eks/kubelet/environment").stdout
        node_ip = re.search(r"--node-ip=(\S+)", env).group(1)
        assert node_ip == host["ip"] and any(ipaddress.ip_address(node_ip) in net for net in remote)
    # The activations were deleted after use.
    left = [a for a in client(lab, "ssm").describe_activations()["ActivationList"] if a.get("IamRole") == site["role"]]
    assert left == []

    # A re-run changes nothing: no nodeadm verb runs, the kubelet is not restarted, the tracker is not rewritten.
    probe = "stat -c %Y /opt/nodeadm/tracker; systemctl show kubelet -p ActiveEnterTimestampMonotonic"
    before = {host["name"]: _ssh(lab, host, probe).stdout for host in hosts}
    code, output = _play(lab, JOIN, *site["extra"])
    assert code == 0, output
    assert all(counts["changed"] == 0 for counts in _recap(output).values()), output
    assert {host["name"]: _ssh(lab, host, probe).stdout for host in hosts} == before
    # The wait is one read of all Nodes on the controller for the whole play, not one per host.
    wait = output.split("Wait for the Node of every host of the play (controller, one read of all Nodes) to be registered",
                        1)[1].split("TASK [", 1)[0]
    assert len(re.findall(r"^ok: \[", wait, re.M)) == 1, wait


def test_upgrade_serial_one_never_has_two_nodes_unschedulable(lab, site):
    hosts = site["hosts"]
    ips = {host["ip"] for host in hosts}
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                seen.append(sum(1 for node in _nodes(lab) if node.spec.unschedulable and any(
                    a.type == "InternalIP" and a.address in ips for a in (node.status.addresses or []))))
            except Exception:  # noqa: BLE001 - a failed poll is only a missed sample
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code, output = _play(lab, UPGRADE, *site["extra"], "-e", "hybrid_kubernetes_version=1.32",
                             "-e", "hybrid_upgrade_serial=1")
    finally:
        stop.set()
        watcher.join(10)
    assert code == 0, output
    assert seen and max(seen) == 1, (max(seen) if seen else None, output)
    for host in hosts:
        node = _node_by_ip(lab, host["ip"])
        assert node.status.node_info.kubelet_version.startswith("v1.32"), host
        assert not node.spec.unschedulable, host
        # NotReady before (no CNI), so the upgrade waited for the registration, not for Ready.
        assert _network_not_ready(node), (host["name"], node.metadata.name,
                                          [(c.type, c.status, c.reason) for c in node.status.conditions])


def test_repave_kubernetes_applies_a_pool_label_change_to_the_joined_nodes(lab, site):
    # The kubelet applies --node-labels only when it registers the Node: the change goes through the API, for the
    # pool's Nodes only; a re-run makes no change; a label dropped again from the pool is removed, since the
    # collection recorded that it set it.
    import yaml

    inventory = yaml.safe_load(light_inventory(lab).read_text())
    pool = inventory["all"]["children"]["hybrid_nodes"]["children"]["pool_a"]
    members = set(pool["hosts"])
    wanted = dict(pool["vars"]["hybrid_node_labels"], **{"hybridnodes.eks/tier": "gold"})
    repave = [*site["extra"], "-e", "hybrid_repave=kubernetes", "-e", "hybrid_repave_pool=pool_a",
              "-e", "hybrid_kubernetes_version=1.32"]
    code, output = _play(lab, REPAVE, *repave, "-e", json.dumps({"hybrid_node_labels": wanted}))
    assert code == 0, output
    for host in site["hosts"]:
        labels = _node_by_ip(lab, host["ip"]).metadata.labels
        assert (labels.get("hybridnodes.eks/tier") == "gold") is (host["name"] in members), (host["name"], labels)
    assert "Cordon and drain the Node (controller)]" not in output or "skipping" in output
    code, output = _play(lab, REPAVE, *repave, "-e", json.dumps({"hybrid_node_labels": wanted}))
    assert code == 0 and all(c["changed"] == 0 for c in _recap(output).values()), output
    code, output = _play(lab, REPAVE, *repave)  # the pool's own labels again: the recorded extra one goes
    assert code == 0, output
    for host in site["hosts"]:
        assert "hybridnodes.eks/tier" not in _node_by_ip(lab, host["ip"]).metadata.labels, host["name"]


def test_decommission_leaves_the_hosts_as_before(lab, site):
    hosts = site["hosts"]
    names = {host["name"]: _node_by_ip(lab, host["ip"]).metadata.name for host in hosts}
    limit = ",".join(sorted(host["name"] for host in hosts))
    # Guarded: no limit, a confirmation that names other hosts, or more hosts than the maximum: refused, every
    # problem at once, before anything changes.
    code, output = _play(lab, DECOMMISSION, *site["extra"], "-e", "hybrid_decommission_confirm=edge01")
    assert code != 0 and "Nothing was changed" in output, output
    assert "no --limit" in output and f"Fix: -e hybrid_decommission_confirm={limit}" in output, output
    code, output = _play(lab, DECOMMISSION, *site["extra"], "--limit", limit, "-e", f"hybrid_decommission_confirm={limit}",
                         "-e", "hybrid_decommission_max_hosts=1")
    assert code != 0 and "more than hybrid_decommission_max_hosts=1" in output, output
    assert "Cordon and drain the Node (controller)]" not in output, output
    assert {host["name"]: _node_by_ip(lab, host["ip"]).metadata.name for host in hosts} == names
    # What Cilium and IAM Roles Anywhere leave on a host, on the first one: the decommission removes it.
    leftovers = ("ip link add cilium_host type veth peer name cilium_net && mkdir -p /var/run/cilium /etc/cni/net.d "
                 "/etc/iam/pki && touch /var/run/cilium/cilium.pid /etc/iam/pki/server.key /etc/iam/pki/server.pem && "
                 "echo '{}' > /etc/cni/net.d/05-cilium.conflist")
    assert _ssh(lab, hosts[0], leftovers).returncode == 0
    code, output = _play(lab, DECOMMISSION, *site["extra"], "--limit", limit, "-e", f"hybrid_decommission_confirm={limit}")
    assert code == 0, output
    gone = ("ip link show cilium_host; ip link show cilium_net; ls /var/run/cilium /etc/cni/net.d/05-cilium.conflist "
            "/etc/iam/pki/server.key /etc/iam/pki/server.pem")
    assert _ssh(lab, hosts[0], gone).stdout.strip() == "", output
    _ssh(lab, hosts[0], "rmdir /etc/cni/net.d /etc/cni /etc/iam/pki /etc/iam 2>/dev/null; true")
    for host in hosts:
        assert _node_by_ip(lab, host["ip"]) is None
        present = _ssh(lab, host, " ".join(f"[ -e {p} ] && echo {p};" for p in JOIN_PATHS) + " true").stdout.split()
        assert present == [], (host["name"], present)
        routes = _ssh(lab, host, "ip -4 route").stdout
        assert lab.vpc_cidr not in routes, routes
        assert _ssh(lab, host, "systemctl is-active kubelet").stdout.strip() != "active"
    registered = client(lab, "ssm").describe_instance_information()["InstanceInformationList"]
    assert not [item["InstanceId"] for item in registered if item["InstanceId"] in names.values()], (names, output)
