# -*- coding: utf-8 -*-
"""The arguments roles/aws_prerequisites hands to amazon.aws.iam_role and amazon.aws.iam_policy (tasks/iam_role.yml),
rendered by Ansible's own templating from the role's task file and defaults, and checked against the amazon.aws
modules' documented options and behaviour."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.amazon.aws.plugins.modules import iam_role as iam_role_module

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "aws_prerequisites")
ARN = "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab"
INVENTORY = {"hybrid_cluster_name": "hybrid-lab", "hybrid_region": "us-west-2", "hybrid_vpc_cidrs": ["10.0.0.0/16"],
             "hybrid_remote_node_cidrs": ["10.200.0.0/16"], "aws_prerequisites_cluster_arn": ARN,
             "aws_prerequisites_account_id": "123456789012", "ansible_check_mode": False,
             "aws_prerequisites_role_before": {"iam_roles": [{}]}}


def tasks():
    loader = DataLoader()
    return loader, loader.load_from_file(os.path.join(ROLE, "tasks", "iam_role.yml"), trusted_as_template=True)


def render(module, **inventory):
    loader, found = tasks()
    task = [t for t in found if module in t]
    assert len(task) == 1
    task = task[0]
    defaults = loader.load_from_file(os.path.join(ROLE, "defaults", "main.yml"), trusted_as_template=True)
    variables = dict(defaults)
    variables.update(INVENTORY, **inventory)
    variables.update(task.get("vars") or {})
    return Templar(loader=loader, variables=variables).template(task[module])


def statements(**inventory):
    policy = json.loads(render("amazon.aws.iam_policy", **inventory)["policy_json"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def options():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_operator_attached_managed_policies_stay_by_default():
    args = render("amazon.aws.iam_role")
    assert args["purge_policies"] is False
    assert args["managed_policies"] == ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
                                        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    assert options()["aws_prerequisites_purge_managed_policies"]["default"] is False


def test_purge_only_when_asked():
    assert render("amazon.aws.iam_role", aws_prerequisites_purge_managed_policies=True)["purge_policies"] is True


def test_amazon_aws_iam_role_purges_unless_told_not_to():
    """Why the option is passed at all: amazon.aws.iam_role detaches unlisted managed policies by default."""
    documented = yaml.safe_load(iam_role_module.DOCUMENTATION)["options"]["purge_policies"]
    assert documented["default"] is True
    assert "not listed" in " ".join(documented["description"])


def test_no_pod_identity_permission_without_the_credentials_file():
    assert "EksPodIdentityAgent" not in statements()
    assert not [s for s in statements().values() if "eks-auth" in json.dumps(s)]


@pytest.mark.parametrize("provider", ["ssm", "iam-ra"])
def test_the_credentials_file_adds_assume_role_for_pod_identity_on_the_cluster(provider):
    found = statements(hybrid_enable_credentials_file=True, hybrid_credential_provider=provider)
    assert found["EksPodIdentityAgent"] == {"Sid": "EksPodIdentityAgent", "Effect": "Allow",
                                            "Action": "eks-auth:AssumeRoleForPodIdentity", "Resource": ARN}
    assert found["EksHybridNodes"]["Action"] == ["eks:DescribeCluster", "eks:ListAccessEntries"]
    assert ("SsmDeregisterOwnClusterInstances" in found) is (provider == "ssm")


def test_the_role_variable_overrides_the_inventory():
    assert "EksPodIdentityAgent" in statements(aws_prerequisites_enable_credentials_file=True)
    assert "EksPodIdentityAgent" not in statements(hybrid_enable_credentials_file=True,
                                                   aws_prerequisites_enable_credentials_file=False)


def test_the_options_are_documented_as_bools():
    specs = options()
    assert specs["aws_prerequisites_enable_credentials_file"]["type"] == "bool"
    assert specs["aws_prerequisites_purge_managed_policies"]["type"] == "bool"
    assert "eks-auth:AssumeRoleForPodIdentity" in " ".join(specs["aws_prerequisites_enable_credentials_file"]["description"])


def test_validate_inventory_checks_hybrid_enable_credentials_file_as_a_bool():
    from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import inventory_rules

    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        defaults = {"aws_prerequisites": yaml.safe_load(handle)}
    specs = {"aws_prerequisites": options()}
    assert inventory_rules.check_role_inputs({"hybrid_enable_credentials_file": True}, {}, specs, defaults) == []
    problems = inventory_rules.check_role_inputs({"hybrid_enable_credentials_file": "maybe"}, {}, specs, defaults)
    assert [item["variable"] for item in problems] == ["hybrid_enable_credentials_file"]
