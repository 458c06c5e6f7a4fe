# -*- coding: utf-8 -*-
"""The ECR registry and endpoint domains of the EKS images per partition and region (eks_endpoints), and the
preflight's default endpoints built from them. Expected values from the EKS user guide page "View Amazon container
image registries for Amazon EKS add-ons" and aws/eks-hybrid v1.0.19 internal/aws/ecr/ecr.go."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import eks_endpoints as ep
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import preflight as pf


@pytest.mark.parametrize("region, registry", [
    # commercial, enabled by default
    ("us-west-2", "602401143452.dkr.ecr.us-west-2.amazonaws.com"),
    ("eu-central-1", "602401143452.dkr.ecr.eu-central-1.amazonaws.com"),
    # opt-in regions: one account each
    ("af-south-1", "877085696533.dkr.ecr.af-south-1.amazonaws.com"),
    ("ap-east-1", "800184023465.dkr.ecr.ap-east-1.amazonaws.com"),
    ("me-south-1", "558608220178.dkr.ecr.me-south-1.amazonaws.com"),
    ("eu-south-1", "590381155156.dkr.ecr.eu-south-1.amazonaws.com"),
    # GovCloud
    ("us-gov-west-1", "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com"),
    ("us-gov-east-1", "151742754352.dkr.ecr.us-gov-east-1.amazonaws.com"),
    # China: other accounts and domain
    ("cn-north-1", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ("cn-northwest-1", "961992271922.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
    # European Sovereign Cloud
    ("eusc-de-east-1", "877088126301.dkr.ecr.eusc-de-east-1.amazonaws.eu"),
])
def test_registry_of_the_eks_images_per_region(region, registry):
    assert ep.ecr_registry(region) == registry


@pytest.mark.parametrize("region, registry", [
    # Regions in no table: nodeadm's fallback per partition (eks-hybrid getEKSRegistryCoordinates).
    ("us-gov-south-9", "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com"),
    ("cn-south-9", "961992271922.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
    ("xx-new-1", "602401143452.dkr.ecr.us-west-2.amazonaws.com"),
])
def test_unknown_regions_fall_back_as_nodeadm_does(region, registry):
    assert ep.ecr_registry(region) == registry


@pytest.mark.parametrize("region, partition, suffix", [
    ("us-east-1", "aws", "amazonaws.com"),
    ("af-south-1", "aws", "amazonaws.com"),
    ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
    ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
    ("us-iso-east-1", "aws-iso", "c2s.ic.gov"),
    ("us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov"),
    ("eusc-de-east-1", "aws-eusc", "amazonaws.eu"),
])
def test_partition_and_domain_by_region(region, partition, suffix):
    assert ep.partition(region) == partition
    assert ep.dns_suffix(region) == suffix


def test_the_table_has_no_commercial_account_and_no_region_twice():
    assert not ep.COMMERCIAL_REGIONS & set(ep.ECR_REGISTRIES)
    assert all(account != ep.COMMERCIAL_ACCOUNT for account, _region in ep.ECR_REGISTRIES.values())
    assert all(len(account) == 12 and account.isdigit() for account, _region in ep.ECR_REGISTRIES.values())


def test_preflight_endpoints_of_a_commercial_region_are_unchanged():
    assert pf.default_endpoints("us-west-2", "ssm") == [
        "hybrid-assets.eks.amazonaws.com:443", "eks.us-west-2.amazonaws.com:443", "api.ecr.us-west-2.amazonaws.com:443",
        "602401143452.dkr.ecr.us-west-2.amazonaws.com:443", "ssm.us-west-2.amazonaws.com:443",
        "amazon-ssm-us-west-2.s3.us-west-2.amazonaws.com:443"]
    assert pf.default_endpoints("us-west-2", "iam-ra")[4:] == [
        "rolesanywhere.amazonaws.com:443", "rolesanywhere.us-west-2.amazonaws.com:443"]


@pytest.mark.parametrize("region, account", [("af-south-1", "877085696533"), ("ap-east-1", "800184023465"),
                                             ("me-south-1", "558608220178")])
def test_preflight_endpoints_of_an_opt_in_region_use_its_own_account(region, account):
    endpoints = pf.default_endpoints(region, "ssm")
    assert "%s.dkr.ecr.%s.amazonaws.com:443" % (account, region) in endpoints
    assert not [e for e in endpoints if e.startswith("602401143452.")]


def test_preflight_endpoints_of_govcloud():
    endpoints = pf.default_endpoints("us-gov-west-1", "iam-ra")
    assert "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com:443" in endpoints
    assert "eks.us-gov-west-1.amazonaws.com:443" in endpoints
    assert "rolesanywhere.us-gov-west-1.amazonaws.com:443" in endpoints
    assert "rolesanywhere.amazonaws.com:443" not in endpoints
    assert not [e for e in endpoints if e.startswith("602401143452.")]


def test_preflight_endpoints_of_china_use_the_china_domain_and_accounts():
    endpoints = pf.default_endpoints("cn-north-1", "ssm", "api.spectrocloud.com")
    assert endpoints == [
        "eks-hybrid-assets.awsstatic.cn:443", "eks.cn-north-1.amazonaws.com.cn:443",
        "api.ecr.cn-north-1.amazonaws.com.cn:443", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn:443",
        "ssm.cn-north-1.amazonaws.com.cn:443", "amazon-ssm-cn-north-1.s3.cn-north-1.amazonaws.com.cn:443",
        "api.spectrocloud.com:443"]
