# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a hybrid node in a given AWS region fetches the EKS images and reaches AWS: partition, DNS suffix and
the ECR registry (account and domain) of the EKS images, as data and pure functions.

The account of the EKS images is not the same everywhere: 602401143452 in the regions enabled by default, one
account per opt-in region, and other accounts in GovCloud, China and the isolated partitions, whose DNS suffix
differs too (amazonaws.com.cn in China). Sources, checked against each other:

- EKS user guide, "View Amazon container image registries for Amazon EKS add-ons"
  (https://docs.aws.amazon.com/eks/latest/userguide/add-ons-images.html, awsdocs/amazon-eks-user-guide
  latest/ug/workloads/add-ons-images.adoc);
- aws/eks-hybrid v1.0.19, internal/aws/ecr/ecr.go (accountsByRegion and the prefix fallback nodeadm uses when the
  release manifest's region_config has no entry for the region) and internal/aws/partition.go (partition by region
  prefix, DNS suffix by partition).

nodeadm takes the account from the release manifest's region_config first; this table is what that manifest
serves for the regions listed in the user guide. Runs on the managed host: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

COMMERCIAL_ACCOUNT = "602401143452"

# Region prefix -> partition, most specific first (eks-hybrid internal/aws/partition.go,
# GetPartitionFromRegionFallback). Every other region is in the commercial partition "aws".
PARTITION_PREFIXES = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isoe-", "aws-iso-e"),
    # Not in eks-hybrid's prefix fallback (its release manifest gives eu-isoe-west-1's dns_suffix instead).
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eusc-", "aws-eusc"),
)

# Partition -> DNS suffix of its service endpoints (eks-hybrid internal/aws/partition.go, GetPartitionDNSSuffix).
DNS_SUFFIXES = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
    "aws-iso-e": "cloud.adc-e.uk",
    "aws-iso-f": "csp.hci.ic.gov",
    "aws-eusc": "amazonaws.eu",
}

# Region -> (account, region of the registry) of the EKS images, where the account is not COMMERCIAL_ACCOUNT in
# the region itself. Opt-in regions, GovCloud, China and eusc from the user guide page; the isolated regions from
# eks-hybrid's accountsByRegion (the user guide does not list them). The user guide gives ap-east-2's registry in
# ap-east-1; it is kept as written there.
ECR_REGISTRIES = {
    "af-south-1": ("877085696533", "af-south-1"),
    "ap-east-1": ("800184023465", "ap-east-1"),
    "ap-east-2": ("533267051163", "ap-east-1"),
    "ap-south-2": ("900889452093", "ap-south-2"),
    "ap-southeast-3": ("296578399912", "ap-southeast-3"),
    "ap-southeast-4": ("491585149902", "ap-southeast-4"),
    "ap-southeast-5": ("151610086707", "ap-southeast-5"),
    "ap-southeast-6": ("333609536671", "ap-southeast-6"),
    "ap-southeast-7": ("121268973566", "ap-southeast-7"),
    "ca-west-1": ("761377655185", "ca-west-1"),
    "eu-central-2": ("900612956339", "eu-central-2"),
    "eu-south-1": ("590381155156", "eu-south-1"),
    "eu-south-2": ("455263428931", "eu-south-2"),
    "il-central-1": ("066635153087", "il-central-1"),
    "me-central-1": ("759879836304", "me-central-1"),
    "me-south-1": ("558608220178", "me-south-1"),
    "mx-central-1": ("730335286997", "mx-central-1"),
    "cn-north-1": ("918309763551", "cn-north-1"),
    "cn-northwest-1": ("961992271922", "cn-northwest-1"),
    "us-gov-east-1": ("151742754352", "us-gov-east-1"),
    "us-gov-west-1": ("013241004608", "us-gov-west-1"),
    "eusc-de-east-1": ("877088126301", "eusc-de-east-1"),
    "eu-isoe-west-1": ("249663109785", "eu-isoe-west-1"),
    "us-iso-east-1": ("725322719131", "us-iso-east-1"),
    "us-iso-west-1": ("608367168043", "us-iso-west-1"),
    "us-isob-east-1": ("187977181151", "us-isob-east-1"),
    "us-isof-south-1": ("676585237158", "us-isof-south-1"),
}

# Commercial regions enabled by default, whose registry is COMMERCIAL_ACCOUNT in the region (user guide page).
COMMERCIAL_REGIONS = frozenset((
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
))

# A region in neither table: nodeadm's fallback by partition (eks-hybrid internal/aws/ecr/ecr.go,
# getEKSRegistryCoordinates): the registry of one region of the partition; COMMERCIAL_ACCOUNT in us-west-2 for
# any other partition.
FALLBACK_REGISTRIES = {
    "aws": (COMMERCIAL_ACCOUNT, "us-west-2"),
    "aws-us-gov": ("013241004608", "us-gov-west-1"),
    "aws-cn": ("961992271922", "cn-northwest-1"),
    "aws-iso": ("725322719131", "us-iso-east-1"),
    "aws-iso-b": ("187977181151", "us-isob-east-1"),
    "aws-iso-f": ("676585237158", "us-isof-south-1"),
}


def partition(region):
    """The AWS partition of a region, from its prefix."""
    for prefix, name in PARTITION_PREFIXES:
        if region.startswith(prefix):
            return name
    return "aws"


def dns_suffix(region):
    """The DNS suffix of the region's service endpoints (amazonaws.com.cn in China)."""
    return DNS_SUFFIXES[partition(region)]


def service_host(service, region):
    """A regional service endpoint, such as eks.cn-north-1.amazonaws.com.cn."""
    return "%s.%s.%s" % (service, region, dns_suffix(region))


def ecr_registry(region):
    """The ECR registry host of the EKS images (pause, kube-proxy, CoreDNS...) for a cluster in this region.

    As nodeadm does, the DNS suffix is the cluster region's (eks-hybrid internal/aws/ecr/ecr.go,
    GetEKSHybridRegistry), also when the registry is in another region of the partition."""
    if region in ECR_REGISTRIES:
        account, registry_region = ECR_REGISTRIES[region]
    elif region in COMMERCIAL_REGIONS:
        account, registry_region = COMMERCIAL_ACCOUNT, region
    else:
        account, registry_region = FALLBACK_REGISTRIES.get(partition(region), (COMMERCIAL_ACCOUNT, "us-west-2"))
    return "%s.dkr.ecr.%s.%s" % (account, registry_region, dns_suffix(region))


def hybrid_assets_host(region):
    """Where nodeadm reads its release manifest: a China-specific host for aws-cn (eks-hybrid
    internal/aws/manifest.go, getManifestURL), hybrid-assets.eks.amazonaws.com elsewhere."""
    if partition(region) == "aws-cn":
        return "eks-hybrid-assets.awsstatic.cn"
    return "hybrid-assets.eks.amazonaws.com"
