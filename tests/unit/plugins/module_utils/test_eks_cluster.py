# -*- coding: utf-8 -*-
"""module_utils eks_cluster: the kubelet version-skew rule, endpoint access, and TCP 443 coverage by security groups."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import eks_cluster


@pytest.mark.parametrize("value,expected", [
    ("1.31", (1, 31)), ("1.31.2", (1, 31)), ("v1.31.2-eks-a737599", (1, 31)), (" 1.28 ", (1, 28)),
    ("1.3", (1, 3)), ("banana", None), ("", None), (None, None), ("1", None), ("1.x", None),
])
def test_parse_version(value, expected):
    assert eks_cluster.parse_version(value) == expected


@pytest.mark.parametrize("kubelet,control", [
    ("1.31", "1.31"), ("1.30", "1.31"), ("1.28", "1.31"), ("1.31.4", "1.31"), ("v1.29.0", "1.32"),
    # Before 1.25 a kubelet may be only two minor versions older.
    ("1.24", "1.26"), ("1.22", "1.24"),
])
def test_allowed_kubelet_versions(kubelet, control):
    assert eks_cluster.kubelet_version_problem(kubelet, control, "EKS cluster hybrid-lab") is None


def test_kubelet_newer_than_control_plane_is_refused():
    problem = eks_cluster.kubelet_version_problem("1.32", "1.31", "EKS cluster hybrid-lab")
    assert "1.32" in problem["message"] and "1.31" in problem["message"]
    assert "newer" in problem["message"] and "EKS cluster hybrid-lab" in problem["message"]
    assert "1.31 or older (down to 1.28)" in problem["fix"]
    assert "upgrade EKS cluster hybrid-lab to 1.32" in problem["fix"]


def test_kubelet_four_minors_older_is_refused():
    problem = eks_cluster.kubelet_version_problem("1.27", "1.31", "EKS cluster hybrid-lab")
    assert "4 minor versions older" in problem["message"] and "at most 3" in problem["message"]
    assert "1.27" in problem["message"] and "1.31" in problem["message"]
    assert "1.28 or newer (up to 1.31)" in problem["fix"]


def test_kubelet_before_1_25_may_be_only_two_minors_older():
    problem = eks_cluster.kubelet_version_problem("1.23", "1.26")
    assert "at most 2" in problem["message"]
    assert "1.24 or newer" in problem["fix"]
    assert eks_cluster.max_kubelet_skew(24) == 2 and eks_cluster.max_kubelet_skew(25) == 3


@pytest.mark.parametrize("kubelet,control,words", [
    ("2.0", "1.31", "major version"),
    ("banana", "1.31", "not a version"),
    ("1.31", "", "could not be read"),
])
def test_unreadable_or_foreign_versions_are_refused(kubelet, control, words):
    problem = eks_cluster.kubelet_version_problem(kubelet, control, "EKS cluster hybrid-lab")
    assert words in problem["message"]
    assert problem["fix"]


def test_endpoint_public_and_private_is_a_problem():
    problem = eks_cluster.endpoint_access_problem("hybrid-lab", True, True)
    assert "hybrid-lab" in problem["message"] and "public and private" in problem["message"]
    assert "--name hybrid-lab" in problem["fix"] and "endpointPublicAccess=false" in problem["fix"]


@pytest.mark.parametrize("public,private", [(True, False), (False, True), (False, False), (None, True)])
def test_endpoint_one_kind_is_fine(public, private):
    assert eks_cluster.endpoint_access_problem("hybrid-lab", public, private) is None


def group(*permissions, **kwargs):
    return {"GroupId": kwargs.get("group_id", "sg-1"), "IpPermissions": list(permissions)}


def rule(*cidrs, **kwargs):
    permission = {"IpProtocol": kwargs.get("protocol", "tcp"), "IpRanges": [{"CidrIp": c} for c in cidrs]}
    if kwargs.get("protocol", "tcp") != "-1":
        permission.update(FromPort=kwargs.get("low", 443), ToPort=kwargs.get("high", 443))
    return permission


NODES, PODS = "10.200.0.0/24", "192.168.0.0/16"


def test_exact_rules_cover_both_networks():
    assert eks_cluster.uncovered_cidrs([group(rule(NODES, PODS))], [NODES, PODS]) == []


def test_missing_networks_are_listed_in_order_without_repeats():
    assert eks_cluster.uncovered_cidrs([group(rule("10.1.0.0/16"))], [PODS, NODES, PODS]) == [PODS, NODES]


@pytest.mark.parametrize("permission", [
    rule("10.0.0.0/8"),                                  # a wider CIDR
    rule("0.0.0.0/0"),                                   # anywhere
    rule(NODES, protocol="-1"),                          # all traffic
    rule(NODES, low=0, high=65535),                      # a port range that holds 443
    rule(NODES, protocol="6", low=400, high=500),        # protocol given by number
    rule("10.200.0.0/25", "10.200.0.128/25"),            # two halves add up
])
def test_rules_that_admit_the_node_network(permission):
    assert eks_cluster.uncovered_cidrs([group(permission)], [NODES]) == []


@pytest.mark.parametrize("permission", [
    rule(NODES, protocol="udp"),                         # not TCP
    rule(NODES, low=80, high=80),                        # another port
    rule(NODES, low=444, high=8443),                     # a range without 443
    rule("10.200.0.0/25"),                               # half of the network only
    rule("10.200.0.0/25", "10.200.1.0/25"),              # a half and a neighbour
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
     "UserIdGroupPairs": [{"GroupId": "sg-9"}], "IpRanges": []},      # a group reference
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
     "Ipv6Ranges": [{"CidrIpv6": "::/0"}], "IpRanges": []},          # IPv6 only
])
def test_rules_that_do_not_admit_the_node_network(permission):
    assert eks_cluster.uncovered_cidrs([group(permission)], [NODES]) == [NODES]


def test_rules_of_several_groups_add_up():
    groups = [group(rule(NODES), group_id="sg-cluster"), group(rule(PODS), group_id="sg-extra")]
    assert eks_cluster.uncovered_cidrs(groups, [NODES, PODS]) == []
    assert eks_cluster.uncovered_cidrs(groups[:1], [NODES, PODS]) == [PODS]


def test_admitted_networks_skip_unparsable_ranges():
    networks = eks_cluster.admitted_networks([group(rule("not-a-cidr", NODES))])
    assert [str(n) for n in networks] == [NODES]


def test_remote_cidrs_reads_every_item():
    cluster = {"remoteNetworkConfig": {"remoteNodeNetworks": [{"cidrs": ["10.200.0.0/24"]}, {"cidrs": ["10.201.0.0/24"]}],
                                       "remotePodNetworks": [{}]}}
    assert eks_cluster.remote_cidrs(cluster, "remoteNodeNetworks") == ["10.200.0.0/24", "10.201.0.0/24"]
    assert eks_cluster.remote_cidrs(cluster, "remotePodNetworks") == []
    assert eks_cluster.remote_cidrs({}, "remoteNodeNetworks") == []


@pytest.fixture
def aws_module():
    with patch_module_args({"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret",
                            "endpoint_url": "http://127.0.0.1:1"}):
        yield AnsibleAWSModule(argument_spec={}, supports_check_mode=True)


@pytest.mark.parametrize("fix", [None, "Check cluster_name."])
def test_read_cluster_is_the_one_describe_cluster(capsys, aws_module, fix):
    module = aws_module
    client = aws.aws_client(module, "eks", retries=1, delay=0.01)
    stubber = Stubber(client.client)
    stubber.add_response("describe_cluster", {"cluster": {"name": "lab", "arn": "arn:aws:eks:us-west-2:1:cluster/lab"}},
                         {"name": "lab"})
    stubber.add_client_error("describe_cluster", service_error_code="ResourceNotFoundException", http_status_code=404)
    stubber.activate()
    assert eks_cluster.read_cluster(module, client, "lab")["arn"] == "arn:aws:eks:us-west-2:1:cluster/lab"
    with pytest.raises(SystemExit):
        eks_cluster.read_cluster(module, client, "gone", not_found_fix=fix)
    message = json.loads(capsys.readouterr().out)["msg"]
    assert message.startswith("Failed to describe cluster EKS cluster gone")
    assert ("Check cluster_name." in message) is (fix is not None)
