"""Lab-only: nodeadm stand-in init + stand-in kubelet + cilium operator against the
lab's real kube-apiserver (hnlab.k8s) and AWS emulator (hnlab.aws), on loopback.

Skipped unless the kube-apiserver binary is built (tests/lab/k8s/build.py).
It uses free loopback ports and its own state dir, so it runs beside a lab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hnlab.config import LAB_DIR, LabConfig, isolated

pytestmark = pytest.mark.lab
SCRIPT = LAB_DIR / "nodeadm_standin" / "nodeadm.py"
BASE = LabConfig()

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "ciliumnodes.cilium.io"},
    "spec": {"group": "cilium.io", "scope": "Cluster",
             "names": {"plural": "ciliumnodes", "singular": "ciliumnode", "kind": "CiliumNode", "listKind": "CiliumNodeList"},
             "versions": [{"name": "v2", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not BASE.apiserver_binary.exists() or not os.path.exists("/usr/bin/etcd"):
        pytest.skip("kube-apiserver not built (tests/lab/k8s/build.py) or etcd missing")
    pytest.importorskip("kubernetes")
    from hnlab import aws, k8s

    # Free loopback ports and a private state dir: runs beside a running lab.
    cfg = isolated(tmp_path_factory.mktemp("lab-state"), "moto_port", "apiserver_port", "etcd_client_port", "etcd_peer_port")
    k8s.start(cfg)
    try:
        aws.start(cfg)
        try:
            aws.seed(cfg, k8s.ca_pem(cfg), k8s.server_url(cfg))
            from hnlab.aws.clients import client

            role = client(cfg, "iam").create_role(RoleName="hybrid-node-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            client(cfg, "eks").create_access_entry(clusterName=cfg.cluster_name, principalArn=role, type="HYBRID_LINUX")
            yield cfg
        finally:
            aws.stop(cfg)
    finally:
        k8s.stop(cfg)


def run(root, *args, env=None, script=SCRIPT):
    e = dict(os.environ, NODEADM_STANDIN_ROOT=str(root), NODEADM_STANDIN_DEFAULT_IP="10.200.0.11",
             NODEADM_STANDIN_HOSTNAME="edge01", **(env or {}))
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=e, timeout=120, check=False)


def test_init_registers_ready_node_and_cilium_plumbing(lab, tmp_path):
    import yaml
    from kubernetes import client as kc

    from hnlab import cilium_operator, k8s
    from hnlab.aws.clients import client

    cfg = lab
    root = tmp_path / "root"
    (root / "etc/hnlab").mkdir(parents=True)
    (root / "etc/hnlab/node-token").write_text(k8s.node_token(cfg))
    env = {"NODEADM_STANDIN_AWS_ENDPOINT": cfg.moto_endpoint}
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    act = client(cfg, "ssm").create_activation(IamRole="hybrid-node-role", RegistrationLimit=1)
    doc = {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
           "spec": {"cluster": {"name": cfg.cluster_name, "region": cfg.region},
                    "kubelet": {"flags": ["--node-labels=pool=edge", "--register-with-taints=edge=true:NoSchedule"]},
                    "hybrid": {"ssm": {"activationId": act["ActivationId"], "activationCode": act["ActivationCode"]}}}}
    (tmp_path / "nc.yaml").write_text(yaml.safe_dump(doc))
    p = run(root, "init", "-c", f"file://{tmp_path / 'nc.yaml'}", env=env)
    assert p.returncode == 0, p.stderr
    name = json.loads((root / "var/lib/amazon/ssm/registration").read_text())["ManagedInstanceID"]

    with k8s.api_client(cfg) as api:
        core = kc.CoreV1Api(api)
        node = core.read_node(name)
        assert node.metadata.labels["eks.amazonaws.com/compute-type"] == "hybrid"
        assert node.metadata.labels["pool"] == "edge"
        assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [("edge", "true", "NoSchedule")]
        assert {(a.type, a.address) for a in node.status.addresses} >= {("InternalIP", "10.200.0.11")}
        assert node.status.node_info.kubelet_version == "v1.31.7"
        # No CNI configuration on the (fake) host yet: NotReady, as a real hybrid node.
        assert [c.status for c in node.status.conditions if c.type == "Ready"] == ["False"]

        # Cilium "deployed": CRD + cilium-config; the operator allocates a block.
        kc.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
        core.create_namespaced_config_map("kube-system", {"metadata": {"name": "cilium-config"}, "data": {
            "ipam": "cluster-pool", "cluster-pool-ipv4-cidr": cfg.pod_cidr,
            "cluster-pool-ipv4-mask-size": str(cfg.pod_mask_size)}})
        import time
        for _unused in range(20):  # CRD establishment, bounded
            result = cilium_operator.reconcile(api, log=lambda m: None)
            if result is not None:
                break
            time.sleep(0.5)
        assert result["create"] == {name: "192.168.0.0/25"}
        custom = kc.CustomObjectsApi(api)
        cn = custom.get_cluster_custom_object("cilium.io", "v2", "ciliumnodes", name)
        assert {"type": "CiliumInternalIP", "ip": "192.168.0.1"} in cn["spec"]["addresses"]
        # stable: a second pass (a restart) changes nothing
        assert cilium_operator.reconcile(api, log=lambda m: None)["create"] == {}

        # the stand-in kubelet: heartbeat + cilium_host addresses (ip calls logged in the fake root)
        kubelet = run(root, "--kubeconfig=/var/lib/kubelet/kubeconfig", "--standin-once", script=root / "usr/bin/kubelet")
        assert kubelet.returncode == 0, kubelet.stderr
        calls = (root / "var/log/nodeadm-standin.calls").read_text()
        assert "ip addr add 192.168.0.1/32 dev cilium_host" in calls
        assert [c.status for c in core.read_node(name).status.conditions if c.type == "Ready"] == ["False"]
        # The agent's part of the Cilium stand-in writes the CNI configuration; the kubelet then posts Ready.
        assert cilium_operator.write_cni_conf(root) and not cilium_operator.write_cni_conf(root)
        kubelet = run(root, "--kubeconfig=/var/lib/kubelet/kubeconfig", "--standin-once", script=root / "usr/bin/kubelet")
        assert kubelet.returncode == 0, kubelet.stderr
        assert [c.status for c in core.read_node(name).status.conditions if c.type == "Ready"] == ["True"]
        assert "ip addr add 192.168.0.10/32 dev cilium_host" in calls

        # upgrade moves kubeletVersion
        p = run(root, "upgrade", "1.32", "-c", f"file://{tmp_path / 'nc.yaml'}", env=env)
        assert p.returncode == 0, p.stderr
        assert core.read_node(name).status.node_info.kubelet_version == "v1.32.3"

        # node gone -> CiliumNode deleted
        core.delete_node(name)
        assert cilium_operator.reconcile(api, log=lambda m: None)["delete"] == [name]
        assert custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnodes")["items"] == []
