# -*- coding: utf-8 -*-
"""The credential-provider registry (module_utils/rules/credential_providers.py) against the rules it replaced: the nodes'
IAM role documents aws_prerequisites wrote (written out here as they were), the OS rule, the endpoints, the NodeConfig
section and nodeadm's tracker key; and every place that lists the providers lists the registry's names."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.hybridnodes.eks.plugins.filter import credential_providers as provider_filter
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers as cp
from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import inventory_rules
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import nodeadm, nodeadm_plan
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import preflight
from ansible_collections.hybridnodes.eks.plugins.modules import hybrid_preflight, nodeadm_config
from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm as nodeadm_module

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
ACCOUNT, REGION = "123456789012", "us-west-2"
CLUSTER_ARN = "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab"
ANCHOR = "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/0f1e2d3c"

# The documents roles/aws_prerequisites/tasks/iam_role.yml wrote before the registry (EKS user guide,
# hybrid-nodes-creds), for the partition aws.
SSM_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                   "ArnEquals": {"aws:SourceArn": "arn:aws:ssm:us-west-2:123456789012:*"}}}]}
IAM_RA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "rolesanywhere.amazonaws.com"},
     "Action": ["sts:TagSession", "sts:SetSourceIdentity"], "Condition": {"ArnEquals": {"aws:SourceArn": ANCHOR}}},
    {"Effect": "Allow", "Principal": {"Service": "rolesanywhere.amazonaws.com"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:PrincipalTag/x509Subject/CN}"},
                   "ArnEquals": {"aws:SourceArn": ANCHOR}}}]}
SSM_INLINE = [
    {"Sid": "SsmDescribeInstances", "Effect": "Allow", "Action": "ssm:DescribeInstanceInformation", "Resource": "*"},
    {"Sid": "SsmDeregisterOwnClusterInstances", "Effect": "Allow", "Action": "ssm:DeregisterManagedInstance",
     "Resource": "arn:aws:ssm:us-west-2:123456789012:managed-instance/*",
     "Condition": {"StringEquals": {"ssm:resourceTag/EKSClusterARN": CLUSTER_ARN}}}]


def test_the_registry_names_the_two_providers_and_ssm_is_the_default():
    assert cp.NAMES == ("ssm", "iam-ra")
    assert cp.DEFAULT == "ssm"
    assert sorted(cp.PROVIDERS["ssm"]) == sorted(cp.PROVIDERS["iam-ra"])


def test_the_trust_policies_are_the_ones_the_role_wrote():
    assert cp.trust_policy("ssm", "aws", REGION, ACCOUNT) == SSM_TRUST
    assert cp.trust_policy("iam-ra", "aws", REGION, ACCOUNT, ANCHOR) == IAM_RA_TRUST
    govcloud = json.dumps(cp.trust_policy("ssm", "aws-us-gov", "us-gov-west-1", ACCOUNT))
    assert "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:*" in govcloud


def test_the_managed_and_inline_policies_are_the_ones_the_role_wrote():
    assert cp.managed_policy_arns("ssm", "aws") == ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
                                                    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    assert cp.managed_policy_arns("iam-ra", "aws-cn") == ["arn:aws-cn:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"]
    assert cp.inline_statements("ssm", "aws", REGION, ACCOUNT, CLUSTER_ARN) == SSM_INLINE
    assert cp.inline_statements("iam-ra", "aws", REGION, ACCOUNT, CLUSTER_ARN) == []


def iam_role_task(module, **variables):
    """The task of roles/aws_prerequisites/tasks/iam_role.yml that calls ``module``, rendered by Ansible's templating."""
    loader = DataLoader()
    tasks = loader.load_from_file(os.path.join(ROOT, "roles", "aws_prerequisites", "tasks", "iam_role.yml"),
                                  trusted_as_template=True)
    task = [t for t in tasks if module in t][0]
    values = dict(loader.load_from_file(os.path.join(ROOT, "roles", "aws_prerequisites", "defaults", "main.yml"),
                                        trusted_as_template=True))
    values.update({"hybrid_cluster_name": "hybrid-lab", "aws_prerequisites_cluster_arn": CLUSTER_ARN,
                   "aws_prerequisites_region": REGION, "aws_prerequisites_account_id": ACCOUNT,
                   "aws_prerequisites_enable_credentials_file": False, "ansible_check_mode": False,
                   "aws_prerequisites_role_before": {"iam_roles": [{}]}})
    values.update(variables)
    values.update(task["vars"])
    return Templar(loader=loader, variables=values).template(task[module])


@pytest.mark.parametrize("provider, trust, managed, inline", [
    ("ssm", SSM_TRUST, ["AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"], SSM_INLINE),
    ("iam-ra", IAM_RA_TRUST, ["AmazonEC2ContainerRegistryPullOnly"], []),
])
def test_the_role_hands_the_registry_documents_to_iam(provider, trust, managed, inline):
    role = iam_role_task("amazon.aws.iam_role", aws_prerequisites_credential_provider=provider,
                         aws_prerequisites_trust_anchor={"trust_anchor": {"trust_anchor_arn": ANCHOR}})
    assert json.loads(role["assume_role_policy_document"]) == trust
    assert role["managed_policies"] == ["arn:aws:iam::aws:policy/%s" % name for name in managed]
    policy = json.loads(iam_role_task("amazon.aws.iam_policy", aws_prerequisites_credential_provider=provider)["policy_json"])
    assert policy["Statement"][1:] == inline


def test_iam_roles_anywhere_is_refused_on_ubuntu_20_04_and_rhel_8_only():
    assert not cp.os_supported("iam-ra", "ubuntu", "20.04") and not cp.os_supported("iam-ra", "rhel", "8")
    assert cp.os_supported("iam-ra", "ubuntu", "22.04") and cp.os_supported("iam-ra", "rhel", "9")
    assert cp.os_supported("ssm", "ubuntu", "20.04") and cp.os_supported("ssm", "rhel", "8")
    assert preflight.IAM_RA_UNSUPPORTED == {("ubuntu", "20.04"), ("rhel", "8")}
    rhel8 = {"id": "rhel", "version_id": "8.9", "pretty_name": "RHEL 8.9"}
    refused = [c for c in preflight.check_os(rhel8, "iam-ra", False) if c["name"] == "credential_provider"][0]
    assert (refused["ok"], refused["message"]) == (False, "IAM Roles Anywhere is not supported on RHEL 8.9")
    assert refused["fix"] == "Use hybrid_credential_provider=ssm on this host, or upgrade to Ubuntu 22.04+ / RHEL 9."
    assert [c["name"] for c in preflight.check_os(rhel8, "ssm", False)] == ["os"]


def test_the_endpoints_per_provider_and_partition():
    assert cp.endpoints("ssm", REGION) == ["ssm.us-west-2.amazonaws.com", "amazon-ssm-us-west-2.s3.us-west-2.amazonaws.com"]
    assert cp.endpoints("iam-ra", REGION) == ["rolesanywhere.amazonaws.com", "rolesanywhere.us-west-2.amazonaws.com"]
    assert "rolesanywhere.amazonaws.com" not in cp.endpoints("iam-ra", "cn-north-1")
    assert preflight.default_endpoints(REGION, None) == preflight.default_endpoints(REGION, "ssm")


def test_the_nodeconfig_section_and_the_tracker_key_of_each_provider():
    for name in cp.NAMES:
        entry = cp.PROVIDERS[name]
        doc = nodeconfig.render("c", REGION, name, ssm={"activationId": "x"}, iam_roles_anywhere={"nodeName": "n"})
        assert list(doc["spec"]["hybrid"]) == [entry["nodeconfig_key"]]
        assert nodeadm_plan.installed_provider({entry["tracker_key"]: {}}) is None
        assert nodeadm_plan.installed_provider({entry["tracker_key"]: {"installed": True}}) == name
    assert (cp.PROVIDERS["ssm"]["nodeconfig_key"], cp.PROVIDERS["iam-ra"]["nodeconfig_key"]) == ("ssm", "iamRolesAnywhere")
    assert nodeadm_plan.installed_provider(None) is None
    both = nodeconfig.problems({"apiVersion": nodeconfig.API_VERSION, "kind": nodeconfig.KIND,
                                "spec": {"cluster": {"name": "c", "region": REGION},
                                         "hybrid": {"ssm": {"activationId": "x"}, "iamRolesAnywhere": {"nodeName": "n"}}}})
    assert "Exactly one of the ssm and iamRolesAnywhere blocks must be set (found both)." in [p["message"] for p in both]


def test_every_list_of_providers_is_the_registry():
    assert inventory_rules.CREDENTIAL_PROVIDERS == nodeadm.CREDENTIAL_PROVIDERS == cp.NAMES
    for module in (hybrid_preflight, nodeadm_config, nodeadm_module):
        assert tuple(yaml.safe_load(module.DOCUMENTATION)["options"]["credential_provider"]["choices"]) == cp.NAMES
    for role in ("aws_prerequisites", "host_prep", "nodeadm"):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        assert tuple(options["%s_credential_provider" % role]["choices"]) == cp.NAMES, role


def test_the_inventory_inputs_of_a_provider_are_cluster_variables_of_the_inventory_rules():
    assert cp.PROVIDERS["ssm"]["inventory_inputs"] == {}
    assert list(cp.PROVIDERS["iam-ra"]["inventory_inputs"]) == ["hybrid_iam_ra_ca_certificate_path"]
    for name in cp.NAMES:
        for variable, fix in cp.PROVIDERS[name]["inventory_inputs"].items():
            assert variable in inventory_rules.CLUSTER_SPEC and variable in inventory_rules.CLUSTER_VARIABLES, variable
            assert variable in fix, fix


def test_the_filter_gives_the_entry_with_its_documents_and_refuses_an_unknown_name():
    entry = provider_filter.credential_provider("iam-ra", "aws", REGION, ACCOUNT, ANCHOR)
    assert (entry["trust_policy"], entry["host_agent"]) == (IAM_RA_TRUST, None)
    assert provider_filter.credential_provider("ssm")["host_agent"] == "amazon-ssm-agent"
    assert "trust_policy" not in provider_filter.credential_provider("ssm")
    with pytest.raises(AnsibleFilterError, match="unknown credential provider 'sso': one of ssm, iam-ra"):
        provider_filter.credential_provider("sso")
    entry["managed_policies"].append("changed")
    assert cp.PROVIDERS["iam-ra"]["managed_policies"] == ["AmazonEC2ContainerRegistryPullOnly"]
