#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ssm_managed_instance
short_description: List or deregister the SSM managed instances (mi-...) of EKS hybrid nodes
version_added: 0.1.0
description:
  - Hybrid nodes that use SSM hybrid activations are SSM managed instances (C(mi-...)). This module lists them
    (O(state=query)) or deregisters them (O(state=deregistered)), for example when a node is decommissioned.
  - Instances are selected by O(instance_ids), by the cluster (the tag C(EKSClusterARN) that
    M(hybridnodes.eks.ssm_activation) puts on its activations, and so on the instances they register) and by
    O(names) (the instance's computer name or name, usually the node name). All given criteria must match.
  - Reads with C(DescribeInstanceInformation), every page. Deregistering an instance that is not (or no longer)
    registered is not an error (the goal is met and nothing changes).
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  instance_ids:
    description:
      - IDs of the managed instances (C(mi-...)).
    type: list
    elements: str
  cluster_name:
    description:
      - Name of the EKS cluster; its ARN (read with C(DescribeCluster) when O(cluster_arn) is omitted) selects the
        instances tagged C(EKSClusterARN).
    type: str
  cluster_arn:
    description:
      - ARN of the EKS cluster, the value of the C(EKSClusterARN) tag.
    type: str
  names:
    description:
      - Computer names or instance names to select (usually the hybrid node names).
    type: list
    elements: str
  state:
    description:
      - V(query) lists the instances (the C(info) name is reserved by Ansible for C(_info) modules);
        V(deregistered) deregisters them.
      - V(deregistered) needs O(instance_ids) or O(names), so that a whole cluster is never deregistered by a
        missing option.
    type: str
    default: query
    choices: [query, deregistered]
attributes:
  check_mode:
    support: full
    details: Predicts the deregistrations and deregisters nothing.
  diff_mode:
    support: full
    details: With O(state=deregistered), the managed instance IDs before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: ssm:DescribeInstanceInformation, ssm:DeregisterManagedInstance for O(state=deregistered),
    eks:DescribeCluster when O(cluster_name) is given without O(cluster_arn)."
"""

EXAMPLES = r"""
- name: List the cluster's SSM managed instances
  hybridnodes.eks.ssm_managed_instance:
    cluster_name: hybrid-example
    region: us-west-2
  register: managed

- name: Deregister a decommissioned node
  hybridnodes.eks.ssm_managed_instance:
    cluster_name: hybrid-example
    names:
      - edge-b01
    state: deregistered
"""

RETURN = r"""
instances:
  description:
    - The selected managed instances as read before any change, keys in snake_case.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: ID of the managed instance.
      returned: always
      type: str
      sample: mi-0123456789abcdef0
    computer_name:
      description: Host name the instance registered with.
      returned: when known
      type: str
      sample: edge-a01
    name:
      description: Name of the instance.
      returned: when known
      type: str
      sample: hybrid-example-node
    ping_status:
      description: C(Online), C(ConnectionLost) or C(Inactive).
      returned: always
      type: str
      sample: Online
    ip_address:
      description: IP address the agent reported.
      returned: when known
      type: str
      sample: 10.200.1.23
    activation_id:
      description: The activation the instance registered with.
      returned: when known
      type: str
      sample: 6f1f9d2e-0c1b-4e8a-9a39-1f0c7b1d2a3c
    iam_role:
      description: The IAM role of the instance.
      returned: when known
      type: str
      sample: hybrid-example-hybrid-nodes
deregistered_instance_ids:
  description: The instances deregistered (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: ["mi-0123456789abcdef0"]
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import eks_cluster

CLUSTER_TAG = "EKSClusterARN"


def cluster_arn(module):
    params = module.params
    if params["cluster_arn"] or not params["cluster_name"]:
        return params["cluster_arn"]
    fix = "Check cluster_name and region (the cluster must be in region %s), or give cluster_arn." % module.region
    return eks_cluster.read_cluster(module, aws.aws_client(module, "eks"), params["cluster_name"], fix)["arn"]


def read_instances(module, client, arn):
    """The selected instances (boto3 shape)."""
    params = module.params
    filters = []
    if params["instance_ids"]:
        filters.append({"Key": "InstanceIds", "Values": list(params["instance_ids"])})
    if arn:
        filters.append({"Key": "tag:%s" % CLUSTER_TAG, "Values": [arn]})
    what = "of EKS cluster %s" % (params["cluster_name"] or arn) if arn else "%s" % ", ".join(params["instance_ids"] or [])
    found = aws.list_all(module, client, "describe_instance_information", "InstanceInformationList",
                         "managed instances %s" % what, "ssm", overflow_resource="of managed instances %s" % what,
                         absent=("InvalidInstanceId",) if params["instance_ids"] else (), Filters=filters)
    if found is None:
        return []  # none of the given IDs is registered
    if params["names"]:
        wanted = set(params["names"])
        found = [item for item in found if item.get("ComputerName") in wanted or item.get("Name") in wanted]
    return found


def deregister(module, client, instances):
    targets = [item["InstanceId"] for item in instances]
    if module.check_mode:
        return targets
    done = []
    for instance_id in targets:
        # An instance already gone (InvalidInstanceId) meets the goal, but is not reported as deregistered.
        if aws.call(module, client, "deregister_managed_instance", "managed instance %s" % instance_id, "ssm",
                    absent=("InvalidInstanceId",), InstanceId=instance_id) is not None:
            done.append(instance_id)
    return done


def main():
    argument_spec = dict(
        instance_ids=dict(type="list", elements="str"),
        cluster_name=dict(type="str"),
        cluster_arn=dict(type="str"),
        names=dict(type="list", elements="str"),
        state=dict(type="str", default="query", choices=["query", "deregistered"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_one_of=[["instance_ids", "cluster_name", "cluster_arn"]])
    params = module.params
    if params["state"] == "deregistered" and not (params["instance_ids"] or params["names"]):
        module.fail_json(msg="state=deregistered needs instance_ids or names (the nodes to deregister); "
                             "deregistering every instance of a cluster by omission is refused.")
    client = aws.aws_client(module, "ssm")
    arn = cluster_arn(module)
    instances = read_instances(module, client, arn)
    result = dict(changed=False, instances=[camel_dict_to_snake_dict(item) for item in instances],
                  deregistered_instance_ids=[])
    if params["state"] == "deregistered":
        gone = deregister(module, client, instances)
        result.update(changed=bool(gone), deregistered_instance_ids=gone)
        if module._diff:
            before = sorted(item["InstanceId"] for item in instances)
            result["diff"] = dict(before={"instance_ids": before},
                                  after={"instance_ids": sorted(set(before) - set(gone))})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
