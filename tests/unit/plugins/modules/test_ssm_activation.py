# -*- coding: utf-8 -*-
"""ssm_activation through its main(), against botocore's Stubber (calls checked against the SSM and EKS models)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import ANY

from ansible_collections.hybridnodes.eks.plugins.modules import ssm_activation

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
CLUSTER = "hybrid-lab"
ARN = "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab"
ROLE = "hybrid-lab-nodes"
CODE = "Zq8hiddenActivationCode1"
ACTIVATION_ID = "6f1f9d2e-0c1b-4e8a-9a39-1f0c7b1d2a3c"
FUTURE = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)
PAST = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)


# The attempts of amazon.aws' retry decorator in these tests (see conftest.py).
STUB_RETRIES = 3


def run(capsys, check_mode=False, diff=False, no_log=True, **options):
    args = dict(ARGS, cluster_name=CLUSTER, **options)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    args["_ansible_no_log"] = no_log
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            ssm_activation.main()
    return json.loads(capsys.readouterr().out)


def create_request(limit):
    return {"Description": "EKS hybrid nodes", "IamRole": ROLE, "RegistrationLimit": limit, "ExpirationDate": ANY,
            "Tags": [{"Key": "EKSClusterARN", "Value": ARN}]}


def activation(activation_id, used, limit=3, expiry=FUTURE, arn=ARN):
    found = {"ActivationId": activation_id, "IamRole": ROLE, "RegistrationLimit": limit,
             "ExpirationDate": expiry, "Expired": False, "Tags": [{"Key": "EKSClusterARN", "Value": arn}]}
    if used:  # SSM leaves the count out while it is 0
        found["RegistrationsCount"] = used
    return found


def test_one_activation_for_the_unregistered_hosts(stubs, capsys):
    stubs.add("eks", "describe_cluster", {"cluster": {"name": CLUSTER, "arn": ARN}}, {"name": CLUSTER})
    stubs.add("ssm", "create_activation", {"ActivationId": ACTIVATION_ID, "ActivationCode": CODE}, create_request(3))
    result = run(capsys, iam_role=ROLE, hosts_to_register=3, diff=True)
    assert result["changed"] is True
    assert result["activation_id"] == ACTIVATION_ID
    assert result["activation_code"] == CODE
    assert result["activation"]["registration_limit"] == 3
    assert result["activation"]["tags"] == {"EKSClusterARN": ARN}
    assert CODE not in json.dumps(result["diff"])
    expires = datetime.datetime.fromisoformat(result["activation"]["expiration_date"])
    left = expires - datetime.datetime.now(datetime.timezone.utc)
    # SSM's own default expiry (botocore ssm model, CreateActivationRequest.ExpirationDate): 24 hours.
    assert datetime.timedelta(hours=23, minutes=58) < left <= datetime.timedelta(hours=24)
    stubs.verify()


def test_nothing_to_register_makes_no_call(stubs, capsys):
    result = run(capsys, iam_role=ROLE, hosts_to_register=0)
    assert result["changed"] is False
    assert result["activation_id"] == "" and "activation_code" not in result
    stubs.verify()


def test_check_mode_predicts_without_a_code_or_a_write(stubs, capsys):
    result = run(capsys, iam_role=ROLE, hosts_to_register=2, cluster_arn=ARN, check_mode=True, no_log=False)
    assert result["changed"] is True
    assert result["activation"]["registration_limit"] == 2
    assert "activation_code" not in result
    stubs.verify()


def test_refuses_to_create_without_no_log(stubs, capsys):
    result = run(capsys, iam_role=ROLE, hosts_to_register=1, cluster_arn=ARN, no_log=False)
    assert result["failed"] is True
    assert "no_log: true" in result["msg"]
    stubs.verify()  # no create_activation was queued


def test_region_other_than_the_clusters_fails_before_any_call(stubs, capsys):
    result = run(capsys, iam_role=ROLE, hosts_to_register=1, cluster_arn=ARN.replace("us-west-2", "eu-west-1"))
    assert result["failed"] is True
    assert "is in region eu-west-1 but the activation would be created in us-west-2" in result["msg"]
    assert "Set region (hybrid_region) to eu-west-1" in result["msg"]
    stubs.verify()


def test_cluster_missing_in_the_region_names_the_fix(stubs, capsys):
    stubs.error("eks", "describe_cluster", "ResourceNotFoundException", {"name": CLUSTER}, status=404)
    result = run(capsys, iam_role=ROLE, hosts_to_register=1)
    assert result["failed"] is True
    assert "activation must be in the cluster's region" in result["msg"]
    stubs.verify()


def test_every_bad_option_is_reported_at_once(stubs, capsys):
    result = run(capsys, iam_role="arn:aws:iam::123456789012:role/x", hosts_to_register=1, expiration_hours=721,
                 tags={"EKSClusterARN": "x"}, cluster_arn=ARN)
    assert result["failed"] is True
    assert len(result["problems"]) == 3
    assert "role NAME" in result["msg"] and "1 to 720" in result["msg"] and "must not set EKSClusterARN" in result["msg"]
    stubs.verify()


def test_throttling_is_retried(stubs, capsys):
    stubs.error("ssm", "create_activation", "ThrottlingException", create_request(1))
    stubs.add("ssm", "create_activation", {"ActivationId": ACTIVATION_ID, "ActivationCode": CODE}, create_request(1))
    result = run(capsys, iam_role=ROLE, hosts_to_register=1, cluster_arn=ARN)
    assert result["changed"] is True and result["activation_id"] == ACTIVATION_ID
    stubs.verify()


def test_access_denied_names_the_permission_and_not_the_code(stubs, capsys):
    stubs.error("ssm", "create_activation", "AccessDeniedException", create_request(1), status=403)
    result = run(capsys, iam_role=ROLE, hosts_to_register=1, cluster_arn=ARN)
    assert result["failed"] is True
    assert "ssm:CreateActivation" in result["msg"]
    assert "for EKS cluster hybrid-lab (role hybrid-lab-nodes)" in result["msg"]


def test_absent_deletes_used_up_and_expired_activations_of_the_cluster_across_pages(stubs, capsys):
    other = ARN.replace("hybrid-lab", "other")
    stubs.add("ssm", "describe_activations",
              {"ActivationList": [activation("used-up", 3), activation("in-use", 1)], "NextToken": "t1"}, {"Filters": []})
    stubs.add("ssm", "describe_activations",
              {"ActivationList": [activation("expired", 0, expiry=PAST), activation("other-cluster", 3, arn=other)]},
              {"Filters": [], "NextToken": "t1"})
    stubs.add("ssm", "delete_activation", {}, {"ActivationId": "used-up"})
    stubs.add("ssm", "delete_activation", {}, {"ActivationId": "expired"})
    result = run(capsys, state="absent", cluster_arn=ARN, diff=True)
    assert result["changed"] is True
    assert result["deleted_activation_ids"] == ["used-up", "expired"]
    assert result["diff"] == {"before": {"activation_ids": ["used-up", "expired"]}, "after": {"activation_ids": []}}
    stubs.verify()


def test_absent_with_nothing_to_delete_writes_nothing(stubs, capsys):
    stubs.add("ssm", "describe_activations", {"ActivationList": [activation("in-use", 2)]}, {"Filters": []})
    result = run(capsys, state="absent", cluster_arn=ARN)
    assert result["changed"] is False and result["deleted_activation_ids"] == []
    stubs.verify()


def test_absent_by_id_already_gone_is_ok(stubs, capsys):
    request = {"Filters": [{"FilterKey": "ActivationIds", "FilterValues": [ACTIVATION_ID]}]}
    stubs.add("ssm", "describe_activations", {"ActivationList": []}, request)
    result = run(capsys, state="absent", activation_id=ACTIVATION_ID)
    assert result["changed"] is False
    stubs.verify()


def test_absent_in_check_mode_predicts_without_deleting(stubs, capsys):
    stubs.add("ssm", "describe_activations", {"ActivationList": [activation("used-up", 3)]}, {"Filters": []})
    result = run(capsys, state="absent", cluster_arn=ARN, check_mode=True)
    assert result["changed"] is True and result["deleted_activation_ids"] == ["used-up"]
    stubs.verify()


def test_describe_denied_names_the_permission(stubs, capsys):
    stubs.error("ssm", "describe_activations", "AccessDeniedException", {"Filters": []}, status=403)
    result = run(capsys, state="absent", cluster_arn=ARN)
    assert result["failed"] is True and "ssm:DescribeActivations" in result["msg"]


class ExpiryAt:
    """Matches the ExpirationDate of the request when it lies the given hours ahead (within two minutes)."""

    def __init__(self, hours):
        self.hours = hours
        self.seen = None

    def __eq__(self, other):
        self.seen = other
        left = other - datetime.datetime.now(datetime.timezone.utc)
        return datetime.timedelta(hours=self.hours, minutes=-2) < left <= datetime.timedelta(hours=self.hours)

    def __repr__(self):
        return "ExpiryAt(%d h, got %r)" % (self.hours, self.seen)


def test_expiration_hours_sets_the_expiration_date_sent_to_ssm(stubs, capsys):
    request = dict(create_request(2), ExpirationDate=ExpiryAt(720))
    stubs.add("ssm", "create_activation", {"ActivationId": ACTIVATION_ID, "ActivationCode": CODE}, request)
    result = run(capsys, iam_role=ROLE, hosts_to_register=2, cluster_arn=ARN, expiration_hours=720)
    assert result["changed"] is True
    left = datetime.datetime.fromisoformat(result["activation"]["expiration_date"]) - datetime.datetime.now(
        datetime.timezone.utc)
    assert datetime.timedelta(days=29, hours=23) < left <= datetime.timedelta(days=30)
    stubs.verify()


@pytest.mark.parametrize("hours", [0, 721])
def test_expiry_outside_what_ssm_accepts_is_refused_before_any_call(stubs, capsys, hours):
    result = run(capsys, iam_role=ROLE, hosts_to_register=1, cluster_arn=ARN, expiration_hours=hours)
    assert result["failed"] is True
    assert result["problems"] == ["expiration_hours is %d; use 1 to 720 (SSM activations live at most 30 days)." % hours]
    stubs.verify()  # nothing queued, nothing called


def test_a_thousand_hosts_fit_one_activation(stubs, capsys):
    stubs.add("ssm", "create_activation", {"ActivationId": ACTIVATION_ID, "ActivationCode": CODE}, create_request(1000))
    result = run(capsys, iam_role=ROLE, hosts_to_register=1000, cluster_arn=ARN)
    assert result["changed"] is True and result["activation"]["registration_limit"] == 1000
    stubs.verify()


def test_more_than_a_thousand_hosts_fail_with_the_count_and_the_fix_before_any_call(stubs, capsys):
    result = run(capsys, iam_role=ROLE, hosts_to_register=1001)
    assert result["failed"] is True
    assert len(result["problems"]) == 1
    message = result["problems"][0]
    assert message.startswith("1001 hosts are not registered yet, but one SSM activation registers at most 1000")
    assert "serial" in message and "slices" in message and "advanced-instances tier" in message
    stubs.verify()  # no DescribeCluster, no CreateActivation


def test_the_registration_cap_does_not_block_deleting(stubs, capsys):
    stubs.add("ssm", "describe_activations", {"ActivationList": []},
              {"Filters": [{"FilterKey": "ActivationIds", "FilterValues": [ACTIVATION_ID]}]})
    result = run(capsys, state="absent", activation_id=ACTIVATION_ID, hosts_to_register=1500)
    assert "failed" not in result and result["changed"] is False
    stubs.verify()


def test_the_documented_defaults_are_the_ones_the_module_uses():
    import yaml
    options = yaml.safe_load(ssm_activation.DOCUMENTATION)["options"]
    assert options["expiration_hours"]["default"] == ssm_activation.DEFAULT_EXPIRATION_HOURS == 24
    assert ssm_activation.MAX_EXPIRATION_HOURS == 30 * 24
    assert ssm_activation.MAX_REGISTRATION_LIMIT == 1000


def test_the_limits_are_those_of_the_ssm_model():
    import botocore.session
    model = botocore.session.get_session().get_service_model("ssm")
    members = model.operation_model("CreateActivation").input_shape.members
    assert members["RegistrationLimit"].metadata["max"] == ssm_activation.MAX_REGISTRATION_LIMIT
    assert "up to 30 days" in members["ExpirationDate"].documentation
    assert "expires in 24 hours" in members["ExpirationDate"].documentation
