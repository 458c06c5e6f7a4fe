"""A real edge host joins the lab cluster by hand, the way the playbooks will.

Then the pod network path the routes stage will automate: with Cilium's
cluster pool "deployed" (its ConfigMap), the lab's operator stand-in gives the
Node a CiliumNode, the host's stand-in agent puts a pod address from it on
cilium_host, and the cloud worker reaches that pod address through the VPN
gateway only while the gateway has the pod CIDR route.

On the last edge host of the running lab: add the VPC route via the VPN
server IP, download nodeadm from the artifact mirror and verify it against
the published .sha256, `nodeadm install`, then `nodeadm init` with an SSM
hybrid activation created in the AWS emulator for a role that has a
HYBRID_LINUX access entry. The host must then be a Ready Node in the lab's
API server (seen with kubectl), registered through the VPN. Everything is
undone at the end (uninstall, Node deleted, route removed).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import subprocess
import time
import uuid

import pytest

from hnlab import cilium_operator, edge, k8s, netns, testing
from hnlab.aws.clients import client

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

NODEADM = "/usr/local/bin/nodeadm"
NODECONFIG = "/etc/nodeadm/nodeConfig.yaml"


def _ssh(cfg, host, cmd, timeout=120):
    return edge.ssh(cfg, host["ip"], "sh", "-c", shlex.quote(cmd), check=False, timeout=timeout)


def _ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


@pytest.fixture
def edge_host(lab):
    host = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "edge"][-1]
    route = f"{lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}"
    _ok(_ssh(lab, host, f"ip route replace {route}"))
    yield host
    _ssh(lab, host, f"{NODEADM} uninstall --skip pod-validation,node-validation; rm -f {NODEADM} {NODECONFIG}; "
                    f"rm -rf /var/lib/amazon/ssm; ip route del {route}")
    # The stand-in kubelet registers a deleted Node again until uninstall stops it: delete what it left.
    from kubernetes import client as kube

    with k8s.api_client(lab) as api:
        core = kube.CoreV1Api(api)
        for node in core.list_node().items:
            if any(a.type == "InternalIP" and a.address == host["ip"] for a in (node.status.addresses or [])):
                core.delete_node(node.metadata.name)


def test_edge_host_joins_through_the_vpn(lab, edge_host):
    version = lab.nodeadm_versions[0]
    url = f"{lab.mirror_base_url}/releases/{version}/bin/linux/amd64/nodeadm"

    # Download and verify as the collection will: the digest is the first word of the .sha256 file.
    _ok(_ssh(lab, edge_host, f"curl -fsS -o {NODEADM}.part {url} && curl -fsS -o /tmp/nodeadm.sha256 {url}.sha256"))
    digests = _ok(_ssh(lab, edge_host, f"sha256sum {NODEADM}.part | cut -d' ' -f1; cut -d' ' -f1 /tmp/nodeadm.sha256"))
    computed, published = digests.stdout.split()
    assert computed == published
    _ok(_ssh(lab, edge_host, f"install -m 0755 {NODEADM}.part {NODEADM} && rm {NODEADM}.part"))

    # nodeadm's trap, reproduced: init before install exits 0 and does nothing.
    trap = _ssh(lab, edge_host, f"{NODEADM} init -c file:///nonexistent.yaml")
    assert trap.returncode == 0
    assert "not installed" in (trap.stdout + trap.stderr).lower()

    _ok(_ssh(lab, edge_host, f"{NODEADM} install {lab.kubernetes_version} --credential-provider ssm", timeout=300))
    tracker = _ok(_ssh(lab, edge_host, "cat /opt/nodeadm/tracker")).stdout
    assert "Ssm: true" in tracker

    # The AWS side, from the controller: a role with a HYBRID_LINUX access entry and an activation for one host.
    role_name = f"lab-join-{uuid.uuid4().hex[:8]}"
    role_arn = client(lab, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=role_arn, type="HYBRID_LINUX")
    activation = client(lab, "ssm").create_activation(IamRole=role_name, RegistrationLimit=1)

    nodeconfig = {
        "apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
        "spec": {
            "cluster": {"name": lab.cluster_name, "region": lab.region},
            "kubelet": {"flags": [f"--node-ip={edge_host['ip']}", "--node-labels=hybridnodes.eks/pool=lab"]},
            "hybrid": {"ssm": {"activationId": activation["ActivationId"],
                               "activationCode": activation["ActivationCode"]}},
        },
    }
    # JSON is YAML; written with mode 0600 as the collection writes NodeConfigs.
    _ok(_ssh(lab, edge_host, f"mkdir -p /etc/nodeadm && umask 077 && printf %s {shlex.quote(json.dumps(nodeconfig))} > {NODECONFIG}"))
    _ok(_ssh(lab, edge_host, f"{NODEADM} init -c file://{NODECONFIG}", timeout=300))

    registration = json.loads(_ok(_ssh(lab, edge_host, "cat /var/lib/amazon/ssm/registration")).stdout)
    node_name = registration["ManagedInstanceID"]
    assert node_name.startswith("mi-")

    # The Node, seen by kubectl through the admin kubeconfig.
    got = _ok(subprocess.run([str(lab.kubectl_binary), "--kubeconfig", str(lab.kubeconfig), "get", "node", node_name,
                              "-o", "json"], capture_output=True, text=True, timeout=60, check=False))
    node = json.loads(got.stdout)
    try:
        labels = node["metadata"]["labels"]
        assert labels["eks.amazonaws.com/compute-type"] == "hybrid"
        assert labels["hybridnodes.eks/pool"] == "lab"
        addresses = {item["type"]: item["address"] for item in node["status"]["addresses"]}
        assert addresses["InternalIP"] == edge_host["ip"]
        # Registered, and NotReady until a CNI runs, as a real hybrid node (kubelet: NetworkPluginNotReady).
        ready = [cond for cond in node["status"]["conditions"] if cond["type"] == "Ready"]
        assert ready and ready[0]["status"] == "False" and "NetworkPluginNotReady" in ready[0]["message"], ready
        assert node["status"]["nodeInfo"]["kubeletVersion"].startswith(f"v{lab.kubernetes_version}")
        # The emulator saw the activation used once.
        used = client(lab, "ssm").describe_activations(
            Filters=[{"FilterKey": "ActivationIds", "FilterValues": [activation["ActivationId"]]}])["ActivationList"]
        assert used[0]["RegistrationsCount"] == 1
        cni_makes_the_node_ready(lab, edge_host, node_name)
        pod_network_path(lab, edge_host, node_name)
    finally:
        with k8s.api_client(lab) as api:
            from kubernetes import client as kube

            kube.CoreV1Api(api).delete_node(node_name)


def _wait(what, probe, timeout=60.0, interval=1.0):
    """Poll probe() until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _worker_ping(lab, address):
    """One ping from the cloud worker (in the VPC), bounded to two seconds."""
    result = netns.run(["ping", "-c", "1", "-W", "2", address], netns=lab.netns_worker, check=False)
    return result.returncode == 0


def cni_makes_the_node_ready(lab, edge_host, node_name):
    """Cilium's agent DaemonSet (hybrid affinity) selects the Node: the lab's Cilium stand-in writes the CNI
    configuration onto the host, and the kubelet turns the Node Ready."""
    from kubernetes import client as kube

    testing.cilium_agent_daemonset(lab, present=True)
    try:
        with k8s.api_client(lab) as api:
            core = kube.CoreV1Api(api)

            def ready():
                return testing.ready(core.read_node(node_name))

            _wait(f"Node {node_name} Ready once Cilium's DaemonSet selects it", ready, timeout=60)
        conf = _ok(_ssh(lab, edge_host, f"cat {cilium_operator.CNI_CONF}")).stdout
        assert json.loads(conf)["plugins"][0]["type"] == "cilium-cni"
    finally:
        testing.cilium_agent_daemonset(lab, present=False)
        _ssh(lab, edge_host, testing.CNI_CLEANUP)


def pod_network_path(lab, edge_host, node_name):
    from kubernetes import client as kube
    from kubernetes.client.rest import ApiException

    k8s.create_ciliumnode_crd(lab)
    config_map = kube.V1ConfigMap(metadata=kube.V1ObjectMeta(name="cilium-config", namespace="kube-system"),
                                  data={"cluster-pool-ipv4-cidr": lab.pod_cidr,
                                        "cluster-pool-ipv4-mask-size": str(lab.pod_mask_size)})
    gateway = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "vpngw"][0]
    with k8s.api_client(lab) as api:
        core = kube.CoreV1Api(api)
        custom = kube.CustomObjectsApi(api)
        core.create_namespaced_config_map("kube-system", config_map)
        pod_cidr = None
        try:
            def allocated():
                try:
                    node = custom.get_cluster_custom_object("cilium.io", "v2", "ciliumnodes", node_name)
                except ApiException:
                    return None
                return ((node.get("spec") or {}).get("ipam") or {}).get("podCIDRs")

            pod_cidr = _wait(f"a CiliumNode for {node_name}", allocated)[0]
            network = ipaddress.ip_network(pod_cidr)
            assert network.subnet_of(ipaddress.ip_network(lab.pod_cidr))
            assert network.prefixlen == lab.pod_mask_size
            pod_address = str(network.network_address + 10)
            seen = {}

            def pod_address_on_host():
                seen["addr"] = _ssh(lab, edge_host, "ip -4 -o addr show dev cilium_host")
                return pod_address in seen["addr"].stdout

            try:
                _wait(f"{pod_address} on {edge_host['name']}'s cilium_host", pod_address_on_host, timeout=45)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; last seen: {seen['addr'].stdout!r} {seen['addr'].stderr!r}") from None

            assert not _worker_ping(lab, pod_address), "the pod address answered before the gateway had its route"
            _ok(_ssh(lab, gateway, f"ip route replace {pod_cidr} via {edge_host['ip']}"))
            assert _worker_ping(lab, pod_address), "the cloud worker cannot reach the pod address through the VPN gateway"
        finally:
            if pod_cidr:
                _ssh(lab, gateway, f"ip route del {pod_cidr}")
            core.delete_namespaced_config_map("cilium-config", "kube-system")
            try:
                custom.delete_cluster_custom_object("cilium.io", "v2", "ciliumnodes", node_name)
            except ApiException:
                pass
