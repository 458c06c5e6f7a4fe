# -*- coding: utf-8 -*-
"""The shared IAM Roles Anywhere flow against botocore's Stubber (which holds every call to the service model)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws, rolesanywhere
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws.rolesanywhere import PROFILE, TRUST_ANCHOR

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
PROFILE_ID = "1a1b2c3d-4e5f-6789-abcd-ef0123456789"
ANCHOR_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ROLE_ARN = "arn:aws:iam::123456789012:role/nodes"
SOURCE = {"sourceType": "AWS_ACM_PCA", "sourceData": {"acmPcaArn": "arn:aws:acm-pca:us-west-2:123456789012:certificate-authority/x"}}


class Rig:
    """An AnsibleAWSModule, a rolesanywhere client on botocore's Stubber, and a way to catch the module's exit."""

    def __init__(self, module, capsys):
        self.module = module
        self.client = aws.aws_client(module, "rolesanywhere", retries=2, delay=0.01)
        self.stubber = Stubber(self.client.client)
        self.capsys = capsys

    def run(self, function, *args):
        return function(self.module, self.client, *args)

    def fails(self, function, *args):
        with pytest.raises(SystemExit):
            self.run(function, *args)
        return json.loads(self.capsys.readouterr().out)


@pytest.fixture(params=[False], ids=["apply"])
def rig(request, capsys):
    """Check mode is the param (override with indirect parametrize); every queued response must be used."""
    with patch_module_args(dict(ARGS, _ansible_check_mode=request.param)):
        made = Rig(AnsibleAWSModule(argument_spec={}, supports_check_mode=True), capsys)
        with made.stubber:
            yield made
            made.stubber.assert_no_pending_responses()


def profile(name="nodes", profile_id=PROFILE_ID, enabled=True, duration=3600):
    return {"profileId": profile_id, "profileArn": "arn:aws:rolesanywhere:us-west-2:123456789012:profile/" + profile_id,
            "name": name, "roleArns": [ROLE_ARN], "durationSeconds": duration, "acceptRoleSessionName": True,
            "enabled": enabled, "createdAt": NOW, "updatedAt": NOW}


def anchor(name="nodes", enabled=True):
    return {"trustAnchorId": ANCHOR_ID, "trustAnchorArn": "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/"
            + ANCHOR_ID, "name": name, "enabled": enabled, "source": SOURCE, "createdAt": NOW, "updatedAt": NOW}


def test_api_names_are_derived_from_the_noun():
    assert (TRUST_ANCHOR.snake, TRUST_ANCHOR.camel, TRUST_ANCHOR.pascal, TRUST_ANCHOR.id_key, TRUST_ANCHOR.plural) == \
        ("trust_anchor", "trustAnchor", "TrustAnchor", "trustAnchorId", "trust anchors")
    assert (PROFILE.snake, PROFILE.camel, PROFILE.pascal, PROFILE.id_key, PROFILE.plural) == \
        ("profile", "profile", "Profile", "profileId", "profiles")
    assert PROFILE.describe("nodes") == "IAM Roles Anywhere profile nodes"


def test_tag_list_is_sorted_with_string_values():
    assert rolesanywhere.tag_list({"b": 1, "a": True}) == [{"key": "a", "value": "True"}, {"key": "b", "value": "1"}]
    assert rolesanywhere.tag_list(None) == []


def test_find_by_name_reads_every_page_and_returns_the_match(rig):
    rig.stubber.add_response("list_trust_anchors", {"trustAnchors": [anchor(name="other")], "nextToken": "t1"}, {})
    rig.stubber.add_response("list_trust_anchors", {"trustAnchors": [anchor()]}, {"nextToken": "t1"})
    assert rig.run(rolesanywhere.find_by_name, TRUST_ANCHOR, "nodes")["trustAnchorId"] == ANCHOR_ID


def test_find_by_name_returns_none_when_nothing_has_the_name(rig):
    rig.stubber.add_response("list_profiles", {"profiles": [profile(name="other")]}, {})
    assert rig.run(rolesanywhere.find_by_name, PROFILE, "nodes") is None


def test_a_name_taken_twice_fails_naming_both_ids(rig):
    second = "2a1b2c3d-4e5f-6789-abcd-ef0123456789"
    rig.stubber.add_response("list_profiles", {"profiles": [profile(), profile(profile_id=second)]}, {})
    result = rig.fails(rolesanywhere.find_by_name, PROFILE, "nodes")
    assert result["msg"] == ("2 IAM Roles Anywhere profiles are named nodes; delete the extra ones (IDs %s, %s) or "
                             "choose another name." % (PROFILE_ID, second))


def test_a_list_failure_names_the_permission(rig):
    rig.stubber.add_client_error("list_trust_anchors", service_error_code="AccessDeniedException", http_status_code=403)
    result = rig.fails(rolesanywhere.find_by_name, TRUST_ANCHOR, "nodes")
    assert result["msg"].startswith("Failed to list trust anchors (looking for trust anchor nodes). ")
    assert "rolesanywhere:ListTrustAnchors" in result["msg"]


def test_ensure_absent_deletes_by_id_and_a_vanished_one_still_counts(rig):
    rig.stubber.add_response("delete_profile", {"profile": profile()}, {"profileId": PROFILE_ID})
    rig.stubber.add_client_error("delete_profile", service_error_code="ResourceNotFoundException", http_status_code=404,
                                 expected_params={"profileId": PROFILE_ID})
    assert rig.run(rolesanywhere.ensure_absent, PROFILE, profile(), "nodes") == (True, None)
    assert rig.run(rolesanywhere.ensure_absent, PROFILE, profile(), "nodes") == (True, None)
    assert rig.run(rolesanywhere.ensure_absent, PROFILE, None, "nodes") == (False, None)


def test_ensure_absent_fails_naming_the_resource(rig):
    rig.stubber.add_client_error("delete_trust_anchor", service_error_code="ValidationException", http_status_code=400)
    result = rig.fails(rolesanywhere.ensure_absent, TRUST_ANCHOR, anchor(), "nodes")
    assert result["msg"].startswith("Failed to delete trust anchor IAM Roles Anywhere trust anchor nodes")


@pytest.mark.parametrize("rig", [True], ids=["check"], indirect=True)
def test_check_mode_predicts_without_a_call(rig):  # nothing queued: any call would fail
    assert rig.run(rolesanywhere.ensure_absent, PROFILE, profile(), "nodes") == (True, None)
    assert rig.run(rolesanywhere.create, TRUST_ANCHOR, "nodes", {"source": SOURCE}, True, {"a": 1}) == \
        (True, {"name": "nodes", "enabled": True, "source": SOURCE})
    changed, after = rig.run(rolesanywhere.update_existing, PROFILE, profile(), "nodes", {"durationSeconds": 900}, False)
    assert changed is True and after["durationSeconds"] == 900 and after["enabled"] is False


def test_create_sends_the_fields_name_enabled_and_tags(rig):
    rig.stubber.add_response("create_trust_anchor", {"trustAnchor": anchor()},
                             {"name": "nodes", "source": SOURCE, "enabled": True,
                              "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "x"}]})
    assert rig.run(rolesanywhere.create, TRUST_ANCHOR, "nodes", {"source": SOURCE}, True, {"b": "x", "a": 1}) == \
        (True, anchor())


def test_update_existing_writes_what_differs_then_enables(rig):
    rig.stubber.add_response("update_profile", {"profile": profile(enabled=False, duration=900)},
                             {"profileId": PROFILE_ID, "durationSeconds": 900})
    rig.stubber.add_response("enable_profile", {"profile": profile(duration=900)}, {"profileId": PROFILE_ID})
    changed, after = rig.run(rolesanywhere.update_existing, PROFILE, profile(enabled=False), "nodes",
                             {"durationSeconds": 900}, True)
    assert changed is True and after == profile(duration=900)


def test_update_existing_disables_and_makes_no_other_call(rig):
    rig.stubber.add_response("disable_trust_anchor", {"trustAnchor": anchor(enabled=False)}, {"trustAnchorId": ANCHOR_ID})
    assert rig.run(rolesanywhere.update_existing, TRUST_ANCHOR, anchor(), "nodes", {}, False) == \
        (True, anchor(enabled=False))
    assert rig.run(rolesanywhere.update_existing, TRUST_ANCHOR, anchor(), "nodes", {}, True) == (False, anchor())


def test_a_write_failure_names_the_permission_and_the_resource(rig):
    rig.stubber.add_client_error("enable_profile", service_error_code="AccessDeniedException", http_status_code=403)
    result = rig.fails(rolesanywhere.update_existing, PROFILE, profile(enabled=False), "nodes", {}, True)
    assert "Failed to enable profile IAM Roles Anywhere profile nodes" in result["msg"]
    assert "rolesanywhere:EnableProfile" in result["msg"]
