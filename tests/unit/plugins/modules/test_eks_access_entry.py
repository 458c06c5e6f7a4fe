# -*- coding: utf-8 -*-
"""eks_access_entry through its main(), against botocore's Stubber (calls checked against the EKS model)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import eks_access_entry

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
CLUSTER = "hybrid-lab"
ROLE = "arn:aws:iam::123456789012:role/hybrid-lab-nodes"
KEY = {"clusterName": CLUSTER, "principalArn": ROLE}
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def run(capsys, check_mode=False, diff=False, **options):
    args = dict(ARGS, cluster_name=CLUSTER, principal_arn=ROLE, **options)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            eks_access_entry.main()
    return json.loads(capsys.readouterr().out)


def entry(entry_type="HYBRID_LINUX", username="system:node:{{SessionName}}", groups=None, tags=None):
    return {"clusterName": CLUSTER, "principalArn": ROLE, "type": entry_type, "username": username,
            "kubernetesGroups": groups or [], "tags": tags or {}, "createdAt": NOW, "modifiedAt": NOW,
            "accessEntryArn": "arn:aws:eks:us-west-2:123456789012:access-entry/hybrid-lab/role/123456789012/x/1"}


def test_creates_a_missing_entry(stubs, capsys):
    stubs.error("eks", "describe_access_entry", "ResourceNotFoundException", KEY)
    stubs.add("eks", "create_access_entry", {"accessEntry": entry()}, dict(KEY, type="HYBRID_LINUX"))
    result = run(capsys)
    assert result["changed"] is True
    assert result["access_entry"]["type"] == "HYBRID_LINUX"
    assert result["access_entry"]["username"] == "system:node:{{SessionName}}"
    stubs.verify()


def test_existing_entry_is_left_alone(stubs, capsys):
    stubs.add("eks", "describe_access_entry", {"accessEntry": entry()}, KEY)
    result = run(capsys)
    assert result["changed"] is False
    assert result["access_entry"]["principal_arn"] == ROLE
    stubs.verify()  # no create call was queued: any write would have failed the run


def test_check_mode_predicts_creation_without_writing(stubs, capsys):
    stubs.error("eks", "describe_access_entry", "ResourceNotFoundException", KEY)
    result = run(capsys, check_mode=True, diff=True, tags={"team": "edge"})
    assert result["changed"] is True
    assert result["access_entry"]["type"] == "HYBRID_LINUX"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"] == {"type": "HYBRID_LINUX", "username": None, "kubernetes_groups": [],
                                       "tags": {"team": "edge"}}
    stubs.verify()


def test_diff_of_a_creation_shows_the_entry(stubs, capsys):
    stubs.error("eks", "describe_access_entry", "ResourceNotFoundException", KEY)
    stubs.add("eks", "create_access_entry", {"accessEntry": entry()}, dict(KEY, type="HYBRID_LINUX"))
    result = run(capsys, diff=True)
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["username"] == "system:node:{{SessionName}}"


def test_entry_of_another_type_is_an_error_naming_the_fix(stubs, capsys):
    stubs.add("eks", "describe_access_entry", {"accessEntry": entry("EC2_LINUX", "system:node:{{EC2PrivateDNSName}}")},
              KEY)
    result = run(capsys)
    assert result["failed"] is True
    assert "type EC2_LINUX, not HYBRID_LINUX" in result["msg"]
    assert "state=absent" in result["msg"] and "type=EC2_LINUX" in result["msg"]
    stubs.verify()


def test_deletes_an_existing_entry(stubs, capsys):
    stubs.add("eks", "describe_access_entry", {"accessEntry": entry()}, KEY)
    stubs.add("eks", "delete_access_entry", {}, KEY)
    result = run(capsys, state="absent", diff=True)
    assert result["changed"] is True
    assert result["access_entry"] == {}
    assert result["diff"]["after"] == {} and result["diff"]["before"]["type"] == "HYBRID_LINUX"
    stubs.verify()


def test_absent_entry_stays_absent(stubs, capsys):
    stubs.error("eks", "describe_access_entry", "ResourceNotFoundException", KEY)
    result = run(capsys, state="absent")
    assert result["changed"] is False
    stubs.verify()


def test_check_mode_delete_does_not_write(stubs, capsys):
    stubs.add("eks", "describe_access_entry", {"accessEntry": entry()}, KEY)
    result = run(capsys, state="absent", check_mode=True)
    assert result["changed"] is True
    stubs.verify()


def test_standard_entry_groups_are_updated(stubs, capsys):
    stubs.add("eks", "describe_access_entry", {"accessEntry": entry("STANDARD", ROLE, ["old"])}, KEY)
    stubs.add("eks", "update_access_entry", {"accessEntry": entry("STANDARD", ROLE, ["ops"])},
              dict(KEY, kubernetesGroups=["ops"]))
    result = run(capsys, type="STANDARD", kubernetes_groups=["ops"])
    assert result["changed"] is True
    assert result["access_entry"]["kubernetes_groups"] == ["ops"]
    stubs.verify()


def test_missing_tags_are_added(stubs, capsys):
    current = entry(tags={"keep": "1"})
    stubs.add("eks", "describe_access_entry", {"accessEntry": current}, KEY)
    stubs.add("eks", "tag_resource", {}, {"resourceArn": current["accessEntryArn"], "tags": {"team": "edge"}})
    result = run(capsys, tags={"team": "edge", "keep": "1"})
    assert result["changed"] is True
    assert result["access_entry"]["tags"] == {"keep": "1", "team": "edge"}
    stubs.verify()


def test_groups_for_a_node_type_are_refused_before_any_call(stubs, capsys):
    result = run(capsys, kubernetes_groups=["system:nodes"])
    assert result["failed"] is True
    assert "type=STANDARD" in result["msg"]
    stubs.verify()


def test_access_denied_names_the_permission(stubs, capsys):
    stubs.error("eks", "describe_access_entry", "AccessDeniedException", KEY, status=403)
    result = run(capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to describe access entry access entry of %s" % ROLE)
    assert "eks:DescribeAccessEntry" in result["msg"]


def test_create_refused_by_config_map_mode_says_how_to_fix(stubs, capsys):
    stubs.error("eks", "describe_access_entry", "ResourceNotFoundException", KEY)
    stubs.error("eks", "create_access_entry", "InvalidRequestException", dict(KEY, type="HYBRID_LINUX"))
    result = run(capsys)
    assert result["failed"] is True
    assert "API_AND_CONFIG_MAP" in result["msg"]
