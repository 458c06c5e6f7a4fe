# -*- coding: utf-8 -*-
"""eks_remote_networks through its main(), against botocore's Stubber (calls checked against the models)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import eks_remote_networks

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
CLUSTER = "hybrid-lab"
VPC = "vpc-0123456789abcdef0"
UPDATE_ID = "0ea6f8e7-7b0b-4d1c-a0a0-4f1f1a0c7c5e"


@pytest.fixture
def sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(eks_remote_networks.time, "sleep", slept.append)
    return slept


def run(capsys, check_mode=False, diff=False, **options):
    args = dict(ARGS, cluster_name=CLUSTER, **options)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            eks_remote_networks.main()
    return json.loads(capsys.readouterr().out)


def cluster(nodes=None, pods=None, service="172.20.0.0/16", vpc_id=VPC):
    remote = {}
    if nodes is not None:
        remote["remoteNodeNetworks"] = [{"cidrs": nodes}]
    if pods is not None:
        remote["remotePodNetworks"] = [{"cidrs": pods}]
    data = {"name": CLUSTER, "status": "ACTIVE", "kubernetesNetworkConfig": {"serviceIpv4Cidr": service, "ipFamily": "ipv4"},
            "resourcesVpcConfig": {"subnetIds": ["subnet-0123456789abcdef0"]}}
    if vpc_id:
        data["resourcesVpcConfig"]["vpcId"] = vpc_id
    if remote:
        data["remoteNetworkConfig"] = remote
    return {"cluster": data}


def vpcs(*blocks):
    associations = [{"AssociationId": "vpc-cidr-assoc-%d" % index, "CidrBlock": block,
                     "CidrBlockState": {"State": state}} for index, (block, state) in enumerate(blocks)]
    return {"Vpcs": [{"VpcId": VPC, "CidrBlock": blocks[0][0], "CidrBlockAssociationSet": associations}]}


def update(status, errors=None):
    return {"update": {"id": UPDATE_ID, "status": status, "type": "RemoteNetworkConfigUpdate", "errors": errors or []}}


WANTED = {"remoteNodeNetworks": [{"cidrs": ["10.200.0.0/24"]}], "remotePodNetworks": [{"cidrs": ["192.168.0.0/16"]}]}


def test_equal_sets_in_another_order_change_nothing(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(["10.201.0.0/24", "10.200.0.0/24"], ["192.168.0.0/16"]), {"name": CLUSTER})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24", "10.201.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"],
                 vpc_cidrs=["10.100.0.0/16"], diff=True)
    assert result["changed"] is False
    assert result["update"] == {} and result["problems"] == []
    assert result["remote_network_config"]["remote_node_networks"] == [{"cidrs": ["10.201.0.0/24", "10.200.0.0/24"]}]
    stubs.verify()  # no update_cluster_config was queued: a write would have failed the run


def test_update_waits_through_in_progress_until_successful(stubs, capsys, sleeps):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("ec2", "describe_vpcs", vpcs(("10.100.0.0/16", "associated"), ("10.150.0.0/16", "disassociated")),
              {"VpcIds": [VPC]})
    stubs.add("eks", "update_cluster_config", update("InProgress"), {"name": CLUSTER, "remoteNetworkConfig": WANTED})
    stubs.add("eks", "describe_update", update("InProgress"), {"name": CLUSTER, "updateId": UPDATE_ID})
    stubs.add("eks", "describe_update", update("Successful"), {"name": CLUSTER, "updateId": UPDATE_ID})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"], diff=True)
    assert result["changed"] is True
    assert result["update"] == {"id": UPDATE_ID, "status": "Successful", "type": "RemoteNetworkConfigUpdate"}
    assert result["remote_network_config"] == {"remote_node_networks": [{"cidrs": ["10.200.0.0/24"]}],
                                               "remote_pod_networks": [{"cidrs": ["192.168.0.0/16"]}]}
    assert result["diff"] == {"before": {"remote_node_cidrs": [], "remote_pod_cidrs": []},
                              "after": {"remote_node_cidrs": ["10.200.0.0/24"], "remote_pod_cidrs": ["192.168.0.0/16"]}}
    assert len(sleeps) == 1 and 0 < sleeps[0] <= eks_remote_networks.POLL_SECONDS
    stubs.verify()


def test_vpc_is_found_through_the_subnets_when_not_reported(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(vpc_id=None), {"name": CLUSTER})
    stubs.add("ec2", "describe_subnets", {"Subnets": [{"SubnetId": "subnet-0123456789abcdef0", "VpcId": VPC}]},
              {"SubnetIds": ["subnet-0123456789abcdef0"]})
    stubs.add("ec2", "describe_vpcs", vpcs(("10.200.0.0/16", "associated")), {"VpcIds": [VPC]})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"])
    assert result["failed"] is True
    assert "overlaps" in result["msg"] and "vpc_cidrs" in result["msg"]
    stubs.verify()


def test_pod_networks_are_omitted_when_none(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "update_cluster_config", update("Successful"),
              {"name": CLUSTER, "remoteNetworkConfig": {"remoteNodeNetworks": [{"cidrs": ["10.200.0.0/24"]}]}})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"], vpc_cidrs=["10.100.0.0/16"])
    assert result["changed"] is True and result["update"]["status"] == "Successful"
    assert result["remote_network_config"]["remote_pod_networks"] == []
    stubs.verify()


def test_check_mode_predicts_without_writing(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    result = run(capsys, check_mode=True, remote_node_cidrs=["10.200.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"],
                 vpc_cidrs=["10.100.0.0/16"])
    assert result["changed"] is True and result["update"] == {}
    assert result["remote_network_config"]["remote_node_networks"] == [{"cidrs": ["10.200.0.0/24"]}]
    stubs.verify()


def test_dropping_a_cidr_is_refused_naming_it(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(["10.200.0.0/24", "10.201.0.0/24"], ["192.168.0.0/16"]),
              {"name": CLUSTER})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24", "10.202.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"],
                 vpc_cidrs=["10.100.0.0/16"])
    assert result["failed"] is True
    assert "10.201.0.0/24" in result["msg"] and "allow_removal=true" in result["msg"]
    assert result["dropped_remote_node_cidrs"] == ["10.201.0.0/24"]
    stubs.verify()


def test_dropping_is_done_with_allow_removal(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(["10.200.0.0/24", "10.201.0.0/24"], ["192.168.0.0/16"]),
              {"name": CLUSTER})
    stubs.add("eks", "update_cluster_config", update("InProgress"), {"name": CLUSTER, "remoteNetworkConfig": WANTED})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"],
                 vpc_cidrs=["10.100.0.0/16"], allow_removal=True, wait=False)
    assert result["changed"] is True and result["update"]["status"] == "InProgress"
    stubs.verify()


def test_every_problem_is_reported_before_any_write(stubs, capsys):
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    result = run(capsys, remote_node_cidrs=["8.8.0.0/16", "172.20.1.0/24", "10.100.5.0/24"],
                 remote_pod_cidrs=["10.200.0.1/16"], vpc_cidrs=["10.100.0.0/16"])
    assert result["failed"] is True
    codes = sorted(item["code"] for item in result["problems"])
    assert codes == ["host-bits", "not-rfc1918", "overlap", "overlap"]
    variables = set(item["variable"] for item in result["problems"])
    assert variables == {"remote_node_cidrs", "remote_pod_cidrs", "vpc_cidrs", eks_remote_networks.SERVICE_CIDR_NAME}
    assert "serviceIpv4Cidr" in result["msg"] and "nothing was changed" in result["msg"]
    stubs.verify()  # only describe_cluster was queued: no update call


def test_failed_update_reports_its_errors(stubs, capsys, sleeps):
    errors = [{"errorCode": "InsufficientFreeAddresses", "errorMessage": "subnet is full", "resourceIds": ["subnet-1"]}]
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "update_cluster_config", update("InProgress"), {"name": CLUSTER, "remoteNetworkConfig": WANTED})
    stubs.add("eks", "describe_update", update("Failed", errors), {"name": CLUSTER, "updateId": UPDATE_ID})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"],
                 vpc_cidrs=["10.100.0.0/16"])
    assert result["failed"] is True
    assert "ended Failed" in result["msg"] and "InsufficientFreeAddresses: subnet is full (subnet-1)" in result["msg"]
    assert result["update"]["status"] == "Failed"
    assert sleeps == []
    stubs.verify()


def test_wait_is_bounded_by_the_timeout(stubs, capsys, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(eks_remote_networks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(eks_remote_networks.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    stubs.add("eks", "describe_cluster", cluster(), {"name": CLUSTER})
    stubs.add("eks", "update_cluster_config", update("InProgress"), {"name": CLUSTER, "remoteNetworkConfig": WANTED})
    for _poll in range(3):
        stubs.add("eks", "describe_update", update("InProgress"), {"name": CLUSTER, "updateId": UPDATE_ID})
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"], remote_pod_cidrs=["192.168.0.0/16"],
                 vpc_cidrs=["10.100.0.0/16"], wait_timeout=10)
    assert result["failed"] is True
    assert "still InProgress after 10 seconds" in result["msg"] and UPDATE_ID in result["msg"]
    stubs.verify()


def test_missing_cluster_is_named(stubs, capsys):
    stubs.error("eks", "describe_cluster", "ResourceNotFoundException", {"name": CLUSTER}, status=404)
    result = run(capsys, remote_node_cidrs=["10.200.0.0/24"], vpc_cidrs=["10.100.0.0/16"])
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to describe cluster EKS cluster hybrid-lab")
