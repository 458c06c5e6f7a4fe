# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The credential providers of EKS Hybrid Nodes, one entry each: what a hybrid node's credentials need in IAM, in
the NodeConfig, on which OS, and which AWS endpoints the node reaches for them.

The rules that differ per provider read their values here (module_utils inventory_rules, nodeadm, nodeadm_plan,
nodeconfig and preflight; the roles through the filter hybridnodes.eks.credential_provider), so a new provider is
one entry here plus its tests, and the places that need code of their own (its task files, its module options) are
listed in docs/architecture.md, "A new credential provider". Pure data and functions, standard library only: the
preflight imports it on the managed host.

Sources: EKS user guide, hybrid-nodes-creds (the trust policies, the managed policies, and "IAM Roles Anywhere is
not supported on Ubuntu 20.04 or RHEL 8"), hybrid-nodes-networking (the endpoints, "Access required during and
after node installation"); aws/eks-hybrid api/v1alpha1/nodeconfig_types.go (spec.hybrid.ssm and
spec.hybrid.iamRolesAnywhere) and internal/tracker (the installed provider recorded as Ssm or IamRolesAnywhere).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import eks_endpoints as ep

# The provider of an inventory that names none (hybrid_credential_provider's default).
DEFAULT = "ssm"

# Placeholders of the policy documents below, filled in by trust_policy and inline_statements.
_PARTITION, _REGION, _ACCOUNT, _ANCHOR = "<partition>", "<region>", "<account_id>", "<trust_anchor_arn>"

PROVIDERS = {
    "ssm": {
        "name": "ssm",
        "title": "AWS SSM hybrid activations",
        # NodeConfig spec.hybrid.<key>, and the key nodeadm's tracker records the installed provider under.
        "nodeconfig_key": "ssm",
        "tracker_key": "Ssm",
        # The service principal of the nodes' IAM role and its actions, one statement per condition set.
        "trust_principal": "ssm.amazonaws.com",
        "trust_statements": [
            {"Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"aws:SourceAccount": _ACCOUNT},
                           "ArnEquals": {"aws:SourceArn": "arn:%s:ssm:%s:%s:*" % (_PARTITION, _REGION, _ACCOUNT)}}},
        ],
        # AWS managed policies the nodes' role carries (names; arn:PARTITION:iam::aws:policy/NAME).
        "managed_policies": ["AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"],
        # Statements of the role's inline policy beside the EKS reads: a node deregisters its own managed instance
        # (only those tagged with the cluster) when it leaves (playbooks/tasks/decommission_node.yml).
        "inline_statements": [
            {"Sid": "SsmDescribeInstances", "Effect": "Allow", "Action": "ssm:DescribeInstanceInformation",
             "Resource": "*"},
            {"Sid": "SsmDeregisterOwnClusterInstances", "Effect": "Allow", "Action": "ssm:DeregisterManagedInstance",
             "Resource": "arn:%s:ssm:%s:%s:managed-instance/*" % (_PARTITION, _REGION, _ACCOUNT),
             "Condition": {"StringEquals": {"ssm:resourceTag/EKSClusterARN": "<cluster_arn>"}}},
        ],
        # (os-release ID, VERSION_ID, the major for RHEL) where EKS does not support the provider.
        "unsupported_os": [],
        "unsupported_os_fix": "",
        # The endpoints beside EKS's own: a service of the region, a fixed host (only in the partitions listed), or
        # a host pattern of the region (the SSM agent's S3 bucket).
        "endpoints": [{"service": "ssm"}, {"pattern": "amazon-ssm-{region}.s3.{region}.{dns_suffix}"}],
        # The node runs the SSM agent, which host_prep gives the proxy (its systemd drop-ins).
        "host_agent": "amazon-ssm-agent",
        # The inventory variables (group_vars/all) the provider needs, each a non-empty string, with the fix when
        # one is not (module_utils inventory_rules, and an entry of its CLUSTER_SPEC each).
        "inventory_inputs": {},
    },
    "iam-ra": {
        "name": "iam-ra",
        "title": "IAM Roles Anywhere",
        "nodeconfig_key": "iamRolesAnywhere",
        "tracker_key": "IamRolesAnywhere",
        "trust_principal": "rolesanywhere.amazonaws.com",
        "trust_statements": [
            {"Action": ["sts:TagSession", "sts:SetSourceIdentity"],
             "Condition": {"ArnEquals": {"aws:SourceArn": _ANCHOR}}},
            {"Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:PrincipalTag/x509Subject/CN}"},
                           "ArnEquals": {"aws:SourceArn": _ANCHOR}}},
        ],
        "managed_policies": ["AmazonEC2ContainerRegistryPullOnly"],
        "inline_statements": [],
        "unsupported_os": [["ubuntu", "20.04"], ["rhel", "8"]],
        "unsupported_os_fix": "Use hybrid_credential_provider=ssm on this host, or upgrade to Ubuntu 22.04+ / RHEL 9.",
        "endpoints": [{"host": "rolesanywhere.amazonaws.com", "partitions": ["aws"]}, {"service": "rolesanywhere"}],
        "host_agent": None,
        "inventory_inputs": {
            "hybrid_iam_ra_ca_certificate_path": "With iam-ra, set hybrid_iam_ra_ca_certificate_path to the PEM file (on "
                                                 "the controller) of the CA that issues the node certificates.",
        },
    },
}

NAMES = tuple(PROVIDERS)


def get(name):
    """The entry of ``name`` (a copy); KeyError names the known providers."""
    if name not in PROVIDERS:
        raise KeyError("unknown credential provider %r: one of %s" % (name, ", ".join(NAMES)))
    return copy.deepcopy(PROVIDERS[name])


def _fill(value, values):
    if isinstance(value, dict):
        return dict((key, _fill(item, values)) for key, item in value.items())
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, str):
        for placeholder, filled in values.items():
            value = value.replace(placeholder, filled)
    return value


def _values(partition, region, account_id, trust_anchor_arn="", cluster_arn=""):
    return {_PARTITION: partition or "", _REGION: region or "", _ACCOUNT: account_id or "",
            _ANCHOR: trust_anchor_arn or "", "<cluster_arn>": cluster_arn or ""}


def trust_policy(name, partition, region, account_id, trust_anchor_arn=""):
    """The nodes' IAM role's trust policy document for provider ``name``."""
    entry = PROVIDERS[name]
    statements = [dict([("Effect", "Allow"), ("Principal", {"Service": entry["trust_principal"]})], **statement)
                  for statement in entry["trust_statements"]]
    return {"Version": "2012-10-17",
            "Statement": _fill(statements, _values(partition, region, account_id, trust_anchor_arn))}


def managed_policy_arns(name, partition):
    return ["arn:%s:iam::aws:policy/%s" % (partition, policy) for policy in PROVIDERS[name]["managed_policies"]]


def inline_statements(name, partition, region, account_id, cluster_arn):
    return _fill(PROVIDERS[name]["inline_statements"], _values(partition, region, account_id, cluster_arn=cluster_arn))


def os_supported(name, os_id, version):
    """Whether EKS supports provider ``name`` on os-release ``os_id`` ``version`` (the major for RHEL)."""
    return [os_id, version] not in PROVIDERS[name]["unsupported_os"]


def endpoints(name, region):
    """The hosts a node reaches on TCP 443 for provider ``name`` in ``region`` (module_utils eks_endpoints)."""
    hosts = []
    for endpoint in PROVIDERS[name]["endpoints"]:
        if "service" in endpoint:
            hosts.append(ep.service_host(endpoint["service"], region))
        elif "host" in endpoint:
            if ep.partition(region) in endpoint.get("partitions", [ep.partition(region)]):
                hosts.append(endpoint["host"])
        else:
            hosts.append(endpoint["pattern"].format(region=region, dns_suffix=ep.dns_suffix(region)))
    return hosts


def from_tracker(tracker):
    """The provider nodeadm's tracker records as installed, or None."""
    for name in NAMES:
        if (tracker or {}).get(PROVIDERS[name]["tracker_key"]):
            return name
    return None


def describe(name, partition=None, region=None, account_id=None, trust_anchor_arn=None, cluster_arn=None):
    """The entry of ``name`` for playbooks and roles, with the IAM documents filled in when ``partition`` is given."""
    entry = get(name)
    if partition:
        entry["trust_policy"] = trust_policy(name, partition, region, account_id, trust_anchor_arn)
        entry["managed_policy_arns"] = managed_policy_arns(name, partition)
        entry["inline_policy_statements"] = inline_statements(name, partition, region, account_id, cluster_arn)
    if region:
        entry["endpoint_hosts"] = endpoints(name, region)
    return entry
