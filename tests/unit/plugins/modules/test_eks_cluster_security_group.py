# -*- coding: utf-8 -*-
"""eks_cluster_security_group through its main(), against botocore's Stubber (calls checked against the EKS and EC2 models)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import eks_cluster_security_group as sg_module

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
CLUSTER = "hybrid-lab"
NODES, PODS = "10.200.0.0/24", "192.168.0.0/16"
CLUSTER_SG, EXTRA_SG = "sg-0c1", "sg-0e1"


def run(capsys, check_mode=False, diff=False, **options):
    args = dict(ARGS, cluster_name=CLUSTER, **options)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sg_module.main()
    return json.loads(capsys.readouterr().out)


def cluster(cluster_sg=CLUSTER_SG, extra=(EXTRA_SG,), nodes=(NODES,), pods=(PODS,)):
    vpc = {"vpcId": "vpc-0123456789abcdef0", "securityGroupIds": list(extra)}
    if cluster_sg:
        vpc["clusterSecurityGroupId"] = cluster_sg
    return {"cluster": {"name": CLUSTER, "version": "1.31", "resourcesVpcConfig": vpc,
                        "remoteNetworkConfig": {"remoteNodeNetworks": [{"cidrs": list(nodes)}],
                                                "remotePodNetworks": [{"cidrs": list(pods)}]}}}


def https(*cidrs):
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": c} for c in cidrs]}


SELF = {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": CLUSTER_SG}], "IpRanges": []}


def groups(cluster_rules=(SELF,), extra_rules=()):
    found = [{"GroupId": CLUSTER_SG, "GroupName": "eks-cluster-sg-hybrid-lab", "IpPermissions": list(cluster_rules)}]
    if extra_rules is not None:
        found.append({"GroupId": EXTRA_SG, "GroupName": "hybrid", "IpPermissions": list(extra_rules)})
    return {"SecurityGroups": found}


def read(stubs, cluster_data=None, group_data=None, group_ids=(CLUSTER_SG, EXTRA_SG)):
    stubs.add("eks", "describe_cluster", cluster_data or cluster(), {"name": CLUSTER})
    stubs.add("ec2", "describe_security_groups", group_data or groups(), {"GroupIds": list(group_ids)})


def added(*cidrs, **kinds):
    return {"GroupId": kinds.get("group", CLUSTER_SG), "IpPermissions": [{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": c, "Description": "EKS hybrid nodes: remote %s network to the API server"
                      % ("node" if c == NODES else "pod")} for c in cidrs]}]}


def test_admitted_networks_make_no_write(stubs, capsys):
    """The additional group admits both networks: nothing to do, no write call (the Stubber has none queued)."""
    read(stubs, group_data=groups(extra_rules=[https(NODES, PODS)]))
    result = run(capsys, authorize=True)
    assert result["changed"] is False
    assert result["missing_cidrs"] == [] and result["added_cidrs"] == []
    assert result["required_cidrs"] == [NODES, PODS]  # read from the cluster's remote networks
    assert result["security_groups"][1] == {"group_id": EXTRA_SG, "cluster_security_group": False,
                                            "https_cidrs": [NODES, PODS]}
    stubs.verify()


def test_missing_networks_fail_naming_the_groups_each_cidr_and_the_fix(stubs, capsys):
    read(stubs, group_data=groups(extra_rules=[https("10.200.0.0/25")]))
    result = run(capsys)
    assert result["failed"] is True
    assert result["missing_cidrs"] == [NODES, PODS]
    msg = result["msg"]
    assert "EKS cluster hybrid-lab (sg-0c1, sg-0e1)" in msg
    assert "10.200.0.0/24 (remote node network)" in msg and "192.168.0.0/16 (remote pod network)" in msg
    assert "aws_prerequisites_authorize_cluster_security_group: true" in msg
    assert "--group-id sg-0c1" in msg and '{"CidrIp": "10.200.0.0/24"}, {"CidrIp": "192.168.0.0/16"}' in msg
    stubs.verify()


def test_missing_networks_are_returned_when_asked(stubs, capsys):
    read(stubs, group_data=groups(cluster_rules=[SELF, https(NODES)]))
    result = run(capsys, fail_on_missing=False, remote_node_cidrs=[NODES], remote_pod_cidrs=[PODS])
    assert "failed" not in result or result["failed"] is False
    assert result["changed"] is False
    assert result["missing_cidrs"] == [PODS]
    assert "192.168.0.0/16 (remote pod network)" in result["problem"]["message"]
    assert "--group-id sg-0c1" in result["problem"]["fix"]
    stubs.verify()


def test_authorize_adds_every_missing_cidr_in_one_call(stubs, capsys):
    read(stubs)
    stubs.add("ec2", "authorize_security_group_ingress", {"Return": True}, added(NODES, PODS))
    result = run(capsys, authorize=True, diff=True)
    assert result["changed"] is True
    assert result["added_cidrs"] == [NODES, PODS] and result["missing_cidrs"] == []
    assert result["target_security_group_id"] == CLUSTER_SG
    assert result["diff"]["before"][0]["https_cidrs"] == []
    assert result["diff"]["after"][0] == {"group_id": CLUSTER_SG, "cluster_security_group": True,
                                          "https_cidrs": [NODES, PODS]}
    stubs.verify()


def test_authorize_adds_only_what_is_missing_to_the_chosen_group(stubs, capsys):
    read(stubs, group_data=groups(cluster_rules=[SELF, https("10.0.0.0/8")]))
    stubs.add("ec2", "authorize_security_group_ingress", {"Return": True}, added(PODS, group=EXTRA_SG))
    result = run(capsys, authorize=True, security_group_id=EXTRA_SG)
    assert result["changed"] is True
    assert result["added_cidrs"] == [PODS] and result["target_security_group_id"] == EXTRA_SG
    stubs.verify()


def test_cidrs_are_added_in_canonical_spelling(stubs, capsys):
    read(stubs, group_data=groups(extra_rules=[https(PODS)]))
    stubs.add("ec2", "authorize_security_group_ingress", {"Return": True}, added(NODES))
    result = run(capsys, authorize=True, remote_node_cidrs=["10.200.0.7/24"], remote_pod_cidrs=[PODS])
    assert result["required_cidrs"] == [NODES, PODS] and result["added_cidrs"] == [NODES]
    stubs.verify()


def test_check_mode_predicts_without_writing(stubs, capsys):
    read(stubs)
    result = run(capsys, check_mode=True, authorize=True)
    assert result["changed"] is True
    assert result["added_cidrs"] == [NODES, PODS]
    assert result["security_groups"][0]["https_cidrs"] == [NODES, PODS]
    stubs.verify()  # no AuthorizeSecurityGroupIngress was queued: a call would have failed the run


def test_rerun_after_authorize_makes_no_write(stubs, capsys):
    read(stubs, group_data=groups(cluster_rules=[SELF, https(NODES, PODS)]))
    result = run(capsys, authorize=True)
    assert result["changed"] is False and result["added_cidrs"] == []
    stubs.verify()


def test_no_cluster_security_group_is_a_warning_not_a_failure(stubs, capsys):
    read(stubs, cluster_data=cluster(cluster_sg=None), group_data=groups(extra_rules=None, cluster_rules=[]),
         group_ids=(EXTRA_SG,))
    result = run(capsys, authorize=True)
    assert "failed" not in result or result["failed"] is False
    assert result["changed"] is False
    assert result["cluster_security_group_id"] is None
    warnings = json.dumps(result["warnings"])
    assert "EKS cluster hybrid-lab reports no cluster security group" in warnings
    assert "10.200.0.0/24" in warnings
    stubs.verify()


def test_no_security_group_at_all_reads_no_group(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(cluster_sg=None, extra=()), {"name": CLUSTER})
    result = run(capsys)
    assert "failed" not in result or result["failed"] is False
    assert result["security_groups"] == []
    assert "reports no cluster security group" in json.dumps(result["warnings"])
    stubs.verify()


def test_target_outside_the_cluster_is_refused(stubs, capsys):
    read(stubs)
    result = run(capsys, authorize=True, security_group_id="sg-0ther")
    assert result["failed"] is True
    assert "sg-0ther is not a security group of EKS cluster hybrid-lab (sg-0c1, sg-0e1)" in result["msg"]
    stubs.verify()


def test_a_vanished_group_names_the_fix(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.error("ec2", "describe_security_groups", "InvalidGroup.NotFound", {"GroupIds": [CLUSTER_SG, EXTRA_SG]})
    result = run(capsys)
    assert result["failed"] is True
    assert "sg-0c1, sg-0e1" in result["msg"] and "update-cluster-config" in result["msg"]


def test_authorize_denied_names_the_permission(stubs, capsys):
    read(stubs)
    stubs.error("ec2", "authorize_security_group_ingress", "UnauthorizedOperation", added(NODES, PODS), status=403)
    result = run(capsys, authorize=True)
    assert result["failed"] is True
    assert "ec2:AuthorizeSecurityGroupIngress" in result["msg"] and "sg-0c1" in result["msg"]
    stubs.verify()


def test_not_a_cidr_is_refused_before_any_call(stubs, capsys):
    result = run(capsys, remote_node_cidrs=["banana"])
    assert result["failed"] is True
    assert "'banana' is not an IPv4 CIDR" in result["msg"]
    stubs.verify()
