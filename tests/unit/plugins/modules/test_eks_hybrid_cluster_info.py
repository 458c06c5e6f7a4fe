# -*- coding: utf-8 -*-
"""eks_hybrid_cluster_info through its main(), against botocore's Stubber (calls checked against the EKS model)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import eks_hybrid_cluster_info as info_module

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
CLUSTER = "hybrid-lab"


def run(capsys, check_mode=False, **options):
    args = dict(ARGS, cluster_name=CLUSTER, **options)
    args["_ansible_check_mode"] = check_mode
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            info_module.main()
    return json.loads(capsys.readouterr().out)


def cluster(status="ACTIVE", mode="API_AND_CONFIG_MAP", family="ipv4", nodes=("10.200.0.0/24",), version="1.31",
            public=False, private=True):
    data = {"name": CLUSTER, "arn": "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab", "status": status,
            "version": version, "endpoint": "https://10.100.0.20", "accessConfig": {"authenticationMode": mode},
            "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": family},
            "resourcesVpcConfig": {"vpcId": "vpc-0123456789abcdef0", "endpointPublicAccess": public,
                                   "endpointPrivateAccess": private, "clusterSecurityGroupId": "sg-0c1",
                                   "securityGroupIds": ["sg-0e1"]}}
    if nodes:
        data["remoteNetworkConfig"] = {"remoteNodeNetworks": [{"cidrs": list(nodes)}]}
    return {"cluster": data}


def group(name, types, disk):
    data = {"nodegroupName": name, "clusterName": CLUSTER, "status": "ACTIVE", "instanceTypes": types}
    if disk is not None:
        data["diskSize"] = disk
    return {"nodegroup": data}


def by_name(result):
    return dict((item["name"], item) for item in result["requirements"])


def test_ready_cluster_meets_every_requirement(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": ["vpc-cni", "kube-proxy"]}, {"clusterName": CLUSTER})
    stubs.add("eks", "list_nodegroups", {"nodegroups": ["cloud-workers"]}, {"clusterName": CLUSTER})
    stubs.add("eks", "describe_nodegroup", group("cloud-workers", ["t3.xlarge"], 20),
              {"clusterName": CLUSTER, "nodegroupName": "cloud-workers"})
    result = run(capsys, palette=True, check_mode=True)
    assert result["changed"] is False
    assert result["failed_requirements"] == []
    assert all(item["ok"] for item in result["requirements"])
    assert sorted(by_name(result)) == ["authentication-mode", "cluster-active", "ip-family", "palette-cloud-nodegroup",
                                       "remote-node-networks"]
    assert result["cluster"]["addons"] == ["vpc-cni", "kube-proxy"]
    assert result["cluster"]["cluster_security_group_id"] == "sg-0c1"
    assert result["cluster"]["security_group_ids"] == ["sg-0e1"]
    assert (result["cluster"]["endpoint_public_access"], result["cluster"]["endpoint_private_access"]) == (False, True)
    assert "warnings" not in result
    assert result["cluster"]["authentication_mode"] == "API_AND_CONFIG_MAP"
    assert result["cluster"]["nodegroups"] == [{"name": "cloud-workers", "instance_types": ["t3.xlarge"],
                                                "disk_size": 20, "status": "ACTIVE"}]
    stubs.verify()


def test_every_failed_requirement_is_reported_at_once(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster("CREATING", "CONFIG_MAP", "ipv6", nodes=()), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    stubs.add("eks", "list_nodegroups", {"nodegroups": ["small", "thin"]}, {"clusterName": CLUSTER})
    stubs.add("eks", "describe_nodegroup", group("small", ["t3.large"], 50), {"clusterName": CLUSTER, "nodegroupName": "small"})
    stubs.add("eks", "describe_nodegroup", group("thin", ["m5.2xlarge"], 10), {"clusterName": CLUSTER, "nodegroupName": "thin"})
    result = run(capsys, palette=True)
    assert result["failed"] is True
    names = [item["name"] for item in result["failed_requirements"]]
    assert names == ["cluster-active", "authentication-mode", "ip-family", "remote-node-networks",
                     "palette-cloud-nodegroup"]
    assert "5 requirement(s)" in result["msg"]
    for name in names:
        assert "- %s:" % name in result["msg"]
    assert all(item["fix"] for item in result["failed_requirements"])
    palette = by_name(result)["palette-cloud-nodegroup"]
    assert "small: t3.large below t3.xlarge" in palette["message"]
    assert "thin: disk 10 GiB below 20 GiB" in palette["message"]
    stubs.verify()


def test_unmet_requirements_are_returned_when_asked(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(mode="CONFIG_MAP"), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": ["vpc-cni"]}, {"clusterName": CLUSTER})
    result = run(capsys, fail_on_unmet=False)
    assert "failed" not in result or result["failed"] is False
    assert [item["name"] for item in result["failed_requirements"]] == ["authentication-mode"]
    assert "API_AND_CONFIG_MAP" in result["failed_requirements"][0]["fix"]
    stubs.verify()


def test_addons_not_permitted_are_only_not_listed(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.error("eks", "list_addons", "AccessDeniedException", {"clusterName": CLUSTER}, status=403)
    result = run(capsys)
    assert result["failed_requirements"] == []
    assert "vpc-cni-addon" not in by_name(result)
    assert "warnings" not in result
    assert result["cluster"]["addons"] is None
    stubs.verify()


def test_cluster_without_vpc_cni_addon_meets_the_requirements(stubs, capsys):
    """Self-managed aws-node, or hybrid nodes only: the vpc-cni add-on is not a hybrid nodes requirement."""
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": ["kube-proxy", "coredns"]}, {"clusterName": CLUSTER})
    result = run(capsys)
    assert "failed" not in result or result["failed"] is False
    assert result["failed_requirements"] == []
    assert all(item["ok"] for item in result["requirements"])
    stubs.verify()


def test_public_and_private_endpoint_is_a_warning_not_a_failure(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(public=True, private=True), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    result = run(capsys)
    assert "failed" not in result or result["failed"] is False
    assert result["failed_requirements"] == []
    warnings = json.dumps(result["warnings"])  # 2.19 sends warnings as structured events
    assert "EKS cluster hybrid-lab has both public and private endpoint access" in warnings
    assert "update-cluster-config --name hybrid-lab" in warnings
    stubs.verify()


@pytest.mark.parametrize("public,private", [(True, False), (False, True)])
def test_one_endpoint_kind_gives_no_warning(stubs, capsys, public, private):
    stubs.add("eks", "describe_cluster", cluster(public=public, private=private), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    result = run(capsys)
    assert "warnings" not in result
    stubs.verify()


def test_kubelet_newer_than_the_control_plane_is_refused(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(version="1.31"), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    result = run(capsys, kubernetes_version="1.32")
    assert result["failed"] is True
    assert [item["name"] for item in result["failed_requirements"]] == ["kubelet-version-skew"]
    problem = result["failed_requirements"][0]
    assert "1.32" in problem["message"] and "1.31" in problem["message"] and "hybrid-lab" in problem["message"]
    assert "1.31 or older" in problem["fix"]
    assert "- kubelet-version-skew:" in result["msg"]
    stubs.verify()


def test_kubelet_too_old_is_reported_when_asked(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(version="1.32"), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    result = run(capsys, kubernetes_version="1.28", fail_on_unmet=False)
    assert "failed" not in result or result["failed"] is False
    assert [item["name"] for item in result["failed_requirements"]] == ["kubelet-version-skew"]
    assert "1.29 or newer (up to 1.32)" in result["failed_requirements"][0]["fix"]
    stubs.verify()


@pytest.mark.parametrize("version", ["1.31", "1.28", "1.29.3"])
def test_kubelet_within_the_skew_is_met(stubs, capsys, version):
    stubs.add("eks", "describe_cluster", cluster(version="1.31"), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    result = run(capsys, kubernetes_version=version)
    assert result["failed_requirements"] == []
    assert by_name(result)["kubelet-version-skew"]["ok"] is True
    stubs.verify()


def test_no_kubernetes_version_no_skew_requirement(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(version="1.25"), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": []}, {"clusterName": CLUSTER})
    result = run(capsys)
    assert "kubelet-version-skew" not in by_name(result)
    stubs.verify()


def test_nodegroups_are_read_from_every_page(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": ["vpc-cni"]}, {"clusterName": CLUSTER})
    stubs.add("eks", "list_nodegroups", {"nodegroups": ["a"], "nextToken": "page2"}, {"clusterName": CLUSTER})
    stubs.add("eks", "list_nodegroups", {"nodegroups": ["b"]}, {"clusterName": CLUSTER, "nextToken": "page2"})
    stubs.add("eks", "describe_nodegroup", group("a", ["t3.medium"], 20), {"clusterName": CLUSTER, "nodegroupName": "a"})
    stubs.add("eks", "describe_nodegroup", group("b", ["m6i.xlarge", "m5.2xlarge"], 40),
              {"clusterName": CLUSTER, "nodegroupName": "b"})
    result = run(capsys, palette=True)
    assert result["failed_requirements"] == []
    assert [item["name"] for item in result["cluster"]["nodegroups"]] == ["a", "b"]
    assert "b meet t3.xlarge" in by_name(result)["palette-cloud-nodegroup"]["message"]
    stubs.verify()


def test_palette_without_nodegroups_fails(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "list_addons", {"addons": ["vpc-cni"]}, {"clusterName": CLUSTER})
    stubs.add("eks", "list_nodegroups", {"nodegroups": []}, {"clusterName": CLUSTER})
    result = run(capsys, palette=True)
    assert result["failed"] is True
    assert "no node groups" in result["msg"]


@pytest.mark.parametrize("instance_type,ok", [
    ("t3.xlarge", True), ("m5.xlarge", True), ("c5.2xlarge", True), ("r6i.large", False), ("t3.large", False),
    ("c5.xlarge", False), ("m7g.metal", True), ("x2idn.16xlarge", True), ("t3.nano", False), ("inf2.xlarge", False),
    ("banana", False), ("m5.24xlarge", True),
])
def test_instance_type_rule(instance_type, ok):
    assert info_module.meets_minimum(instance_type, "t3.xlarge") is ok


def test_size_order():
    sizes = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "metal"]
    capacities = [info_module.instance_capacity("t3." + size) for size in sizes]
    assert capacities == sorted(capacities)


def test_unknown_minimum_is_refused(capsys):
    result = run(capsys, palette=True, min_worker_instance_type="huge")
    assert result["failed"] is True
    assert "min_worker_instance_type" in result["msg"]
