#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: eks_access_entry
short_description: Manage an Amazon EKS access entry (HYBRID_LINUX for the hybrid nodes' role)
version_added: 0.1.0
description:
  - Creates or deletes an EKS access entry for an IAM principal.
  - EKS Hybrid Nodes authenticate to the cluster with the IAM role of their credential provider
    (SSM hybrid activations or IAM Roles Anywhere); that role needs an access entry of type
    C(HYBRID_LINUX), whose Kubernetes user becomes C(system:node:{{SessionName}}).
  - Reads the entry once with C(DescribeAccessEntry) and writes only when something must change.
  - The type of an access entry cannot be changed. An existing entry of another type is reported
    as an error naming the fix (delete the entry, or choose its type) rather than replaced.
  - For C(STANDARD) entries, a different O(username) or O(kubernetes_groups) is changed in place
    with C(UpdateAccessEntry). Tags given in O(tags) that the entry lacks or holds with another
    value are set with C(TagResource); tags not listed are left alone.
  - The cluster's authentication mode must be C(API) or C(API_AND_CONFIG_MAP).
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  principal_arn:
    description:
      - ARN of the IAM role or user the entry is for, for example the hybrid nodes' role.
    type: str
    required: true
  type:
    description:
      - Type of the access entry. Use C(HYBRID_LINUX) for the hybrid nodes' IAM role.
      - Ignored when O(state=absent).
    type: str
    default: HYBRID_LINUX
    choices: [STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX]
  username:
    description:
      - Kubernetes username of the principal.
      - When omitted, EKS chooses it (C(system:node:{{SessionName}}) for C(HYBRID_LINUX)).
        Leave it unset for node types.
    type: str
  kubernetes_groups:
    description:
      - Kubernetes groups of the principal. Only for O(type=STANDARD).
    type: list
    elements: str
  tags:
    description:
      - Tags of the access entry.
    type: dict
  state:
    description:
      - Whether the access entry should exist.
attributes:
  check_mode:
    support: full
    details: Reads the entry and predicts its creation, update, tagging or deletion without writing.
  diff_mode:
    support: full
    details: The fields the module manages (type, username, Kubernetes groups, tags), before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.eks_cluster, hybridnodes.eks.state,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: eks:DescribeAccessEntry, and as needed eks:CreateAccessEntry,
    eks:DeleteAccessEntry, eks:UpdateAccessEntry, eks:TagResource."
"""

EXAMPLES = r"""
- name: Let the hybrid nodes' role join the cluster
  hybridnodes.eks.eks_access_entry:
    cluster_name: hybrid-example
    principal_arn: arn:aws:iam::123456789012:role/hybrid-example-hybrid-nodes
    type: HYBRID_LINUX
    region: us-west-2

- name: Give an operator role a STANDARD entry in a Kubernetes group
  hybridnodes.eks.eks_access_entry:
    cluster_name: hybrid-example
    principal_arn: arn:aws:iam::123456789012:role/platform-operators
    type: STANDARD
    kubernetes_groups:
      - platform-operators
    tags:
      team: platform

- name: Remove the access entry of a decommissioned role
  hybridnodes.eks.eks_access_entry:
    cluster_name: hybrid-example
    principal_arn: arn:aws:iam::123456789012:role/old-hybrid-nodes
    state: absent
"""

RETURN = r"""
access_entry:
  description:
    - The access entry after the run, with its keys in snake_case; empty when it does not exist.
    - In check mode, the predicted entry (without the fields only EKS sets, such as the ARN).
  returned: always
  type: dict
  contains:
    cluster_name:
      description: Name of the cluster.
      returned: when the entry exists
      type: str
      sample: hybrid-example
    principal_arn:
      description: ARN of the IAM principal.
      returned: when the entry exists
      type: str
      sample: arn:aws:iam::123456789012:role/hybrid-example-hybrid-nodes
    type:
      description: Type of the access entry.
      returned: when the entry exists
      type: str
      sample: HYBRID_LINUX
    username:
      description: Kubernetes username of the principal.
      returned: when the entry exists and EKS has chosen or been given one
      type: str
      sample: "system:node:{{SessionName}}"
    kubernetes_groups:
      description: Kubernetes groups of the principal.
      returned: when the entry exists
      type: list
      elements: str
      sample: []
    access_entry_arn:
      description: ARN of the access entry.
      returned: when the entry exists (not in check mode before creation)
      type: str
      sample: arn:aws:eks:us-west-2:123456789012:access-entry/hybrid-example/role/123456789012/hybrid-example-hybrid-nodes/0c8f
    created_at:
      description: When the entry was created.
      returned: when the entry exists (not in check mode before creation)
      type: str
      sample: "2025-01-01T00:00:00+00:00"
    modified_at:
      description: When the entry was last changed.
      returned: when the entry exists (not in check mode before creation)
      type: str
      sample: "2025-01-01T00:00:00+00:00"
    tags:
      description: Tags of the access entry.
      returned: when the entry exists
      type: dict
      sample: {"team": "platform"}
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws

TYPES = ["STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX"]
AUTHENTICATION_MODE_FIX = ("Access entries need the cluster's authentication mode to be API or API_AND_CONFIG_MAP; "
                           "change it with update_cluster_config (accessConfig.authenticationMode=API_AND_CONFIG_MAP).")


def _resource(params):
    return "access entry of %s in EKS cluster %s" % (params["principal_arn"], params["cluster_name"])


def read_entry(module, client):
    """The current access entry (boto3 shape), or None when there is none."""
    params = module.params
    found = aws.call(module, client, "describe_access_entry", _resource(params), "eks",
                     absent=("ResourceNotFoundException",),
                     clusterName=params["cluster_name"], principalArn=params["principal_arn"])
    return found["accessEntry"] if found else None


def comparable(entry):
    """The fields the module manages, for diff and comparison."""
    if not entry:
        return {}
    return {
        "type": entry.get("type"),
        "username": entry.get("username"),
        "kubernetes_groups": sorted(entry.get("kubernetesGroups") or []),
        "tags": dict(entry.get("tags") or {}),
    }


def snake(entry):
    if not entry:
        return {}
    return camel_dict_to_snake_dict(entry, ignore_list=["tags"])


def ensure_absent(module, client, current):
    if current is None:
        return False, None
    if not module.check_mode:
        aws.call(module, client, "delete_access_entry", _resource(module.params), "eks",
                 absent=("ResourceNotFoundException",),
                 clusterName=module.params["cluster_name"], principalArn=module.params["principal_arn"])
    return True, None


def ensure_created(module, client):
    params = module.params
    request = {"clusterName": params["cluster_name"], "principalArn": params["principal_arn"], "type": params["type"]}
    if params["username"]:
        request["username"] = params["username"]
    if params["kubernetes_groups"]:
        request["kubernetesGroups"] = params["kubernetes_groups"]
    if params["tags"]:
        request["tags"] = params["tags"]
    if module.check_mode:
        predicted = {"clusterName": params["cluster_name"], "principalArn": params["principal_arn"],
                     "type": params["type"], "kubernetesGroups": list(params["kubernetes_groups"] or []),
                     "tags": dict(params["tags"] or {})}
        if params["username"]:
            predicted["username"] = params["username"]
        return True, predicted
    fix = aws.fix_when("InvalidRequestException", AUTHENTICATION_MODE_FIX)
    return True, aws.call(module, client, "create_access_entry", _resource(params), "eks", fix=fix,
                          **request)["accessEntry"]


def ensure_updated(module, client, current):
    """Bring username, kubernetes_groups (STANDARD) and tags in line with the options."""
    params = module.params
    result = dict(current)
    changed = False
    update = {}
    if params["username"] and params["username"] != current.get("username"):
        update["username"] = params["username"]
    if params["kubernetes_groups"] is not None and \
            sorted(params["kubernetes_groups"]) != sorted(current.get("kubernetesGroups") or []):
        update["kubernetesGroups"] = params["kubernetes_groups"]
    if update:
        changed = True
        result.update(update)
        if not module.check_mode:
            result = aws.call(module, client, "update_access_entry", _resource(params), "eks",
                              clusterName=params["cluster_name"], principalArn=params["principal_arn"],
                              **update)["accessEntry"]
    current_tags = dict(current.get("tags") or {})
    missing_tags = dict((key, value) for key, value in (params["tags"] or {}).items() if current_tags.get(key) != value)
    if missing_tags:
        changed = True
        result["tags"] = dict(current_tags, **missing_tags)
        if not module.check_mode:
            aws.call(module, client, "tag_resource", _resource(params), "eks",
                     resourceArn=current["accessEntryArn"], tags=missing_tags)
    return changed, result


def ensure_present(module, client, current):
    params = module.params
    if current is None:
        return ensure_created(module, client)
    if current.get("type") != params["type"]:
        module.fail_json(
            msg=("The %s already exists with type %s, not %s, and the type of an access entry cannot be changed. "
                 "Delete the entry first (state=absent), or set type=%s to keep it."
                 % (_resource(params), current.get("type"), params["type"], current.get("type"))),
            access_entry=snake(current))
    return ensure_updated(module, client, current)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        principal_arn=dict(type="str", required=True),
        type=dict(type="str", default="HYBRID_LINUX", choices=TYPES),
        username=dict(type="str"),
        kubernetes_groups=dict(type="list", elements="str"),
        tags=dict(type="dict"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["state"] == "present" and params["kubernetes_groups"] and params["type"] != "STANDARD":
        module.fail_json(msg="kubernetes_groups can only be set for type=STANDARD access entries (type is %s); "
                             "remove kubernetes_groups or set type=STANDARD." % params["type"])

    client = aws.aws_client(module, "eks")
    current = read_entry(module, client)
    if params["state"] == "absent":
        changed, after = ensure_absent(module, client, current)
    else:
        changed, after = ensure_present(module, client, current)
    aws.exit_with_diff(module, changed, "access_entry", snake, current, after, diff_view=comparable)


if __name__ == "__main__":
    main()
