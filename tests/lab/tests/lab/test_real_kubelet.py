"""A real kubelet on a lab host, and the lab's kubelet stand-in held to it (root only).

The kubelet of real_kubernetes_version (built from k8s.io/kubernetes by hnlab.gobuild) runs on one edge host with
Debian's containerd and CNI plugins (installed from Debian's archive by the host's apt), and registers its Node with
the lab's API server through the EKS endpoint across the VPN path, with a node identity of its own (group system:nodes).
What a real hybrid node does before any CNI runs, and what the collection's join must expect:
  - the Node registers NotReady: reason KubeletNotReady, message the container runtime's NetworkReady=false
    (NetworkPluginNotReady, "cni plugin not initialized");
  - it turns Ready once a CNI configuration exists on the host.
The stand-in kubelet that the lab's joins run (tests/lab/nodeadm_standin) posts the same condition; this test compares
its reason and message with the real kubelet's, word for word.

What the real kubelet needs inside an nspawn host, and why (lab recipes): /dev/kmsg (a link to /dev/console),
the kernel tunables it insists on (hnlab.network.KUBELET_SYSCTLS, set on the machine for this test and restored),
and no QoS cgroups or node allocatable enforcement (cgroupsPerQOS false, enforceNodeAllocatable []), with swap
allowed (failSwapOn false). Everything is removed at the end, the packages purged, so that later tests find the host
as they would otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from hnlab import edge, k8s, network
from hnlab.config import LAB_DIR
from hnlab.testing import delete_node, network_not_ready, read_node, ready, ssh, wait_node

pytestmark = pytest.mark.lab

KUBELET = "/usr/local/bin/kubelet-real"
CONF = "/etc/hnlab-real-kubelet"
ROOT_DIR = "/var/lib/kubelet-real"
CNI_CONF = "/etc/cni/net.d/10-hnlab-bridge.conflist"
UNIT = "hnlab-real-kubelet"
PACKAGES = "containerd containernetworking-plugins"
REGISTER_TIMEOUT = 180.0
READY_TIMEOUT = 120.0


def _ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def _standin():
    spec = importlib.util.spec_from_file_location("nodeadm_standin_for_kubelet", LAB_DIR / "nodeadm_standin" / "nodeadm.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _kubelet_config(node_ip: str) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node_ip,
        "readOnlyPort": 0,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
        # Debian's containerd runs its runc shims with cgroupfs (no SystemdCgroup in its default configuration).
        "cgroupDriver": "cgroupfs",
        # Inside an nspawn container: no QoS cgroup tree, nothing to enforce node allocatable on, swap allowed.
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "registerNode": True,
        "nodeStatusUpdateFrequency": "2s",
    }


def _wait_node(cfg, host, name, check, timeout):
    return wait_node(cfg, name, check, timeout, lambda: ssh(
        cfg, host, f"journalctl -u {UNIT} --no-pager -n 40 2>&1; systemctl status containerd --no-pager 2>&1 | tail -5"
    ).stdout)


@pytest.fixture(scope="module")
def kubelet_host(lab):
    if not lab.kubelet_binary.exists():
        pytest.fail(f"{lab.kubelet_binary} missing: the lab's one-time builds (tests/lab/k8s/build.py) make it")
    spec = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"][-1]
    root = edge.host_root(lab, spec["name"])
    node_name = f"real-kubelet-{spec['name']}"
    # The EKS endpoint is in the VPC, reached through the VPN gateway (what host preparation routes on a real site).
    route = f"{lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}"
    added_route = ssh(lab, spec, f"ip route show {lab.vpc_cidr} | grep -q . || ip route add {route} && echo added")
    network.set_kubelet_sysctls(lab)
    try:
        _ok(ssh(lab, spec, "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && "
                           f"apt-get install -y -qq --no-install-recommends {PACKAGES}", timeout=600))
        shutil.copy2(lab.kubelet_binary, root / KUBELET.lstrip("/"))
        _write(root, f"{CONF}/ca.crt", k8s.ca_pem(lab))
        _write(root, f"{CONF}/kubeconfig", json.dumps({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "eks", "cluster": {
                "server": f"https://{lab.eks_endpoint_ip}:{lab.eks_endpoint_port}",
                "certificate-authority": f"{CONF}/ca.crt"}}],
            "users": [{"name": "kubelet", "user": {"token": k8s.real_kubelet_token(lab)}}],
            "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "kubelet"}}],
            "current-context": "eks"}), 0o600)
        _write(root, f"{CONF}/config.json", json.dumps(_kubelet_config(spec["ip"])))
        _ok(ssh(lab, spec, "set -e; [ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg; "
                           "mkdir -p /opt/cni; [ -e /opt/cni/bin ] || ln -s /usr/lib/cni /opt/cni/bin; "
                           "systemctl restart containerd; "
                           f"systemd-run --unit={UNIT} --property=Restart=no {KUBELET} --config={CONF}/config.json "
                           f"--kubeconfig={CONF}/kubeconfig --root-dir={ROOT_DIR} --hostname-override={node_name} "
                           f"--node-ip={spec['ip']} --v=1"))
        yield spec, node_name
    finally:
        ssh(lab, spec, f"systemctl stop {UNIT}; systemctl reset-failed {UNIT}; "
                       "export DEBIAN_FRONTEND=noninteractive; "
                       f"apt-get purge -y -qq {PACKAGES} runc; apt-get autoremove -y -qq --purge; "
                       f"rm -rf {KUBELET} {CONF} {ROOT_DIR} {CNI_CONF} /opt/cni /var/lib/containerd /run/containerd; "
                       "rmdir /etc/cni/net.d /etc/cni 2>/dev/null; [ -L /dev/kmsg ] && rm -f /dev/kmsg; true",
            timeout=300)
        delete_node(lab, node_name)
        network.restore_kubelet_sysctls(lab)
        if "added" in added_route.stdout:
            ssh(lab, spec, f"ip route del {route}")


def test_real_kubelet_registers_not_ready_until_a_cni_exists(lab, kubelet_host):
    host, name = kubelet_host
    node = _wait_node(lab, host, name, network_not_ready, REGISTER_TIMEOUT)
    assert node.status.node_info.kubelet_version == lab.real_kubernetes_version
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    # The stand-in kubelet of the lab's joins posts exactly the condition the real kubelet settles on while no CNI
    # configuration exists. Right after registration the real one briefly aggregates a second error as
    # "[<network error>, CSINode is not yet initialized]" (k8s.io/kubernetes pkg/kubelet/nodestatus/setters.go,
    # ReadyCondition, an errors aggregate); the collection's waits match the reason, not the exact text.
    standin = _standin()

    def settled(node):
        (ready_condition,) = [c for c in node.status.conditions if c.type == "Ready"]
        return ready_condition.message == standin.NETWORK_NOT_READY

    node = _wait_node(lab, host, name, lambda n: network_not_ready(n) and settled(n), 60)
    (condition,) = [c for c in node.status.conditions if c.type == "Ready"]
    assert (condition.status, condition.reason) == ("False", "KubeletNotReady")
    assert ssh(lab, host, "ls /etc/cni/net.d 2>/dev/null").stdout.strip() == ""

    # A CNI configuration (bridge, host-local, loopback: Debian's plugins) and the runtime reports its network ready.
    _write(edge.host_root(lab, host["name"]), CNI_CONF, json.dumps({
        "cniVersion": "1.0.0", "name": "hnlab-bridge",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": "192.168.250.0/24"}]]}},
                    {"type": "loopback"}]}))
    node = _wait_node(lab, host, name, ready, READY_TIMEOUT)
    (condition,) = [c for c in node.status.conditions if c.type == "Ready"]
    assert condition.reason == "KubeletReady"


def test_the_kubelet_stays_registered_with_the_node_identity(lab, kubelet_host):
    """Registered by the node identity (group system:nodes), as a hybrid node's kubelet is, and still posting."""
    host, name = kubelet_host
    node = read_node(lab, name)
    assert node is not None
    assert node.metadata.labels.get("kubernetes.io/hostname") == name
    internal = [a.address for a in node.status.addresses if a.type == "InternalIP"]
    assert internal == [host["ip"]]
    assert _ok(ssh(lab, host, f"systemctl is-active {UNIT}")).stdout.strip() == "active"
