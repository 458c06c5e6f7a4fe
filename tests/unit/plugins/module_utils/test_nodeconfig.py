# -*- coding: utf-8 -*-
"""NodeConfig rendering and nodeadm's validation rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig

ACTIVATION_ID = "5d9e2e0c-1b9e-4c4e-9d5e-6e1f9d0c1a2b"
CODE = "Abcdefghij0123456789"


def ssm_doc(**changes):
    args = dict(cluster_name="lab", region="us-west-2", credential_provider="ssm",
                ssm={"activationId": ACTIVATION_ID, "activationCode": CODE}, node_ip="10.200.0.11")
    args.update(changes)
    return nodeconfig.render(**args)


def fields(found):
    return sorted(item["field"] for item in found)


def test_render_ssm_with_labels_taints_and_extra():
    doc = ssm_doc(node_labels={"pool": "a", "env": "edge"}, node_taints=["dedicated=edge:NoSchedule"],
                  kubelet_extra_flags=["--max-pods=58"], kubelet_config={"shutdownGracePeriod": "30s"},
                  containerd_config="[plugins]\n", enable_credentials_file=True)
    assert doc["apiVersion"] == "node.eks.aws/v1alpha1" and doc["kind"] == "NodeConfig"
    spec = doc["spec"]
    assert spec["cluster"] == {"name": "lab", "region": "us-west-2"}
    assert spec["hybrid"] == {"enableCredentialsFile": True, "ssm": {"activationId": ACTIVATION_ID, "activationCode": CODE}}
    assert spec["kubelet"]["flags"] == ["--node-ip=10.200.0.11", "--node-labels=env=edge,pool=a",
                                        "--register-with-taints=dedicated=edge:NoSchedule", "--max-pods=58"]
    assert spec["kubelet"]["config"] == {"shutdownGracePeriod": "30s"}
    assert spec["containerd"] == {"config": "[plugins]\n"}
    assert nodeconfig.problems(doc, ["10.200.0.0/24"]) == []


def test_render_iam_roles_anywhere_drops_empty_values():
    doc = nodeconfig.render("lab", "us-west-2", "iam-ra", iam_roles_anywhere={
        "nodeName": "edge01", "trustAnchorArn": "arn:aws:rolesanywhere:us-west-2:1:trust-anchor/t",
        "profileArn": "arn:aws:rolesanywhere:us-west-2:1:profile/p", "roleArn": "arn:aws:iam::1:role/r",
        "certificatePath": "/etc/iam/pki/server.pem", "privateKeyPath": "/etc/iam/pki/server.key", "awsConfigPath": None})
    assert "awsConfigPath" not in doc["spec"]["hybrid"]["iamRolesAnywhere"]
    assert "ssm" not in doc["spec"]["hybrid"]
    assert "kubelet" not in doc["spec"]
    assert nodeconfig.problems(doc) == []


@pytest.mark.parametrize("changes,field", [
    ({"ssm": {"activationId": "not-a-uuid", "activationCode": CODE}}, "ssm_activation_id"),
    ({"ssm": {"activationId": ACTIVATION_ID, "activationCode": "short"}}, "ssm_activation_code"),
    ({"ssm": {"activationId": ACTIVATION_ID, "activationCode": "x" * 251}}, "ssm_activation_code"),
    ({"ssm": {}}, "ssm_activation_id"),
    ({"kubelet_extra_flags": ["--hostname-override=edge01"]}, "kubelet_extra_flags"),
    ({"kubelet_extra_flags": ["--node-ip=10.200.0.12"]}, "kubelet_extra_flags"),
    ({"node_taints": ["dedicated=edge:Sometimes"]}, "node_taints"),
    ({"cluster_name": ""}, "cluster_name"),
    ({"region": None}, "region"),
])
def test_each_rule_refuses(changes, field):
    assert field in fields(nodeconfig.problems(ssm_doc(**changes)))


def test_both_credential_blocks_refused():
    doc = ssm_doc()
    doc["spec"]["hybrid"]["iamRolesAnywhere"] = {"nodeName": "edge01"}
    found = nodeconfig.problems(doc)
    assert "credential_provider" in fields(found)
    assert any("both" in item["message"] for item in found)


def test_iam_ra_rules():
    doc = nodeconfig.render("lab", "us-west-2", "iam-ra", iam_roles_anywhere={
        "nodeName": "n" * 65, "trustAnchorArn": "trust", "profileArn": "arn:p", "roleArn": "arn:r",
        "certificatePath": "relative/server.pem"})
    assert fields(nodeconfig.problems(doc)) == ["certificatePath", "iam_ra_node_name", "iam_ra_trust_anchor_arn"]


def test_node_ip_outside_remote_node_networks():
    found = nodeconfig.problems(ssm_doc(node_ip="10.9.0.5"), ["10.200.0.0/24"])
    assert fields(found) == ["node_ip"]
    assert "Pending" in found[0]["message"]
    assert nodeconfig.problems(ssm_doc(node_ip="10.200.0.5"), ["10.200.0.0/24"]) == []


def test_every_problem_at_once_and_code_never_in_messages():
    doc = ssm_doc(ssm={"activationId": "x", "activationCode": "tooshortcode"}, node_ip="192.0.2.1",
                  kubelet_extra_flags=["--hostname-override=a"], region="")
    found = nodeconfig.problems(doc, ["10.200.0.0/24"])
    assert fields(found) == ["kubelet_extra_flags", "node_ip", "region", "ssm_activation_code", "ssm_activation_id"]
    assert all("tooshortcode" not in item["message"] for item in found)


def test_masked_hides_only_the_code():
    doc = ssm_doc()
    shown = nodeconfig.masked(doc)
    assert shown["spec"]["hybrid"]["ssm"] == {"activationId": ACTIVATION_ID, "activationCode": nodeconfig.MASK}
    assert doc["spec"]["hybrid"]["ssm"]["activationCode"] == CODE


@pytest.mark.parametrize("name,ok", [
    ("edge01", True), ("edge-01.site-a.example", True), ("n" * 63, True), ("n" * 31 + "." + "n" * 32, True),
    ("10.200.0.11", True), ("n" * 64, False), ("n" * 32 + "." + "n" * 32, False), ("n" * 65, False),
    ("Edge01", False), ("edge_01", False), ("-edge", False), ("edge.", False),
    ("a" * 64 + ".b", False), ("", False), (None, False),
])
def test_node_name_rule(name, ok):
    assert (nodeconfig.node_name_problem(name) is None) == ok


def test_iam_ra_node_name_must_be_a_lower_case_kubernetes_name():
    doc = nodeconfig.render("lab", "us-west-2", "iam-ra", iam_roles_anywhere={
        "nodeName": "Edge01", "trustAnchorArn": "arn:t", "profileArn": "arn:p", "roleArn": "arn:r"})
    found = nodeconfig.problems(doc)
    assert fields(found) == ["iam_ra_node_name"]
    assert "'Edge01'" in found[0]["message"] and "lower-case" in found[0]["message"]


@pytest.mark.parametrize("key,kind", [
    ("node-role.kubernetes.io/worker", "restricted"), ("kubernetes.io/role", "restricted"),
    ("app.kubernetes.io/name", "restricted"), ("node-restriction.kubernetes.io/pool", "restricted"),
    ("k8s.io/thing", "restricted"), ("x.k8s.io/thing", "restricted"),
    ("node.kubernetes.io/pool", None), ("example.node.kubernetes.io/pool", None), ("kubelet.kubernetes.io/a", None),
    ("topology.kubernetes.io/zone", None), ("kubernetes.io/arch", None), ("beta.kubernetes.io/instance-type", None),
    ("failure-domain.beta.kubernetes.io/region", None), ("eks.amazonaws.com/compute-type", None),
    ("pool", None), ("example.com/kubernetes.io", None), ("bad key!", "key"),
])
def test_kubelet_label_rule(key, kind):
    found = nodeconfig.label_problem(key, "v")
    assert (found[0] if found else None) == kind


def test_node_labels_the_kubelet_refuses_are_refused_in_the_nodeconfig():
    doc = ssm_doc(node_labels={"node-role.kubernetes.io/worker": "", "pool": "a", "node.kubernetes.io/pool": "a"})
    found = nodeconfig.problems(doc)
    assert fields(found) == ["node_labels"]
    assert "node-role.kubernetes.io/worker" in found[0]["message"] and "kubectl label" in found[0]["fix"]
    assert nodeconfig.parse_node_labels_flag("--node-labels=a=1,b=,c=x=y") == {"a": "1", "b": "", "c": "x=y"}
    assert fields(nodeconfig.problems(ssm_doc(node_labels={"pool": "bad value!"}))) == ["node_labels"]
