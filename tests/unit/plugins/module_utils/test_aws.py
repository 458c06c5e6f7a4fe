# -*- coding: utf-8 -*-
"""AWS helpers against botocore's Stubber (which holds every call to the service model)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}


@pytest.fixture
def module():
    with patch_module_args(ARGS):
        yield AnsibleAWSModule(argument_spec={}, supports_check_mode=True)


def stubbed(module, service, retries=3):
    client = aws.aws_client(module, service, retries=retries, delay=0.01)
    stubber = Stubber(client.client)
    stubber.activate()
    return client, stubber


def failure(capsys, call):
    with pytest.raises(SystemExit):
        call()
    return json.loads(capsys.readouterr().out)


def test_client_uses_the_emulator_endpoint(module):
    client = aws.aws_client(module, "eks")
    assert client.client.meta.endpoint_url == "http://127.0.0.1:1"
    assert client.client.meta.region_name == "us-west-2"


def test_throttling_is_retried_then_succeeds(module):
    client, stubber = stubbed(module, "eks")
    stubber.add_client_error("list_access_entries", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_client_error("list_access_entries", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("list_access_entries", {"accessEntries": ["arn:aws:iam::123456789012:role/Hybrid"]},
                         {"clusterName": "lab"})
    result = client.list_access_entries(clusterName="lab", aws_retry=True)
    assert result["accessEntries"] == ["arn:aws:iam::123456789012:role/Hybrid"]
    stubber.assert_no_pending_responses()


def test_throttling_past_the_retries_fails_with_advice(module, capsys):
    client, stubber = stubbed(module, "eks", retries=2)
    for _attempt in range(2):  # amazon.aws' retries=N makes N attempts in all
        stubber.add_client_error("describe_cluster", service_error_code="ThrottlingException", http_status_code=400)

    def call():
        try:
            client.describe_cluster(name="lab", aws_retry=True)
        except Exception as exc:  # pylint: disable=broad-except
            aws.fail_aws(module, exc, "DescribeCluster", "EKS cluster lab", service="eks")

    result = failure(capsys, call)
    assert result["failed"]
    assert result["msg"].startswith("Failed to describe cluster EKS cluster lab")
    assert "throttling eks:DescribeCluster" in result["msg"]
    stubber.assert_no_pending_responses()


def test_server_errors_past_the_retries_fail_naming_the_operation_and_advice(module, capsys):
    client, stubber = stubbed(module, "ssm", retries=2)
    for _attempt in range(2):
        stubber.add_client_error("create_activation", service_error_code="InternalFailure", http_status_code=500)

    def call():
        try:
            client.create_activation(IamRole="Hybrid", aws_retry=True)
        except Exception as exc:  # pylint: disable=broad-except
            aws.fail_aws(module, exc, "CreateActivation", "for EKS cluster lab (role Hybrid)", service="ssm")

    result = failure(capsys, call)
    assert result["msg"].startswith("Failed to create activation for EKS cluster lab (role Hybrid). AWS kept answering "
                                    "ssm:CreateActivation with a server-side error (InternalFailure) after the retries")
    stubber.assert_no_pending_responses()


def test_access_denied_names_the_missing_permission(module, capsys):
    client, stubber = stubbed(module, "eks")
    stubber.add_client_error("list_access_entries", service_error_code="AccessDeniedException",
                             service_message="User is not authorized", http_status_code=403)

    def call():
        try:
            client.list_access_entries(clusterName="lab", aws_retry=True)
        except Exception as exc:  # pylint: disable=broad-except
            aws.fail_aws(module, exc, "ListAccessEntries", "of cluster lab", service="eks")

    result = failure(capsys, call)
    assert "eks:ListAccessEntries" in result["msg"]
    assert result["error"]["code"] == "AccessDeniedException"


def test_explicit_fix_wins(module, capsys):
    client, stubber = stubbed(module, "ec2")
    stubber.add_client_error("describe_route_tables", service_error_code="InvalidRouteTableID.NotFound",
                             http_status_code=400)

    def call():
        try:
            client.describe_route_tables(RouteTableIds=["rtb-0123456789abcdef0"], aws_retry=True)
        except Exception as exc:  # pylint: disable=broad-except
            aws.fail_aws(module, exc, "DescribeRouteTables", "rtb-0123456789abcdef0", service="ec2",
                         fix="Check hybrid_route_table_ids.")

    result = failure(capsys, call)
    assert result["msg"].startswith("Failed to describe route tables rtb-0123456789abcdef0. Check hybrid_route_table_ids.")
    assert "InvalidRouteTableID.NotFound" in result["msg"]


def test_paginate_collects_every_page(module):
    client, stubber = stubbed(module, "ssm")
    stubber.add_response("describe_activations", {"ActivationList": [{"ActivationId": "a1"}], "NextToken": "t1"}, {})
    stubber.add_response("describe_activations", {"ActivationList": [{"ActivationId": "a2"}]}, {"NextToken": "t1"})
    items = aws.paginate(client, "describe_activations", "ActivationList")
    assert [item["ActivationId"] for item in items] == ["a1", "a2"]
    stubber.assert_no_pending_responses()


def test_paginate_is_bounded(module):
    client, stubber = stubbed(module, "eks")
    for index in range(3):
        stubber.add_response("list_access_entries", {"accessEntries": [], "nextToken": "t%d" % index}, None)
    with pytest.raises(RuntimeError, match="more than 2 pages"):
        aws.paginate(client, "list_access_entries", "accessEntries", max_pages=2, clusterName="lab")


@pytest.mark.parametrize("service,operation,expected", [
    ("eks", "ListAccessEntries", "eks:ListAccessEntries"),
    ("rolesanywhere", "CreateProfile", "rolesanywhere:CreateProfile"),
])
def test_iam_action(service, operation, expected):
    assert aws.iam_action(service, operation) == expected


@pytest.mark.parametrize("diff", [False, True])
def test_exit_with_diff_shows_before_and_after_only_in_diff_mode(capsys, diff):
    with patch_module_args(dict(ARGS, _ansible_diff=diff)):
        module = AnsibleAWSModule(argument_spec={}, supports_check_mode=True)
        result = failure(capsys, lambda: aws.exit_with_diff(module, True, "thing", lambda item: {"n": (item or {}).get("n")},
                                                            {"n": 1}, {"n": 2}))
    assert result["changed"] is True and result["thing"] == {"n": 2}
    assert result.get("diff") == ({"before": {"n": 1}, "after": {"n": 2}} if diff else None)


def test_exit_with_diff_uses_its_own_view_for_the_diff(capsys):
    with patch_module_args(dict(ARGS, _ansible_diff=True)):
        module = AnsibleAWSModule(argument_spec={}, supports_check_mode=True)
        result = failure(capsys, lambda: aws.exit_with_diff(module, False, "thing", lambda item: {"full": item}, None,
                                                            {"n": 2}, diff_view=lambda item: sorted(item or {})))
    assert result["changed"] is False and result["thing"] == {"full": {"n": 2}}
    assert result["diff"] == {"before": [], "after": ["n"]}


def test_call_returns_none_for_an_absent_code_and_fails_otherwise(module, capsys):
    client, stubber = stubbed(module, "eks")
    stubber.add_client_error("describe_access_entry", service_error_code="ResourceNotFoundException", http_status_code=404)
    stubber.add_client_error("describe_access_entry", service_error_code="AccessDeniedException", http_status_code=403)
    request = {"clusterName": "lab", "principalArn": "arn:aws:iam::123456789012:role/Hybrid"}
    assert aws.call(module, client, "describe_access_entry", "entry of lab", "eks",
                    absent=("ResourceNotFoundException",), **request) is None
    result = failure(capsys, lambda: aws.call(module, client, "describe_access_entry", "entry of lab", "eks",
                                              absent=("ResourceNotFoundException",), **request))
    assert result["msg"].startswith("Failed to describe access entry entry of lab. The credentials Ansible runs with "
                                    "lack the permission eks:DescribeAccessEntry")
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code,advice", [("InvalidGroup.NotFound", "Recreate it."), ("InvalidParameterValue", None)])
def test_call_gives_the_fix_only_for_its_code(module, capsys, code, advice):
    client, stubber = stubbed(module, "ec2")
    stubber.add_client_error("describe_security_groups", service_error_code=code, http_status_code=400)
    result = failure(capsys, lambda: aws.call(module, client, "describe_security_groups", "sg-1", "ec2",
                                              fix=aws.fix_when("InvalidGroup.NotFound", "Recreate it."), GroupIds=["sg-1"]))
    assert result["msg"].startswith("Failed to describe security groups sg-1")
    assert ("Recreate it." in result["msg"]) is (advice is not None)


def test_paginate_raises_the_paging_error_naming_operation_and_page(module):
    client, stubber = stubbed(module, "ssm", retries=1)
    stubber.add_response("describe_activations", {"ActivationList": [{"ActivationId": "a1"}], "NextToken": "t1"}, {})
    stubber.add_client_error("describe_activations", service_error_code="ValidationException", http_status_code=400)
    with pytest.raises(aws.AWSPagingError) as caught:
        aws.paginate(client, "describe_activations", "ActivationList")
    assert (caught.value.operation, caught.value.page) == ("DescribeActivations", 2)
    assert aws.error_code(caught.value.cause) == "ValidationException"
    assert "describe_activations failed on page 2" in str(caught.value)


def test_list_all_names_the_failed_page(module, capsys):
    client, stubber = stubbed(module, "ssm", retries=1)
    stubber.add_response("describe_activations", {"ActivationList": [], "NextToken": "t1"}, {})
    stubber.add_client_error("describe_activations", service_error_code="AccessDeniedException", http_status_code=403)
    result = failure(capsys, lambda: aws.list_all(module, client, "describe_activations", "ActivationList",
                                                  "of EKS cluster lab", "ssm"))
    assert result["msg"].startswith("Failed to describe activations of EKS cluster lab (page 2). The credentials")
    assert "ssm:DescribeActivations" in result["msg"]


def test_list_all_fails_when_the_pages_do_not_end(module, capsys, monkeypatch):
    client, stubber = stubbed(module, "eks")
    for index in range(3):
        stubber.add_response("list_access_entries", {"accessEntries": [], "nextToken": "t%d" % index}, None)
    original = aws.paginate
    monkeypatch.setattr(aws, "paginate", lambda *args, **kwargs: original(*args, max_pages=2, **kwargs))
    result = failure(capsys, lambda: aws.list_all(module, client, "list_access_entries", "accessEntries",
                                                  "of cluster lab", "eks", overflow_resource="(cluster lab)",
                                                  clusterName="lab"))
    assert result["msg"] == ("Failed to list access entries (cluster lab): list_access_entries returned more than 2 "
                             "pages; stopped.")


@pytest.mark.parametrize("method,operation", [
    ("describe_vpn_connections", "DescribeVpnConnections"), ("list_nodegroups", "ListNodegroups"), ("import_crl", "ImportCrl"),
])
def test_operation_name(method, operation):
    assert aws.operation_name(method) == operation
