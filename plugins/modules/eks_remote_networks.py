#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: eks_remote_networks
short_description: Set the remote node and pod networks of an Amazon EKS cluster for hybrid nodes
version_added: 0.1.0
description:
  - Sets C(remoteNetworkConfig) of an EKS cluster, the CIDRs of the hybrid nodes (remote node networks)
    and of their pods (remote pod networks).
  - Reads the cluster once with C(DescribeCluster) and validates the desired plan before any write,
    reporting every problem at once; the EKS rules are IPv4, inside RFC 1918, prefixes from /8 to /32,
    and no overlap among the remote networks, the VPC CIDRs and the cluster's service CIDR.
  - Compares the CIDRs as sets (order and spelling aside) and calls C(UpdateClusterConfig) only when
    they differ. An update replaces the whole lists.
  - Refuses to drop a CIDR the cluster has unless O(allow_removal=true); hybrid nodes (or pods) whose
    addresses lie in a dropped range lose their connectivity to the control plane.
  - With O(wait=true), polls C(DescribeUpdate) until the update is C(Successful), and fails with the
    update's errors when it is C(Failed) or C(Cancelled), or when O(wait_timeout) passes.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  remote_node_cidrs:
    description:
      - CIDRs the hybrid nodes' addresses are in (C(remoteNodeNetworks[0].cidrs)).
    type: list
    elements: str
    required: true
  remote_pod_cidrs:
    description:
      - CIDRs of the pods on the hybrid nodes (C(remotePodNetworks[0].cidrs)); they must equal the
        CNI's pod CIDRs (Cilium's cluster pool).
      - When omitted or empty, the cluster gets no remote pod networks.
    type: list
    elements: str
  vpc_cidrs:
    description:
      - CIDRs of the cluster's VPC, for the overlap rules.
      - When omitted, read with C(DescribeVpcs) from the cluster's VPC (C(resourcesVpcConfig.vpcId),
        or the VPC of its subnets), taking every CIDR block association in state C(associated).
    type: list
    elements: str
  allow_removal:
    description:
      - Allow the update to drop CIDRs the cluster's remote networks have now.
    type: bool
    default: false
  wait:
    description:
      - Wait for the cluster update to finish.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait for the update, in seconds.
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    details: Validates the plan and predicts the update without writing (and so without waiting).
  diff_mode:
    support: full
    details: The remote node and pod CIDR lists, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.eks_cluster,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
requirements:
  - netaddr
notes:
  - "IAM permissions: eks:DescribeCluster, eks:UpdateClusterConfig, eks:DescribeUpdate, and when
    O(vpc_cidrs) is omitted ec2:DescribeVpcs (and ec2:DescribeSubnets if the cluster does not report its VPC)."
"""

EXAMPLES = r"""
- name: Set the remote networks of the hybrid nodes
  hybridnodes.eks.eks_remote_networks:
    cluster_name: hybrid-example
    remote_node_cidrs:
      - 10.200.0.0/16
    remote_pod_cidrs:
      - 192.168.0.0/16
    region: us-west-2

- name: Replace a remote node network (the nodes in 10.201.0.0/24 must have left)
  hybridnodes.eks.eks_remote_networks:
    cluster_name: hybrid-example
    remote_node_cidrs:
      - 10.200.0.0/16
    remote_pod_cidrs:
      - 192.168.0.0/16
    vpc_cidrs:
      - 10.100.0.0/16
    allow_removal: true
    wait_timeout: 900
"""

RETURN = r"""
remote_network_config:
  description:
    - The remote networks of the cluster after the run (in check mode, the predicted ones).
  returned: always
  type: dict
  contains:
    remote_node_networks:
      description: The remote node networks; one item whose C(cidrs) lists the CIDRs.
      returned: always
      type: list
      elements: dict
      sample: [{"cidrs": ["10.200.0.0/16"]}]
    remote_pod_networks:
      description: The remote pod networks; one item whose C(cidrs) lists the CIDRs, or empty.
      returned: always
      type: list
      elements: dict
      sample: [{"cidrs": ["192.168.0.0/16"]}]
update:
  description: The cluster update that was started; empty when nothing changed or in check mode.
  returned: always
  type: dict
  contains:
    id:
      description: ID of the update.
      returned: when an update was started
      type: str
      sample: 0ea6f8e7-7b0b-4d1c-a0a0-4f1f1a0c7c5e
    status:
      description: Last status seen (C(Successful) once waited for; C(InProgress) with O(wait=false)).
      returned: when an update was started
      type: str
      sample: Successful
    type:
      description: Type of the update.
      returned: when an update was started
      type: str
      sample: RemoteNetworkConfigUpdate
problems:
  description:
    - Problems found in the network plan; always empty on success (the module fails when there are any,
      and returns them in the failure result with C(code), C(message), C(fix), C(variable) and C(cidrs)).
  returned: always
  type: list
  elements: dict
  sample: []
"""

import time

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import cidr
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import eks_cluster

POLL_SECONDS = 5
SERVICE_CIDR_NAME = "the cluster's service CIDR (kubernetesNetworkConfig.serviceIpv4Cidr)"


def cluster_vpc_cidrs(module, cluster):
    """The associated IPv4 CIDR blocks of the cluster's VPC."""
    name = module.params["cluster_name"]
    vpc_config = cluster.get("resourcesVpcConfig") or {}
    ec2 = aws.aws_client(module, "ec2")
    vpc_ids = [vpc_config["vpcId"]] if vpc_config.get("vpcId") else []
    if not vpc_ids and vpc_config.get("subnetIds"):
        subnets = aws.call(module, ec2, "describe_subnets", "of EKS cluster %s" % name, "ec2",
                           fix="Grant ec2:DescribeSubnets, or set vpc_cidrs.", SubnetIds=vpc_config["subnetIds"])["Subnets"]
        vpc_ids = sorted(set(subnet["VpcId"] for subnet in subnets))
    if not vpc_ids:
        module.fail_json(msg="EKS cluster %s reports no VPC (resourcesVpcConfig); set vpc_cidrs to its VPC CIDRs." % name)
    vpcs = aws.call(module, ec2, "describe_vpcs", "%s of EKS cluster %s" % (", ".join(vpc_ids), name), "ec2",
                    VpcIds=vpc_ids)["Vpcs"]
    found = []
    for vpc in vpcs:
        associations = vpc.get("CidrBlockAssociationSet") or []
        for association in associations:
            if (association.get("CidrBlockState") or {}).get("State") == "associated":
                found.append(association["CidrBlock"])
        if not associations and vpc.get("CidrBlock"):
            found.append(vpc["CidrBlock"])
    return found


def normalized(values):
    """Canonical CIDR strings (host bits cleared), in a stable order; the plan check has vetted them."""
    return sorted(set(str(cidr.netaddr.IPNetwork(str(value)).cidr) for value in values or []),
                  key=lambda text: (cidr.netaddr.IPNetwork(text).first, cidr.netaddr.IPNetwork(text).prefixlen))


def config_dict(node_cidrs, pod_cidrs):
    config = {"remoteNodeNetworks": [{"cidrs": list(node_cidrs)}]}
    if pod_cidrs:
        config["remotePodNetworks"] = [{"cidrs": list(pod_cidrs)}]
    return config


def returned_config(node_cidrs, pod_cidrs):
    return {
        "remote_node_networks": [{"cidrs": list(node_cidrs)}] if node_cidrs else [],
        "remote_pod_networks": [{"cidrs": list(pod_cidrs)}] if pod_cidrs else [],
    }


def wait_for_update(module, eks, update):
    name = module.params["cluster_name"]
    deadline = time.monotonic() + module.params["wait_timeout"]
    while True:
        update = aws.call(module, eks, "describe_update", "%s of EKS cluster %s" % (update["id"], name), "eks",
                          name=name, updateId=update["id"])["update"]
        status = update.get("status")
        if status == "Successful":
            return update
        if status in ("Failed", "Cancelled"):
            errors = update.get("errors") or []
            details = "; ".join("%s: %s%s" % (
                error.get("errorCode", "error"), error.get("errorMessage", ""),
                " (%s)" % ", ".join(error["resourceIds"]) if error.get("resourceIds") else "") for error in errors)
            module.fail_json(
                msg="The remote network update %s of EKS cluster %s ended %s%s. The cluster keeps its previous "
                    "remote networks; fix the cause and run again." % (
                        update["id"], name, status, ": " + details if details else ""),
                update=_short(update), errors=errors)
        if time.monotonic() >= deadline:
            module.fail_json(
                msg="The remote network update %s of EKS cluster %s is still %s after %d seconds; it goes on in AWS. "
                    "Check it with 'aws eks describe-update --name %s --update-id %s', or raise wait_timeout." % (
                        update["id"], name, status, module.params["wait_timeout"], name, update["id"]),
                update=_short(update))
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))


def _short(update):
    return dict((key, update[key]) for key in ("id", "status", "type") if key in update)


def build_module():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        remote_node_cidrs=dict(type="list", elements="str", required=True),
        remote_pod_cidrs=dict(type="list", elements="str"),
        vpc_cidrs=dict(type="list", elements="str"),
        allow_removal=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if cidr.netaddr is None:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=cidr.NETADDR_IMPORT_ERROR)
    return module


def read_state(module, eks):
    """The cluster's remote networks, service CIDR and VPC CIDRs (vpc_cidrs when given)."""
    params = module.params
    cluster = eks_cluster.read_cluster(module, eks, params["cluster_name"])
    return {"nodes": eks_cluster.remote_cidrs(cluster, "remoteNodeNetworks"),
            "pods": eks_cluster.remote_cidrs(cluster, "remotePodNetworks"),
            "service_cidr": (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr"),
            "vpc_cidrs": params["vpc_cidrs"] if params["vpc_cidrs"] is not None else cluster_vpc_cidrs(module, cluster)}


def check_plan(module, state):
    """Fail, changing nothing, when the wanted networks break a rule of EKS Hybrid Nodes."""
    params = module.params
    problems = cidr.check_network_plan(
        vpc_cidrs=state["vpc_cidrs"], service_cidr=state["service_cidr"], remote_node_cidrs=params["remote_node_cidrs"] or [],
        remote_pod_cidrs=params["remote_pod_cidrs"] or [],
        names={"vpc": "vpc_cidrs", "service": SERVICE_CIDR_NAME, "node": "remote_node_cidrs", "pod": "remote_pod_cidrs"})
    if problems:
        module.fail_json(
            msg="The remote networks for EKS cluster %s break %d rule(s) of EKS Hybrid Nodes; nothing was changed:\n%s"
                % (params["cluster_name"], len(problems), cidr.format_problems(problems)),
            problems=problems)


def check_removal(module, state, nodes, pods):
    """Refuse to drop remote networks unless allow_removal is set."""
    dropped_pods = [value for value in state["pods"] if not any(cidr.same_cidr_sets([value], [v]) for v in pods)]
    dropped = [value for value in state["nodes"] if not any(cidr.same_cidr_sets([value], [v]) for v in nodes)]
    if not (dropped or dropped_pods) or module.params["allow_removal"]:
        return
    parts = []
    if dropped:
        parts.append("remote node networks %s (hybrid nodes with addresses there would lose their connection "
                     "to the control plane)" % ", ".join(dropped))
    if dropped_pods:
        parts.append("remote pod networks %s (pods there would become unreachable from the control plane, "
                     "webhooks included)" % ", ".join(dropped_pods))
    module.fail_json(
        msg="Refusing to drop %s from EKS cluster %s. Move or remove what uses them first and set "
            "allow_removal=true, or keep them in remote_node_cidrs/remote_pod_cidrs." % (
                " and ".join(parts), module.params["cluster_name"]),
        dropped_remote_node_cidrs=dropped, dropped_remote_pod_cidrs=dropped_pods, problems=[])


def apply_update(module, eks, nodes, pods):
    """UpdateClusterConfig, then (with wait) the update's end."""
    name = module.params["cluster_name"]
    update = aws.call(module, eks, "update_cluster_config", "remote networks of EKS cluster %s" % name, "eks",
                      name=name, remoteNetworkConfig=config_dict(nodes, pods))["update"]
    if module.params["wait"] and update.get("status") != "Successful":
        update = wait_for_update(module, eks, update)
    return update


def main():
    module = build_module()
    params = module.params
    eks = aws.aws_client(module, "eks")
    state = read_state(module, eks)
    check_plan(module, state)
    nodes, pods = normalized(params["remote_node_cidrs"] or []), normalized(params["remote_pod_cidrs"] or [])
    result = dict(changed=False, update={}, problems=[], remote_network_config=returned_config(state["nodes"], state["pods"]))
    if module._diff:
        result["diff"] = dict(before={"remote_node_cidrs": list(state["nodes"]), "remote_pod_cidrs": list(state["pods"])},
                              after={"remote_node_cidrs": nodes, "remote_pod_cidrs": pods})
    if cidr.same_cidr_sets(state["nodes"], nodes) and cidr.same_cidr_sets(state["pods"], pods):
        module.exit_json(**result)
    check_removal(module, state, nodes, pods)
    result.update(changed=True, remote_network_config=returned_config(nodes, pods))
    if not module.check_mode:
        result["update"] = _short(apply_update(module, eks, nodes, pods))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
