# -*- coding: utf-8 -*-
"""ssm_managed_instance through its main(), against botocore's Stubber."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import ssm_managed_instance

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
ARN = "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab"
TAG = {"Key": "tag:EKSClusterARN", "Values": [ARN]}


# The attempts of amazon.aws' retry decorator in these tests (see conftest.py).
STUB_RETRIES = 3


def run(capsys, check_mode=False, diff=False, **options):
    args = dict(ARGS, **options)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            ssm_managed_instance.main()
    return json.loads(capsys.readouterr().out)


def instance(instance_id, name):
    return {"InstanceId": instance_id, "ComputerName": name, "PingStatus": "Online", "IamRole": "hybrid-lab-nodes"}


def test_info_reads_every_page_of_the_clusters_instances(stubs, capsys):
    stubs.add("ssm", "describe_instance_information",
              {"InstanceInformationList": [instance("mi-0123456789abcde01", "edge01")], "NextToken": "t1"}, {"Filters": [TAG]})
    stubs.add("ssm", "describe_instance_information",
              {"InstanceInformationList": [instance("mi-0123456789abcde02", "edge02")]}, {"Filters": [TAG], "NextToken": "t1"})
    result = run(capsys, cluster_arn=ARN)
    assert result["changed"] is False
    assert [item["instance_id"] for item in result["instances"]] == ["mi-0123456789abcde01", "mi-0123456789abcde02"]
    assert result["instances"][0]["computer_name"] == "edge01"
    stubs.verify()


def test_info_by_cluster_name_reads_the_arn(stubs, capsys):
    stubs.add("eks", "describe_cluster", {"cluster": {"name": "hybrid-lab", "arn": ARN}}, {"name": "hybrid-lab"})
    stubs.add("ssm", "describe_instance_information", {"InstanceInformationList": []}, {"Filters": [TAG]})
    result = run(capsys, cluster_name="hybrid-lab")
    assert result["instances"] == []
    stubs.verify()


def test_throttling_is_retried(stubs, capsys):
    stubs.error("ssm", "describe_instance_information", "ThrottlingException", {"Filters": [TAG]})
    stubs.add("ssm", "describe_instance_information", {"InstanceInformationList": [instance("mi-0123456789abcde01", "edge01")]},
              {"Filters": [TAG]})
    result = run(capsys, cluster_arn=ARN)
    assert len(result["instances"]) == 1
    stubs.verify()


def test_deregisters_the_named_node_only(stubs, capsys):
    stubs.add("ssm", "describe_instance_information",
              {"InstanceInformationList": [instance("mi-0123456789abcde01", "edge01"), instance("mi-0123456789abcde03", "edge03")]}, {"Filters": [TAG]})
    stubs.add("ssm", "deregister_managed_instance", {}, {"InstanceId": "mi-0123456789abcde03"})
    result = run(capsys, cluster_arn=ARN, names=["edge03"], state="deregistered", diff=True)
    assert result["changed"] is True
    assert result["deregistered_instance_ids"] == ["mi-0123456789abcde03"]
    assert result["diff"] == {"before": {"instance_ids": ["mi-0123456789abcde03"]}, "after": {"instance_ids": []}}
    stubs.verify()


def test_deregistering_an_unknown_instance_is_ok(stubs, capsys):
    ids = {"Filters": [{"Key": "InstanceIds", "Values": ["mi-0123456789abcde09"]}]}
    stubs.error("ssm", "describe_instance_information", "InvalidInstanceId", ids)
    result = run(capsys, instance_ids=["mi-0123456789abcde09"], state="deregistered")
    assert result["changed"] is False and result["deregistered_instance_ids"] == []
    stubs.verify()


def test_instance_gone_meanwhile_is_ok(stubs, capsys):
    ids = {"Filters": [{"Key": "InstanceIds", "Values": ["mi-0123456789abcde01"]}]}
    stubs.add("ssm", "describe_instance_information", {"InstanceInformationList": [instance("mi-0123456789abcde01", "edge01")]}, ids)
    stubs.error("ssm", "deregister_managed_instance", "InvalidInstanceId", {"InstanceId": "mi-0123456789abcde01"})
    result = run(capsys, instance_ids=["mi-0123456789abcde01"], state="deregistered")
    assert result["changed"] is False
    stubs.verify()


def test_check_mode_predicts_without_deregistering(stubs, capsys):
    ids = {"Filters": [{"Key": "InstanceIds", "Values": ["mi-0123456789abcde01"]}]}
    stubs.add("ssm", "describe_instance_information", {"InstanceInformationList": [instance("mi-0123456789abcde01", "edge01")]}, ids)
    result = run(capsys, instance_ids=["mi-0123456789abcde01"], state="deregistered", check_mode=True)
    assert result["changed"] is True and result["deregistered_instance_ids"] == ["mi-0123456789abcde01"]
    stubs.verify()


def test_deregistering_a_whole_cluster_by_omission_is_refused(stubs, capsys):
    result = run(capsys, cluster_arn=ARN, state="deregistered")
    assert result["failed"] is True and "instance_ids or names" in result["msg"]
    stubs.verify()


def test_access_denied_names_the_permission(stubs, capsys):
    ids = {"Filters": [{"Key": "InstanceIds", "Values": ["mi-0123456789abcde01"]}]}
    stubs.add("ssm", "describe_instance_information", {"InstanceInformationList": [instance("mi-0123456789abcde01", "edge01")]}, ids)
    stubs.error("ssm", "deregister_managed_instance", "AccessDeniedException", {"InstanceId": "mi-0123456789abcde01"}, status=403)
    result = run(capsys, instance_ids=["mi-0123456789abcde01"], state="deregistered")
    assert result["failed"] is True
    assert "ssm:DeregisterManagedInstance" in result["msg"] and "mi-0123456789abcde01" in result["msg"]
