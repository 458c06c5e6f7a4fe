#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ssm_activation
short_description: Create the SSM hybrid activation that registers EKS hybrid nodes, and delete it afterwards
version_added: 0.1.0
description:
  - Creates one AWS Systems Manager hybrid activation for the hosts that are not registered yet, with a
    registration limit equal to their number, an expiry of O(expiration_hours) (24 hours by default, as SSM's
    own default), and the tag C(EKSClusterARN) that the hybrid nodes' IAM policy uses to scope
    C(ssm:DeregisterManagedInstance).
  - One activation registers at most 1,000 instances (the C(RegistrationLimit) of C(CreateActivation)); with more
    unregistered hosts the module fails before any call, and the join has to be split into batches (C(serial)) or
    slices of at most 1,000 hosts, one activation each.
  - SSM registers up to 1,000 hybrid-activated (standard) managed instances per account and region at no extra
    cost; more than 1,000 need the advanced-instances tier of Systems Manager (a charge not included in EKS Hybrid
    Nodes pricing), turned on in the account and region before the join.
  - SSM returns the activation code only once, at creation, so the activation cannot be created ahead of time
    and looked up later; create it at join time, for the hosts about to join.
  - The result holds the activation code in RV(activation_code). The task must run with C(no_log=true) (the
    module refuses to create an activation otherwise, before any write), and the code must go only into the
    NodeConfig of the hosts (for example through an option of the NodeConfig module that is itself C(no_log)).
    The module writes nothing on any host and never puts the code in the diff or in a message.
  - With O(state=absent), deletes the activation O(activation_id), or every activation tagged with the
    cluster's C(EKSClusterARN) that is used up (as many registrations as its limit) or expired. Deleting an
    activation does not deregister the instances it registered.
  - The activation must be in the cluster's region, or the nodes cannot register. The module checks that
    its region is the cluster's (from O(cluster_arn), or by reading the cluster in that region) before any write.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  cluster_name:
    description:
      - Name of the EKS cluster the hosts join.
    type: str
    required: true
  cluster_arn:
    description:
      - ARN of the EKS cluster, the value of the C(EKSClusterARN) tag.
      - When omitted, read with C(DescribeCluster) in the module's region.
    type: str
  iam_role:
    description:
      - Name (not ARN) of the hybrid nodes' IAM role, the role the registered instances assume.
      - Required when O(state=present) and O(hosts_to_register) is above 0.
    type: str
  hosts_to_register:
    description:
      - How many hosts are not registered yet (those without C(/var/lib/amazon/ssm/registration)).
      - It becomes the registration limit of the activation. V(0) means there is nothing to do.
      - At most 1,000, the largest registration limit SSM accepts.
    type: int
    default: 0
  expiration_hours:
    description:
      - Hours until the activation expires, from 1 to 720 (30 days, the longest SSM accepts).
      - The default is SSM's own default expiry, 24 hours. The activation must live until the last host of the
        batch has run C(nodeadm init) (install, init and any retries of every host), so raise it for long batches;
        an expired activation fails C(nodeadm init) with C(ActivationExpired).
    type: int
    default: 24
  default_instance_name:
    description:
      - Name given to the managed instances the activation registers.
    type: str
  description:
    description:
      - Description of the activation.
    type: str
    default: EKS hybrid nodes
  tags:
    description:
      - Tags of the activation, besides C(EKSClusterARN) which the module always sets.
    type: dict
    default: {}
  activation_id:
    description:
      - With O(state=absent), the activation to delete. When omitted, every used-up or expired activation
        tagged with the cluster's C(EKSClusterARN) is deleted.
    type: str
  state:
    description:
      - V(present) creates an activation when O(hosts_to_register) is above 0.
      - V(absent) deletes activations (see O(activation_id)).
attributes:
  check_mode:
    support: full
    details: Predicts the creation or the deletions and returns no activation code.
  diff_mode:
    support: full
    details: The activation made or the activation IDs deleted; the code is never part of the diff.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.state,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - A run with O(state=present) and O(hosts_to_register) above 0 creates a new activation every time, since
    the code of an existing one cannot be read back. Count only the hosts that are not registered.
  - "IAM permissions: ssm:CreateActivation, ssm:AddTagsToResource, iam:PassRole on the role; ssm:DescribeActivations
    and ssm:DeleteActivation for O(state=absent); eks:DescribeCluster when O(cluster_arn) is omitted."
"""

EXAMPLES = r"""
- name: Create the activation for the hosts that are not registered yet
  hybridnodes.eks.ssm_activation:
    cluster_name: hybrid-example
    iam_role: hybrid-example-hybrid-nodes
    hosts_to_register: "{{ unregistered_hosts | length }}"
    expiration_hours: 24
    default_instance_name: hybrid-example-node
    region: us-west-2
  register: activation
  no_log: true  # the result holds the activation code

- name: Delete the activations once the hosts have registered
  hybridnodes.eks.ssm_activation:
    cluster_name: hybrid-example
    state: absent
    region: us-west-2
"""

RETURN = r"""
activation_id:
  description: ID of the activation created; empty when none was created (and in check mode).
  returned: always
  type: str
  sample: 6f1f9d2e-0c1b-4e8a-9a39-1f0c7b1d2a3c
activation_code:
  description:
    - The activation code, a secret. Returned only at creation (not in check mode). Run the task with
      C(no_log=true) and hand the code only to the NodeConfig.
  returned: when an activation was created
  type: str
  sample: "********"
activation:
  description: The activation created or predicted, without its code; empty when there is nothing to do.
  returned: always
  type: dict
  contains:
    iam_role:
      description: Name of the IAM role.
      returned: when an activation was created or predicted
      type: str
      sample: hybrid-example-hybrid-nodes
    registration_limit:
      description: How many instances the activation can register.
      returned: when an activation was created or predicted
      type: int
      sample: 3
    expiration_date:
      description: When the activation expires (ISO 8601, UTC).
      returned: when an activation was created or predicted
      type: str
      sample: "2025-01-01T01:00:00+00:00"
    default_instance_name:
      description: Name given to the instances the activation registers.
      returned: when an activation was created or predicted
      type: str
      sample: hybrid-example-node
    tags:
      description: Tags of the activation.
      returned: when an activation was created or predicted
      type: dict
      sample: {"EKSClusterARN": "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-example"}
deleted_activation_ids:
  description: The activations deleted (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: ["6f1f9d2e-0c1b-4e8a-9a39-1f0c7b1d2a3c"]
cluster_arn:
  description: ARN of the cluster, the value of the C(EKSClusterARN) tag; empty when not needed.
  returned: always
  type: str
  sample: arn:aws:eks:us-west-2:123456789012:cluster/hybrid-example
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import eks_cluster

CLUSTER_TAG = "EKSClusterARN"
# botocore's SSM model (ssm/2014-11-06/service-2.json, CreateActivationRequest): ExpirationDate "up to 30 days in
# advance", 24 hours when not given; RegistrationLimit is an integer from 1 to 1000. EKS user guide,
# hybrid-nodes-creds: activations last 24 hours by default; up to 1,000 standard hybrid-activated nodes per account
# and region, more need the Systems Manager advanced-instances tier.
DEFAULT_EXPIRATION_HOURS = 24
MAX_EXPIRATION_HOURS = 720
MAX_REGISTRATION_LIMIT = 1000


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def arn_region(arn):
    """The region field of an ARN, or None when the string is not an ARN."""
    parts = (arn or "").split(":", 5)
    return parts[3] if len(parts) == 6 and parts[0] == "arn" else None


def input_problems(params, region):
    """Every problem of the options, before any call."""
    problems = []
    hours = params["expiration_hours"]
    if not 1 <= hours <= MAX_EXPIRATION_HOURS:
        problems.append("expiration_hours is %d; use 1 to %d (SSM activations live at most 30 days)."
                        % (hours, MAX_EXPIRATION_HOURS))
    if params["hosts_to_register"] < 0:
        problems.append("hosts_to_register is %d; give the number of hosts not registered yet (0 or more)."
                        % params["hosts_to_register"])
    elif params["state"] == "present" and params["hosts_to_register"] > MAX_REGISTRATION_LIMIT:
        problems.append(registration_limit_message(params["hosts_to_register"]))
    if params["state"] == "present" and params["hosts_to_register"] > 0:
        role = params["iam_role"]
        if not role:
            problems.append("iam_role is required to create an activation; give the name of the hybrid nodes' IAM role.")
        elif role.startswith("arn:") or "/" in role:
            problems.append("iam_role must be the role NAME, not %s; give the part after 'role/'." % role)
    if CLUSTER_TAG in (params["tags"] or {}):
        problems.append("tags must not set %s; the module sets it from the cluster." % CLUSTER_TAG)
    cluster_region = arn_region(params["cluster_arn"])
    if params["cluster_arn"] and cluster_region is None:
        problems.append("cluster_arn %s is not an ARN; give arn:aws:eks:REGION:ACCOUNT:cluster/NAME or omit it."
                        % params["cluster_arn"])
    elif cluster_region and region and cluster_region != region:
        problems.append(region_message(params["cluster_name"], cluster_region, region))
    return problems


def registration_limit_message(count):
    return ("%d hosts are not registered yet, but one SSM activation registers at most %d instances. Join them with "
            "several activations: run the join in batches of at most %d hosts (serial) or split the hosts into "
            "slices. Beyond %d managed instances per account and region, SSM needs the advanced-instances tier."
            % (count, MAX_REGISTRATION_LIMIT, MAX_REGISTRATION_LIMIT, MAX_REGISTRATION_LIMIT))


def region_message(cluster, cluster_region, region):
    return ("EKS cluster %s is in region %s but the activation would be created in %s; nodes cannot register "
            "with an activation of another region. Set region (hybrid_region) to %s." % (cluster, cluster_region, region,
                                                                                         cluster_region))


def cluster_arn(module):
    """The cluster's ARN, read in the module's region when not given."""
    params = module.params
    if params["cluster_arn"]:
        return params["cluster_arn"]
    fix = ("The cluster is not in region %s, and the activation must be in the cluster's region: set region "
           "(hybrid_region) to the cluster's region, or check cluster_name." % module.region)
    return eks_cluster.read_cluster(module, aws.aws_client(module, "eks"), params["cluster_name"], fix)["arn"]


def ensure_present(module, arn):
    params = module.params
    count = params["hosts_to_register"]
    expires = (_now() + datetime.timedelta(hours=params["expiration_hours"])).replace(microsecond=0)
    tags = dict(params["tags"] or {})
    tags[CLUSTER_TAG] = arn
    activation = {"iam_role": params["iam_role"], "registration_limit": count,
                  "expiration_date": expires.isoformat(), "tags": tags,
                  "default_instance_name": params["default_instance_name"] or ""}
    if module.check_mode:
        return {"activation": activation, "activation_id": ""}
    if not module.no_log:
        module.fail_json(msg="Refusing to create an SSM activation for EKS cluster %s: the result holds the "
                             "activation code, a secret. Run this task with no_log: true." % params["cluster_name"])
    request = {"Description": params["description"], "IamRole": params["iam_role"], "RegistrationLimit": count,
               "ExpirationDate": expires, "Tags": [{"Key": key, "Value": str(value)} for key, value in sorted(tags.items())]}
    if params["default_instance_name"]:
        request["DefaultInstanceName"] = params["default_instance_name"]
    created = aws.call(module, aws.aws_client(module, "ssm"), "create_activation", "for EKS cluster %s (role %s)"
                       % (params["cluster_name"], params["iam_role"]), "ssm", fix=_role_fix(params["iam_role"]), **request)
    return {"activation": activation, "activation_id": created["ActivationId"],
            "activation_code": created["ActivationCode"]}


def _role_fix(role):
    """The advice when CreateActivation refuses the role."""
    def fix(exception):
        if aws.error_code(exception) in ("InvalidParameters", "ValidationException") and "role" in str(exception).lower():
            return "Check that the IAM role %s exists and trusts ssm.amazonaws.com." % role
        return None
    return fix


def _activations(module, client, filters):
    """The activations SSM lists for ``filters``."""
    resource = "of EKS cluster %s" % module.params["cluster_name"]
    return aws.list_all(module, client, "describe_activations", "ActivationList", resource, "ssm", Filters=filters)


def deletable(activation, arn, now):
    """Whether an activation of the cluster is used up or expired."""
    tags = dict((tag["Key"], tag["Value"]) for tag in activation.get("Tags") or [])
    if tags.get(CLUSTER_TAG) != arn:
        return False
    # SSM leaves RegistrationsCount out while it is 0.
    used_up = (activation.get("RegistrationsCount") or 0) >= activation.get("RegistrationLimit", 1)
    expiry = activation.get("ExpirationDate")
    expired = activation.get("Expired") or (expiry is not None and expiry <= now)
    return bool(used_up or expired)


def ensure_absent(module, client):
    params = module.params
    if params["activation_id"]:
        found = _activations(module, client, [{"FilterKey": "ActivationIds", "FilterValues": [params["activation_id"]]}])
        targets = [item["ActivationId"] for item in found if item["ActivationId"] == params["activation_id"]]
        arn = ""
    else:
        arn = cluster_arn(module)
        filters = []
        if params["iam_role"]:
            filters.append({"FilterKey": "IamRole", "FilterValues": [params["iam_role"]]})
        found = _activations(module, client, filters)
        now = _now()
        targets = [item["ActivationId"] for item in found if deletable(item, arn, now)]
    if not module.check_mode:
        for activation_id in targets:
            # InvalidActivationId: deleted meanwhile, the goal is met.
            aws.call(module, client, "delete_activation", "SSM activation %s" % activation_id, "ssm",
                     absent=("InvalidActivationId",), ActivationId=activation_id)
    return targets, arn


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        cluster_arn=dict(type="str"),
        iam_role=dict(type="str"),
        hosts_to_register=dict(type="int", default=0),
        expiration_hours=dict(type="int", default=DEFAULT_EXPIRATION_HOURS),
        default_instance_name=dict(type="str"),
        description=dict(type="str", default="EKS hybrid nodes"),
        tags=dict(type="dict", default={}),
        activation_id=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problems = input_problems(params, module.region)
    if problems:
        module.fail_json(msg="Invalid options for the SSM activation of EKS cluster %s: %s"
                             % (params["cluster_name"], " ".join(problems)), problems=problems)

    result = dict(changed=False, activation_id="", activation={}, deleted_activation_ids=[], cluster_arn="")
    if params["state"] == "present":
        if params["hosts_to_register"] > 0:
            arn = cluster_arn(module)
            if arn_region(arn) != module.region:
                module.fail_json(msg=region_message(params["cluster_name"], arn_region(arn), module.region))
            result.update(ensure_present(module, arn), changed=True, cluster_arn=arn)
        diff_before, diff_after = {}, result["activation"]
    else:
        targets, arn = ensure_absent(module, aws.aws_client(module, "ssm"))
        result.update(changed=bool(targets), deleted_activation_ids=targets, cluster_arn=arn)
        diff_before, diff_after = {"activation_ids": targets}, {"activation_ids": []}
    if module._diff:
        result["diff"] = dict(before=diff_before, after=diff_after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
