#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: eks_cluster_security_group
short_description: Check (and optionally open) TCP 443 from the hybrid nodes to an Amazon EKS cluster's security groups
version_added: 0.1.0
description:
  - EKS Hybrid Nodes reach the Kubernetes API server through the network interfaces EKS puts in the cluster's
    VPC; the security groups of those interfaces must admit TCP 443 from the remote node networks (kubelet to
    API server) and from the remote pod networks (pods to the API server when the CNI does not masquerade them).
    See the EKS user guide, Prepare networking for hybrid nodes, Cluster security group configuration.
  - Reads the cluster with C(DescribeCluster) and its security groups with C(DescribeSecurityGroups), the cluster
    security group EKS made (C(resourcesVpcConfig.clusterSecurityGroupId)) and the additional ones
    (C(resourcesVpcConfig.securityGroupIds)). The rules of all of them add up, as they are attached to the same
    network interfaces. A CIDR is admitted when C(tcp) (or all traffic) rules with port 443 in their range cover
    all of its addresses; rules naming a security group or a prefix list are not evaluated.
  - Without O(authorize), fails when a CIDR is not admitted, naming the group(s) and each missing CIDR, and how to
    fix it. With O(authorize=true), adds every missing CIDR to one group (O(security_group_id), by default the
    cluster security group) in one C(AuthorizeSecurityGroupIngress) call. A re-run makes no write.
  - When the cluster reports no cluster security group, warns and neither fails nor writes (the missing CIDRs,
    judged on the additional groups alone, are returned for information).
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  remote_node_cidrs:
    description:
      - The remote node networks that must reach the API server.
      - When omitted, the cluster's remote node networks (C(remoteNetworkConfig)).
    type: list
    elements: str
  remote_pod_cidrs:
    description:
      - The remote pod networks that must reach the API server; an empty list checks none.
      - When omitted, the cluster's remote pod networks.
    type: list
    elements: str
  authorize:
    description:
      - Add the missing ingress rules (TCP 443 from each missing CIDR) instead of failing.
    type: bool
    default: false
  security_group_id:
    description:
      - The group the rules are added to with O(authorize=true); it must be one of the cluster's groups.
      - When omitted, the cluster security group.
    type: str
  fail_on_missing:
    description:
      - Fail when a CIDR is not admitted and O(authorize=false).
      - When V(false), the module succeeds and returns them in RV(missing_cidrs).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Predicts the ingress rules it would add, and adds none.
  diff_mode:
    support: full
    details: The CIDRs the cluster's groups admit on TCP 443, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.eks_cluster,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: eks:DescribeCluster, ec2:DescribeSecurityGroups, and with O(authorize=true)
    ec2:AuthorizeSecurityGroupIngress."
"""

EXAMPLES = r"""
- name: Fail when the hybrid nodes cannot reach the API server on 443
  hybridnodes.eks.eks_cluster_security_group:
    cluster_name: hybrid-example
    region: us-west-2

- name: Open TCP 443 from the remote node and pod networks in the cluster security group
  hybridnodes.eks.eks_cluster_security_group:
    cluster_name: hybrid-example
    remote_node_cidrs:
      - 10.200.0.0/16
    remote_pod_cidrs:
      - 192.168.0.0/16
    authorize: true
"""

RETURN = r"""
cluster_security_group_id:
  description: The cluster security group, or null when the cluster reports none.
  returned: always
  type: str
  sample: sg-0123456789abcdef0
security_groups:
  description: The cluster's groups with the CIDRs each admits on TCP 443 after the run (in check mode, predicted).
  returned: always
  type: list
  elements: dict
  contains:
    group_id:
      description: ID of the group.
      returned: always
      type: str
      sample: sg-0123456789abcdef0
    cluster_security_group:
      description: Whether it is the cluster security group (else an additional group).
      returned: always
      type: bool
      sample: true
    https_cidrs:
      description: The IPv4 CIDRs its ingress rules admit on TCP 443.
      returned: always
      type: list
      elements: str
      sample: ["10.200.0.0/16"]
required_cidrs:
  description: The CIDRs that must be admitted (remote node networks, then remote pod networks).
  returned: always
  type: list
  elements: str
  sample: ["10.200.0.0/16", "192.168.0.0/16"]
missing_cidrs:
  description: The required CIDRs not admitted after the run (empty once they were added).
  returned: always
  type: list
  elements: str
  sample: []
added_cidrs:
  description: The CIDRs added (or, in check mode, that would be added) on TCP 443.
  returned: always
  type: list
  elements: str
  sample: ["192.168.0.0/16"]
problem:
  description:
    - When a CIDR is not admitted and O(authorize=false), C(message) (the groups and each missing CIDR) and C(fix);
      else null.
  returned: always
  type: dict
  sample: null
target_security_group_id:
  description: The group the rules were (or would be) added to; null when nothing was added.
  returned: always
  type: str
  sample: sg-0123456789abcdef0
"""

import ipaddress

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import eks_cluster

PORT = eks_cluster.HTTPS_PORT


def describe_groups(module, ec2, group_ids):
    advice = ("A security group EKS cluster %s reports does not exist (deleted outside EKS?); update the cluster's "
              "security groups (aws eks update-cluster-config --resources-vpc-config securityGroupIds=...)."
              % module.params["cluster_name"])
    fix = aws.fix_when("InvalidGroup.NotFound", advice)
    found = aws.call(module, ec2, "describe_security_groups", ", ".join(group_ids), "ec2", fix=fix,
                     GroupIds=group_ids)["SecurityGroups"]
    by_id = dict((group["GroupId"], group) for group in found)
    return [by_id.get(group_id, {"GroupId": group_id, "IpPermissions": []}) for group_id in group_ids]


def canonical(value):
    return str(ipaddress.ip_network(u"%s" % value, strict=False))


def https_cidrs(group):
    return [str(network) for network in eks_cluster.admitted_networks([group], PORT)]


def group_view(groups, cluster_group_id):
    return [{"group_id": group["GroupId"], "cluster_security_group": group["GroupId"] == cluster_group_id,
             "https_cidrs": https_cidrs(group)} for group in groups]


def with_added(groups, target, cidrs):
    """The groups as they will be once TCP 443 from ``cidrs`` is added to ``target``."""
    permission = {"IpProtocol": "tcp", "FromPort": PORT, "ToPort": PORT,
                  "IpRanges": [{"CidrIp": value} for value in cidrs]}
    return [dict(group, IpPermissions=list(group.get("IpPermissions") or []) + [permission])
            if group["GroupId"] == target else group for group in groups]


def described(required, node_cidrs):
    return ["%s (remote %s network)" % (value, "node" if value in node_cidrs else "pod") for value in required]


def missing_problem(name, group_ids, target, missing, node_cidrs):
    """What is wrong and how to fix it, naming the groups and each CIDR not admitted."""
    return {
        "message": "The security groups of EKS cluster %s (%s) do not admit TCP 443 from %s; hybrid nodes (and pods) "
                   "there cannot reach the Kubernetes API server." % (
                       name, ", ".join(group_ids), ", ".join(described(missing, node_cidrs))),
        "fix": "Set aws_prerequisites_authorize_cluster_security_group: true (module option authorize=true) to add "
               "the rules to %s, or run: aws ec2 authorize-security-group-ingress --group-id %s --ip-permissions "
               "'[{\"IpProtocol\": \"tcp\", \"FromPort\": 443, \"ToPort\": 443, \"IpRanges\": [%s]}]'" % (
                   target, target, ", ".join('{"CidrIp": "%s"}' % value for value in missing)),
    }


def permission_for(cidrs, node_cidrs):
    return {"IpProtocol": "tcp", "FromPort": PORT, "ToPort": PORT,
            "IpRanges": [{"CidrIp": value, "Description": "EKS hybrid nodes: remote %s network to the API server"
                          % ("node" if value in node_cidrs else "pod")} for value in cidrs]}


def build_module():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        remote_node_cidrs=dict(type="list", elements="str"),
        remote_pod_cidrs=dict(type="list", elements="str"),
        authorize=dict(type="bool", default=False),
        security_group_id=dict(type="str"),
        fail_on_missing=dict(type="bool", default=True),
    )
    return AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)


def check_inputs(module):
    for value in list(module.params["remote_node_cidrs"] or []) + list(module.params["remote_pod_cidrs"] or []):
        try:
            if ipaddress.ip_network(u"%s" % value, strict=False).version != 4:
                raise ValueError("not IPv4")
        except ValueError:
            module.fail_json(msg="%r is not an IPv4 CIDR; remote_node_cidrs and remote_pod_cidrs take CIDRs such as "
                                 "10.200.0.0/24." % value)


def wanted_cidrs(params, cluster):
    """(node CIDRs, every required CIDR): the options', or the cluster's remote networks where an option is unset."""
    node_cidrs = list(params["remote_node_cidrs"] or [])
    pod_cidrs = list(params["remote_pod_cidrs"] or [])
    if params["remote_node_cidrs"] is None:
        node_cidrs = eks_cluster.remote_cidrs(cluster, "remoteNodeNetworks")
    if params["remote_pod_cidrs"] is None:
        pod_cidrs = eks_cluster.remote_cidrs(cluster, "remotePodNetworks")
    # Canonical spelling (10.200.0.7/24 -> 10.200.0.0/24): EC2 stores and returns rules that way.
    node_cidrs = [canonical(value) for value in node_cidrs]
    pod_cidrs = [canonical(value) for value in pod_cidrs]
    required = []
    for value in node_cidrs + pod_cidrs:
        if value not in required:
            required.append(value)
    return node_cidrs, required


def cluster_group_ids(cluster):
    """(the cluster security group or None, every security group of the cluster: that one first)."""
    vpc = cluster.get("resourcesVpcConfig") or {}
    cluster_group_id = vpc.get("clusterSecurityGroupId") or None
    group_ids = []
    for group_id in [cluster_group_id] + list(vpc.get("securityGroupIds") or []):
        if group_id and group_id not in group_ids:
            group_ids.append(group_id)
    return cluster_group_id, group_ids


def read_state(module):
    """The cluster's security groups and the CIDRs that must reach TCP 443, with the ec2 client for the write."""
    name = module.params["cluster_name"]
    cluster = eks_cluster.read_cluster(module, aws.aws_client(module, "eks"), name)
    node_cidrs, required = wanted_cidrs(module.params, cluster)
    cluster_group_id, group_ids = cluster_group_ids(cluster)
    ec2 = aws.aws_client(module, "ec2") if group_ids else None
    groups = describe_groups(module, ec2, group_ids) if group_ids else []
    return {"ec2": ec2, "node_cidrs": node_cidrs, "required": required, "cluster_group_id": cluster_group_id,
            "group_ids": group_ids, "groups": groups, "missing": eks_cluster.uncovered_cidrs(groups, required, PORT)}


def report_unchecked(module, state, result):
    """Exit when there is no cluster security group to check or nothing is missing."""
    name, missing = module.params["cluster_name"], state["missing"]
    if state["cluster_group_id"] is None:
        module.warn("EKS cluster %s reports no cluster security group (resourcesVpcConfig.clusterSecurityGroupId), so "
                    "TCP 443 from the hybrid nodes was not checked%s. Make sure the security groups of the cluster's "
                    "network interfaces admit TCP 443 from %s." % (
                        name, "" if not missing else " (its additional groups lack %s)" % ", ".join(missing),
                        ", ".join(state["required"]) or "the remote node and pod networks"))
        module.exit_json(**result)
    if not missing:
        if module._diff:
            result["diff"] = dict(before=result["security_groups"], after=result["security_groups"])
        module.exit_json(**result)


def report_missing(module, state, result):
    """Without authorize: report (or fail on) the missing rules."""
    params = module.params
    result["problem"] = missing_problem(params["cluster_name"], state["group_ids"],
                                        params["security_group_id"] or state["cluster_group_id"],
                                        state["missing"], state["node_cidrs"])
    if not params["fail_on_missing"]:
        module.exit_json(**result)
    module.fail_json(msg="%s Fix: %s" % (result["problem"]["message"], result["problem"]["fix"]), **result)


def authorization_target(module, state, result):
    """The security group to add the rules to, and the result once they are added."""
    name, group_ids = module.params["cluster_name"], state["group_ids"]
    target = module.params["security_group_id"] or state["cluster_group_id"]
    if target not in group_ids:
        module.fail_json(msg="security_group_id %s is not a security group of EKS cluster %s (%s); name one of them, "
                             "or omit it to use the cluster security group." % (target, name, ", ".join(group_ids)),
                         **result)
    after = with_added(state["groups"], target, state["missing"])
    result.update(changed=True, added_cidrs=state["missing"], target_security_group_id=target, missing_cidrs=[],
                  security_groups=group_view(after, state["cluster_group_id"]))
    if module._diff:
        result["diff"] = dict(before=group_view(state["groups"], state["cluster_group_id"]),
                              after=result["security_groups"])
    return target


def apply_authorization(module, state, target):
    missing = state["missing"]
    aws.call(module, state["ec2"], "authorize_security_group_ingress", "TCP 443 from %s to security group %s of EKS "
             "cluster %s" % (", ".join(missing), target, module.params["cluster_name"]), "ec2", GroupId=target,
             IpPermissions=[permission_for(missing, state["node_cidrs"])])


def main():
    module = build_module()
    check_inputs(module)
    state = read_state(module)
    result = dict(changed=False, cluster_security_group_id=state["cluster_group_id"],
                  security_groups=group_view(state["groups"], state["cluster_group_id"]),
                  required_cidrs=state["required"], missing_cidrs=state["missing"], added_cidrs=[],
                  target_security_group_id=None, problem=None)
    report_unchecked(module, state, result)
    if not module.params["authorize"]:
        report_missing(module, state, result)
    target = authorization_target(module, state, result)
    if not module.check_mode:
        apply_authorization(module, state, target)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
