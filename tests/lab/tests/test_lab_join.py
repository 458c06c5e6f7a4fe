"""A real edge host joins the lab cluster by hand, the way the playbooks will.

On the last edge host of the running lab: add the VPC route via the VPN
server IP, download nodeadm from the artifact mirror and verify it against
the published .sha256, `nodeadm install`, then `nodeadm init` with an SSM
hybrid activation created in the AWS emulator for a role that has a
HYBRID_LINUX access entry. The host must then be a Ready Node in the lab's
API server (seen with kubectl), registered through the VPN. Everything is
undone at the end (uninstall, Node deleted, route removed).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid

import pytest

from hnlab import edge, k8s
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
        ready = [cond for cond in node["status"]["conditions"] if cond["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"
        assert node["status"]["nodeInfo"]["kubeletVersion"].startswith(f"v{lab.kubernetes_version}")
        # The emulator saw the activation used once.
        used = client(lab, "ssm").describe_activations(
            Filters=[{"FilterKey": "ActivationIds", "FilterValues": [activation["ActivationId"]]}])["ActivationList"]
        assert used[0]["RegistrationsCount"] == 1
    finally:
        with k8s.api_client(lab) as api:
            from kubernetes import client as kube

            kube.CoreV1Api(api).delete_node(node_name)
