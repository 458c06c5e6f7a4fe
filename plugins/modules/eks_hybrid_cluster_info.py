#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: eks_hybrid_cluster_info
short_description: Check that an Amazon EKS cluster is ready for hybrid nodes
version_added: 0.1.0
description:
  - Reads an EKS cluster and checks the requirements of EKS Hybrid Nodes, reporting every unmet
    requirement at once, each with its fix.
  - "Requirements: the cluster is C(ACTIVE); its authentication mode is C(API) or C(API_AND_CONFIG_MAP)
    (access entries); its IP family is C(ipv4); it has remote node networks; and, when O(kubernetes_version)
    is given, the control plane's version allows kubelets of that version (requirement C(kubelet-version-skew):
    not newer than the control plane, and at most three minor versions older, two for a kubelet older than
    1.25, as the Kubernetes version-skew policy says)."
  - The add-ons are listed for information only (RV(cluster.addons)); the C(vpc-cni) add-on is not a requirement,
    since a self-managed C(aws-node) and clusters with hybrid nodes only are valid.
  - "Warns, without failing, when the API server endpoint has both public and private access: the endpoint's name
    then resolves to public addresses for hybrid nodes outside the VPC, which can stop them joining (EKS user
    guide, Create cluster, Considerations)."
  - With O(palette=true), also the Palette requirement of a cloud node group for the Palette agent's
    workloads, at least one managed node group whose every instance type is at least
    O(min_worker_instance_type) and whose disk is at least O(min_worker_disk_gb) GiB.
  - "How instance types are compared: a type C(family.size) is given vCPUs and memory from a small built-in
    table. Sizes C(nano), C(micro), C(small) and C(medium) count as 2 vCPUs with 0.5, 1, 2 and 4 GiB;
    C(large) is 2 vCPUs, C(xlarge) 4, C(Nxlarge) 4*N, C(metal) 96; memory is the vCPUs times the GiB per
    vCPU of the family's class, its leading letters (a 2, c 2, d 8, g 4, h 4, i 8, m 4, p 7, r 8, t 4, x 16, z 8). A type
    meets the minimum when both its vCPUs and its memory are at least the minimum's, so C(m5.xlarge) and
    C(c5.2xlarge) meet C(t3.xlarge) while C(c5.xlarge) (8 GiB) and C(t3.large) do not. Types the table
    does not know do not count as meeting it."
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  palette:
    description:
      - Also check the Palette requirement of a cloud node group (see O(min_worker_instance_type)).
    type: bool
    default: false
  min_worker_instance_type:
    description:
      - Smallest instance type a cloud node group may have to meet the Palette requirement.
    type: str
    default: t3.xlarge
  min_worker_disk_gb:
    description:
      - Smallest disk size, in GiB, of that node group.
    type: int
    default: 20
  kubernetes_version:
    description:
      - Kubernetes version of the hybrid nodes (C(hybrid_kubernetes_version)), such as V(1.31) or V(1.31.2).
      - When given, the requirement C(kubelet-version-skew) checks it against the cluster's version.
    type: str
  fail_on_unmet:
    description:
      - Fail, listing every unmet requirement, when any requirement is not met.
      - When V(false), the module succeeds and returns the unmet requirements in RV(failed_requirements).
    type: bool
    default: true
attributes:
  check_mode:
    details: Only reads and never reports a change, in check mode or not.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.attributes.info_module,
                                 hybridnodes.eks.eks_cluster,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: eks:DescribeCluster; eks:ListAddons (optional, for RV(cluster.addons)); with O(palette=true)
    also eks:ListNodegroups and eks:DescribeNodegroup."
"""

EXAMPLES = r"""
- name: Stop early when the cluster cannot take hybrid nodes
  hybridnodes.eks.eks_hybrid_cluster_info:
    cluster_name: hybrid-example
    region: us-west-2

- name: Also refuse nodes of a version the control plane does not allow
  hybridnodes.eks.eks_hybrid_cluster_info:
    cluster_name: hybrid-example
    kubernetes_version: "1.31"

- name: Check the Palette requirements too, and report instead of failing
  hybridnodes.eks.eks_hybrid_cluster_info:
    cluster_name: hybrid-example
    palette: true
    fail_on_unmet: false
  register: readiness

- name: Show what is missing
  ansible.builtin.debug:
    msg: "{{ readiness.failed_requirements | map(attribute='fix') | list }}"
"""

RETURN = r"""
cluster:
  description: The fields of the cluster the checks use.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the cluster.
      returned: always
      type: str
      sample: hybrid-example
    arn:
      description: ARN of the cluster.
      returned: always
      type: str
      sample: arn:aws:eks:us-west-2:123456789012:cluster/hybrid-example
    status:
      description: Status of the cluster.
      returned: always
      type: str
      sample: ACTIVE
    version:
      description: Kubernetes version of the cluster.
      returned: always
      type: str
      sample: "1.31"
    endpoint:
      description: API server endpoint of the cluster.
      returned: always
      type: str
      sample: https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
    authentication_mode:
      description: The cluster's authentication mode (accessConfig.authenticationMode).
      returned: always
      type: str
      sample: API_AND_CONFIG_MAP
    ip_family:
      description: IP family of the cluster's Kubernetes network.
      returned: always
      type: str
      sample: ipv4
    service_ipv4_cidr:
      description: The cluster's service CIDR.
      returned: always
      type: str
      sample: 172.20.0.0/16
    vpc_id:
      description: The cluster's VPC, when EKS reports it.
      returned: always
      type: str
      sample: vpc-0123456789abcdef0
    endpoint_public_access:
      description: Whether the API server endpoint is public (resourcesVpcConfig.endpointPublicAccess).
      returned: always
      type: bool
      sample: false
    endpoint_private_access:
      description: Whether the API server endpoint is private (resourcesVpcConfig.endpointPrivateAccess).
      returned: always
      type: bool
      sample: true
    cluster_security_group_id:
      description: The security group EKS made for the cluster (resourcesVpcConfig.clusterSecurityGroupId), or null.
      returned: always
      type: str
      sample: sg-0123456789abcdef0
    security_group_ids:
      description: The additional security groups of the cluster (resourcesVpcConfig.securityGroupIds).
      returned: always
      type: list
      elements: str
      sample: ["sg-0fedcba9876543210"]
    remote_node_cidrs:
      description: The CIDRs of the remote node networks.
      returned: always
      type: list
      elements: str
      sample: ["10.200.0.0/16"]
    remote_pod_cidrs:
      description: The CIDRs of the remote pod networks.
      returned: always
      type: list
      elements: str
      sample: ["192.168.0.0/16"]
    addons:
      description: Names of the installed add-ons, for information; null when they could not be listed.
      returned: always
      type: list
      elements: str
      sample: ["vpc-cni"]
    nodegroups:
      description: The managed node groups (name, instance_types, disk_size, status).
      returned: when O(palette=true)
      type: list
      elements: dict
      sample: [{"name": "cloud-workers", "instance_types": ["t3.xlarge"], "disk_size": 20, "status": "ACTIVE"}]
requirements:
  description:
    - Every requirement checked, with C(name), C(ok) (true, false, or null when it could not be checked),
      C(message) and C(fix).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "cluster-active", "ok": true, "message": "Cluster hybrid-example is ACTIVE.", "fix": ""}]
failed_requirements:
  description: The requirements that are not met (those of RV(requirements) whose C(ok) is false).
  returned: always
  type: list
  elements: dict
  sample: []
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import eks_cluster

# vCPUs and GiB of the sizes below 'large' (as in the t3 family, where they are used).
SMALL_SIZES = {"nano": (2, 0.5), "micro": (2, 1), "small": (2, 2), "medium": (2, 4)}
METAL_VCPUS = 96
# GiB of memory per vCPU, by the class letter of the family (m5 -> m, c7gn -> c; inf2 -> inf is unknown).
GIB_PER_VCPU = {"a": 2, "c": 2, "d": 8, "g": 4, "h": 4, "i": 8, "m": 4, "p": 7, "r": 8, "t": 4, "x": 16, "z": 8}
_TYPE = re.compile(r"^(?P<family>[a-z]+[0-9][a-z0-9-]*)\.(?P<size>nano|micro|small|medium|large|metal|(?P<n>[0-9]*)xlarge)$")


def instance_capacity(instance_type):
    """(vCPUs, GiB) of an instance type from the built-in table, or None when the table does not know it."""
    match = _TYPE.match(str(instance_type or "").strip().lower())
    if not match:
        return None
    per_vcpu = GIB_PER_VCPU.get(re.match(r"[a-z]+", match.group("family")).group(0))
    size = match.group("size")
    if per_vcpu is None:
        return None
    if size in SMALL_SIZES:
        return SMALL_SIZES[size]
    if size == "large":
        vcpus = 2
    elif size == "metal":
        vcpus = METAL_VCPUS
    else:
        vcpus = 4 * int(match.group("n") or 1)
    return (vcpus, vcpus * per_vcpu)


def meets_minimum(instance_type, minimum):
    """True when the type has at least the minimum's vCPUs and memory (see the module's description)."""
    have, need = instance_capacity(instance_type), instance_capacity(minimum)
    if have is None or need is None:
        return False
    return have[0] >= need[0] and have[1] >= need[1]


def requirement(name, ok, message, fix=""):
    return {"name": name, "ok": ok, "message": message, "fix": "" if ok else fix}


def list_addons(module, eks):
    """The add-on names (information only), or None when listing them is not permitted.

    No add-on is a requirement of hybrid nodes: the vpc-cni add-on serves cloud nodes only, and a
    self-managed aws-node or a cluster with hybrid nodes only is valid (EKS user guide, hybrid-nodes-cni:
    VPC CNI is not compatible with hybrid nodes).
    """
    name = module.params["cluster_name"]
    return aws.list_all(module, eks, "list_addons", "addons", "of EKS cluster %s" % name, "eks",
                        absent=aws.ACCESS_DENIED_CODES, clusterName=name)


def nodegroups(module, eks):
    name = module.params["cluster_name"]
    names = aws.list_all(module, eks, "list_nodegroups", "nodegroups", "of EKS cluster %s" % name, "eks",
                         clusterName=name)
    groups = []
    for group_name in names:
        group = aws.call(module, eks, "describe_nodegroup", "%s of EKS cluster %s" % (group_name, name), "eks",
                         clusterName=name, nodegroupName=group_name)["nodegroup"]
        groups.append({"name": group_name, "instance_types": list(group.get("instanceTypes") or []),
                       "disk_size": group.get("diskSize"), "status": group.get("status")})
    return groups


def summary(cluster):
    network = cluster.get("kubernetesNetworkConfig") or {}
    vpc = cluster.get("resourcesVpcConfig") or {}
    return {
        "name": cluster.get("name"),
        "arn": cluster.get("arn"),
        "status": cluster.get("status"),
        "version": cluster.get("version"),
        "endpoint": cluster.get("endpoint"),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
        "ip_family": network.get("ipFamily"),
        "service_ipv4_cidr": network.get("serviceIpv4Cidr"),
        "vpc_id": vpc.get("vpcId"),
        "endpoint_public_access": bool(vpc.get("endpointPublicAccess")),
        "endpoint_private_access": bool(vpc.get("endpointPrivateAccess")),
        "cluster_security_group_id": vpc.get("clusterSecurityGroupId") or None,
        "security_group_ids": list(vpc.get("securityGroupIds") or []),
        "remote_node_cidrs": eks_cluster.remote_cidrs(cluster, "remoteNodeNetworks"),
        "remote_pod_cidrs": eks_cluster.remote_cidrs(cluster, "remotePodNetworks"),
    }


def check_cluster(info, kubernetes_version=None):
    name = info["name"]
    found = [
        requirement("cluster-active", info["status"] == "ACTIVE",
                    "Cluster %s is %s." % (name, info["status"]),
                    "Wait until the cluster is ACTIVE (it may be creating or updating), or repair it if it FAILED."),
        requirement("authentication-mode", info["authentication_mode"] in ("API", "API_AND_CONFIG_MAP"),
                    "Cluster %s uses authentication mode %s; hybrid nodes join through an access entry, "
                    "which needs API or API_AND_CONFIG_MAP." % (name, info["authentication_mode"]),
                    "aws eks update-cluster-config --name %s --access-config authenticationMode=API_AND_CONFIG_MAP"
                    % name),
        requirement("ip-family", info["ip_family"] == "ipv4",
                    "Cluster %s has IP family %s; EKS Hybrid Nodes need an IPv4 cluster." % (name, info["ip_family"]),
                    "The IP family cannot be changed: create an IPv4 cluster for the hybrid nodes."),
        requirement("remote-node-networks", bool(info["remote_node_cidrs"]),
                    "Cluster %s has remote node networks %s." % (name, ", ".join(info["remote_node_cidrs"]) or "(none)"),
                    "Set them with hybridnodes.eks.eks_remote_networks (remote_node_cidrs: the edge hosts' CIDRs)."),
    ]
    if kubernetes_version:
        problem = eks_cluster.kubelet_version_problem(kubernetes_version, info["version"], "EKS cluster %s" % name)
        found.append(requirement(
            "kubelet-version-skew", problem is None,
            problem["message"] if problem else "Hybrid nodes of Kubernetes %s may join cluster %s (version %s)." % (
                kubernetes_version, name, info["version"]),
            problem["fix"] if problem else ""))
    return found


def check_palette(name, groups, minimum, min_disk):
    good = []
    reasons = []
    for group in groups:
        types = group["instance_types"]
        small = [t for t in types if not meets_minimum(t, minimum)]
        disk = group["disk_size"]
        if not types:
            reasons.append("%s: instance types not reported (launch template)" % group["name"])
        elif small:
            reasons.append("%s: %s below %s" % (group["name"], ", ".join(small), minimum))
        elif disk is None or disk < min_disk:
            reasons.append("%s: disk %s GiB below %d GiB" % (group["name"], disk if disk is not None else "unknown", min_disk))
        else:
            good.append(group["name"])
    if good:
        message = "Node group(s) %s meet %s with at least %d GiB of disk." % (", ".join(good), minimum, min_disk)
    else:
        message = "Cluster %s has no managed node group of at least %s with %d GiB of disk for Palette%s." % (
            name, minimum, min_disk, " (%s)" % "; ".join(reasons) if reasons else " (it has no node groups)")
    return requirement(
        "palette-cloud-nodegroup", bool(good), message,
        "Create a managed node group with instance type %s or larger and a disk of at least %d GiB." % (minimum, min_disk))


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        palette=dict(type="bool", default=False),
        min_worker_instance_type=dict(type="str", default="t3.xlarge"),
        min_worker_disk_gb=dict(type="int", default=20),
        kubernetes_version=dict(type="str"),
        fail_on_unmet=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["palette"] and instance_capacity(params["min_worker_instance_type"]) is None:
        module.fail_json(msg="min_worker_instance_type %s is not a type this module can size; use a common type "
                             "such as t3.xlarge or m5.xlarge." % params["min_worker_instance_type"])

    eks = aws.aws_client(module, "eks")
    cluster = eks_cluster.read_cluster(module, eks, params["cluster_name"])
    info = summary(cluster)
    info["addons"] = list_addons(module, eks)
    requirements = check_cluster(info, params["kubernetes_version"])
    endpoint = eks_cluster.endpoint_access_problem(info["name"], info["endpoint_public_access"],
                                                   info["endpoint_private_access"])
    if endpoint:
        module.warn("%s Fix: %s" % (endpoint["message"], endpoint["fix"]))
    if params["palette"]:
        info["nodegroups"] = nodegroups(module, eks)
        requirements.append(check_palette(info["name"], info["nodegroups"], params["min_worker_instance_type"],
                                          params["min_worker_disk_gb"]))
    failed = [item for item in requirements if item["ok"] is False]
    result = dict(changed=False, cluster=info, requirements=requirements, failed_requirements=failed)
    if failed and params["fail_on_unmet"]:
        module.fail_json(
            msg="EKS cluster %s does not meet %d requirement(s) of EKS Hybrid Nodes:\n%s" % (
                info["name"], len(failed),
                "\n".join("- %s: %s Fix: %s" % (item["name"], item["message"], item["fix"]) for item in failed)),
            **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
