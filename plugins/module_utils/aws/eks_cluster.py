# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rules of EKS Hybrid Nodes about the cluster itself, as pure functions, and the one reader of the cluster.

- read_cluster: the only DescribeCluster call of the collection (through the aws wrapper).
- remote_cidrs: the CIDRs of the cluster's remote node or pod networks.

- kubelet_version_problem: the hybrid nodes' Kubernetes version against the control plane's
  (the Kubernetes version-skew policy, as nodeadm's kubelet-version-skew validation applies it).
- endpoint_access_problem: public and private endpoint access at once.
- uncovered_cidrs: the remote CIDRs that the cluster's security groups do not admit on TCP 443.

Each problem is a dict with ``message`` and ``fix``, or None when the rule holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws

# https://kubernetes.io/releases/version-skew-policy/#kubelet : "kubelet must not be newer than
# kube-apiserver"; "kubelet may be up to three minor versions older than kube-apiserver (kubelet < 1.25 may
# only be up to two minor versions older)". aws/eks-hybrid (internal/node/hybrid/versionskew_validator.go,
# maxVersionSkew = 3) refuses the same at `nodeadm init`; every Kubernetes version EKS Hybrid Nodes
# supports is >= 1.25, so there the limit is always three.
MAX_KUBELET_SKEW = 3
MAX_KUBELET_SKEW_BEFORE_1_25 = 2
SKEW_POLICY_URL = "https://kubernetes.io/releases/version-skew-policy/#kubelet"

_VERSION = re.compile(r"^v?(?P<major>[0-9]+)\.(?P<minor>[0-9]+)(?:\.(?P<patch>[0-9]+))?(?:[-+].*)?$")

# https://docs.aws.amazon.com/eks/latest/userguide/hybrid-nodes-networking.html#hybrid-nodes-networking-cluster-sg
# (awsdocs/amazon-eks-user-guide latest/ug/nodes/hybrid-nodes-networking.adoc, "Cluster security group
# configuration"): inbound TCP 443 from the remote node CIDRs (kubelet to API server) and the remote pod CIDRs
# (pods to the API server when the CNI does not NAT them), on the group passed at cluster creation.
HTTPS_PORT = 443
_TCP = ("tcp", "6", "-1")


def read_cluster(module, client, name, not_found_fix=None):
    """The cluster ``name`` as DescribeCluster returns it (boto3 shape), or the module fails naming it.

    ``client`` is an eks client from aws.aws_client(); ``not_found_fix`` is the advice when the cluster does
    not exist (in this region).
    """
    fix = aws.fix_when("ResourceNotFoundException", not_found_fix) if not_found_fix else None
    return aws.call(module, client, "describe_cluster", "EKS cluster %s" % name, "eks", fix=fix, name=name)["cluster"]


def remote_cidrs(cluster, key):
    """Every CIDR of remoteNetworkConfig[key] ('remoteNodeNetworks', 'remotePodNetworks'); EKS keeps one item,
    all are read to be safe."""
    items = (cluster.get("remoteNetworkConfig") or {}).get(key) or []
    return [value for item in items for value in (item.get("cidrs") or [])]


def parse_version(value):
    """(major, minor) of a Kubernetes version such as '1.31', '1.31.2' or 'v1.31.2-eks-1'; None when not one."""
    match = _VERSION.match(str(value if value is not None else "").strip())
    if not match:
        return None
    return int(match.group("major")), int(match.group("minor"))


def max_kubelet_skew(kubelet_minor):
    """How many minor versions a kubelet of 1.<kubelet_minor> may be older than kube-apiserver."""
    return MAX_KUBELET_SKEW if kubelet_minor >= 25 else MAX_KUBELET_SKEW_BEFORE_1_25


def kubelet_version_problem(kubelet_version, control_plane_version, cluster_name="the cluster"):
    """A problem when hybrid nodes of ``kubelet_version`` may not join a control plane of ``control_plane_version``.

    The kubelet must not be newer than the control plane, nor more minor versions older than the skew
    policy allows (three; two for a kubelet older than 1.25). Returns None when the pair is allowed.
    """
    kubelet, control = parse_version(kubelet_version), parse_version(control_plane_version)
    if kubelet is None:
        return {"message": "The hybrid nodes' Kubernetes version %r is not a version such as 1.31." % (kubelet_version,),
                "fix": "Set hybrid_kubernetes_version to %s (the version of %s), quoted." % (
                    control_plane_version, cluster_name)}
    if control is None:
        return {"message": "The Kubernetes version %r of %s could not be read." % (control_plane_version, cluster_name),
                "fix": "Check the cluster with aws eks describe-cluster --name %s." % cluster_name}
    lowest = control[1] - max_kubelet_skew(kubelet[1])
    if kubelet[0] != control[0]:
        return {"message": "The hybrid nodes' Kubernetes version %s and the control plane's version %s of %s differ in "
                           "their major version (%s)." % (
                               kubelet_version, control_plane_version, cluster_name, SKEW_POLICY_URL),
                "fix": "Set hybrid_kubernetes_version to %d.%d (the control plane's version)." % control}
    if kubelet[1] > control[1]:
        return {"message": "The hybrid nodes' Kubernetes version %s is newer than the control plane's version %s "
                           "of %s; a kubelet must not be newer than kube-apiserver (%s)." % (
                               kubelet_version, control_plane_version, cluster_name, SKEW_POLICY_URL),
                "fix": "Set hybrid_kubernetes_version to %d.%d or older (down to %d.%d), or upgrade %s to %s first." % (
                    control[0], control[1], control[0], max(lowest, 0), cluster_name, kubelet_version)}
    if kubelet[1] < lowest:
        return {"message": "The hybrid nodes' Kubernetes version %s is %d minor versions older than the control "
                           "plane's version %s of %s; a kubelet may be at most %d minor versions older (%s)." % (
                               kubelet_version, control[1] - kubelet[1], control_plane_version, cluster_name,
                               max_kubelet_skew(kubelet[1]), SKEW_POLICY_URL),
                "fix": "Set hybrid_kubernetes_version to %d.%d or newer (up to %d.%d)." % (
                    control[0], lowest, control[0], control[1])}
    return None


def endpoint_access_problem(cluster_name, public_access, private_access):
    """A problem when the API server endpoint is both public and private.

    https://docs.aws.amazon.com/eks/latest/userguide/hybrid-nodes-cluster-create.html ("Considerations";
    awsdocs/amazon-eks-user-guide latest/ug/nodes/hybrid-nodes-cluster-create.adoc): the endpoint must be public or private,
    not both, "because the Amazon EKS Kubernetes API server endpoint will resolve to the public IPs for hybrid
    nodes running outside of your VPC" (and nodes that reach the VPC privately then cannot join).
    """
    if not (public_access and private_access):
        return None
    return {"message": "EKS cluster %s has both public and private endpoint access; its API server name then "
                       "resolves to public addresses for hybrid nodes outside the VPC, which can stop them "
                       "joining over the private connection." % cluster_name,
            "fix": "Choose one: aws eks update-cluster-config --name %s --resources-vpc-config "
                   "endpointPublicAccess=false,endpointPrivateAccess=true (or the reverse when the nodes reach "
                   "the public endpoint), or make the nodes' DNS resolve the endpoint to the cluster's private "
                   "addresses." % cluster_name}


def _admits_port(permission, port):
    protocol = str(permission.get("IpProtocol", "")).lower()
    if protocol not in _TCP:
        return False
    if protocol == "-1":
        return True
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None:
        return False
    # FromPort/ToPort -1 with tcp does not occur; a range is inclusive.
    return int(low) <= port <= int(high)


def admitted_networks(security_groups, port=HTTPS_PORT):
    """The IPv4 networks the ingress rules of ``security_groups`` admit on TCP ``port`` (any group counts:
    the rules of the groups attached to one network interface add up)."""
    networks = []
    for group in security_groups:
        for permission in group.get("IpPermissions") or []:
            if not _admits_port(permission, port):
                continue
            for item in permission.get("IpRanges") or []:
                try:
                    networks.append(ipaddress.ip_network(u"%s" % item.get("CidrIp"), strict=False))
                except ValueError:
                    continue
    return networks


def covered(cidr, networks):
    """True when every address of ``cidr`` lies in one of ``networks`` (several smaller rules may add up)."""
    target = ipaddress.ip_network(u"%s" % cidr, strict=False)
    parts = []
    for network in networks:
        if network.version != target.version:
            continue
        if target.subnet_of(network):
            return True
        if network.subnet_of(target):
            parts.append(network)
    return list(ipaddress.collapse_addresses(parts)) == [target]


def uncovered_cidrs(security_groups, cidrs, port=HTTPS_PORT):
    """The CIDRs of ``cidrs`` (in their order, without repeats) that no ingress rule of the groups admits on TCP ``port``.

    Only CIDR rules count; rules that name a security group or a prefix list cannot admit an on-premises
    network by address and are not evaluated.
    """
    networks = admitted_networks(security_groups, port)
    missing = []
    for value in cidrs:
        if value not in missing and not covered(value, networks):
            missing.append(value)
    return missing
