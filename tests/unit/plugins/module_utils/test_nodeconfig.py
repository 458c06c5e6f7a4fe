# -*- coding: utf-8 -*-
"""NodeConfig rendering and nodeadm's validation rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils import nodeconfig

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
