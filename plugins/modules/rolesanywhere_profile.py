#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rolesanywhere_profile
short_description: Manage the IAM Roles Anywhere profile of EKS hybrid nodes
version_added: 0.1.0
description:
  - Creates, updates or deletes an IAM Roles Anywhere profile, found by its O(name).
  - Hybrid nodes need a profile with C(acceptRoleSessionName=true), so that the session name (and with it the
    Kubernetes node name C(system:node:{{SessionName}})) is the CN of the node's certificate.
  - The session duration must not exceed the maximum session duration of any of the O(role_arns); the module
    reads the roles (C(iam:GetRole)) and refuses a longer duration before any write, naming the fix.
  - Reads the profiles once and writes only what differs; a re-run makes no write.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  name:
    description:
      - Name of the profile.
    type: str
    required: true
  role_arns:
    description:
      - ARNs of the IAM roles the profile lets certificates assume (the hybrid nodes' role).
      - Required when O(state=present).
    type: list
    elements: str
  duration_seconds:
    description:
      - Session duration, from 900 to 43200 seconds, and at most the roles' maximum session duration.
    type: int
    default: 3600
  accept_role_session_name:
    description:
      - Whether a custom role session name is accepted. EKS Hybrid Nodes need V(true).
    type: bool
    default: true
  enabled:
    description:
      - Whether the profile is enabled.
    type: bool
    default: true
  check_role_session_duration:
    description:
      - Read the roles and refuse a O(duration_seconds) above their maximum session duration.
    type: bool
    default: true
  tags:
    description:
      - Tags of the profile, set at creation.
    type: dict
  state:
    description:
      - Whether the profile should exist.
attributes:
  check_mode:
    support: full
    details: Reads the profiles and the roles and predicts the creation, update or deletion without writing.
  diff_mode:
    support: full
    details: The profile's roles, session duration and enabled state, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.state,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: rolesanywhere:ListProfiles, iam:GetRole, and as needed rolesanywhere:CreateProfile,
    rolesanywhere:UpdateProfile, rolesanywhere:EnableProfile, rolesanywhere:DisableProfile,
    rolesanywhere:DeleteProfile, iam:PassRole."
"""

EXAMPLES = r"""
- name: Let the hybrid nodes' certificates assume their role
  hybridnodes.eks.rolesanywhere_profile:
    name: hybrid-example-hybrid-nodes
    role_arns:
      - arn:aws:iam::123456789012:role/hybrid-example-hybrid-nodes
    duration_seconds: 3600
    region: us-west-2
"""

RETURN = r"""
profile:
  description: The profile after the run (predicted in check mode); empty when it does not exist.
  returned: always
  type: dict
  contains:
    profile_arn:
      description: ARN of the profile (the NodeConfig's C(profileArn)).
      returned: when it exists
      type: str
      sample: arn:aws:rolesanywhere:us-west-2:123456789012:profile/0a1b2c3d-4e5f-6789-abcd-ef0123456789
    profile_id:
      description: ID of the profile.
      returned: when it exists
      type: str
      sample: 0a1b2c3d-4e5f-6789-abcd-ef0123456789
    name:
      description: Name of the profile.
      returned: when it exists
      type: str
      sample: hybrid-example-hybrid-nodes
    role_arns:
      description: The roles of the profile.
      returned: when it exists
      type: list
      elements: str
      sample: ["arn:aws:iam::123456789012:role/hybrid-example-hybrid-nodes"]
    duration_seconds:
      description: Session duration.
      returned: when it exists
      type: int
      sample: 3600
    accept_role_session_name:
      description: Whether a custom role session name is accepted.
      returned: when it exists
      type: bool
      sample: true
    enabled:
      description: Whether the profile is enabled.
      returned: when it exists
      type: bool
      sample: true
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws, rolesanywhere
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws.rolesanywhere import PROFILE

MIN_DURATION = 900
MAX_DURATION = 43200


def summary(profile):
    if not profile:
        return {}
    result = {"name": profile.get("name"), "role_arns": sorted(profile.get("roleArns") or []),
              "duration_seconds": profile.get("durationSeconds"),
              "accept_role_session_name": bool(profile.get("acceptRoleSessionName")),
              "enabled": bool(profile.get("enabled"))}
    if profile.get("profileArn"):
        result.update(profile_arn=profile["profileArn"], profile_id=profile["profileId"])
    return result


def input_problems(params):
    problems = []
    if params["state"] != "present":
        return problems
    if not MIN_DURATION <= params["duration_seconds"] <= MAX_DURATION:
        problems.append("duration_seconds is %d; IAM Roles Anywhere accepts %d to %d."
                        % (params["duration_seconds"], MIN_DURATION, MAX_DURATION))
    if not params["accept_role_session_name"]:
        problems.append("accept_role_session_name is false, but EKS Hybrid Nodes need it true (the session name is "
                        "the node name).")
    for arn in params["role_arns"] or []:
        if ":role/" not in arn:
            problems.append("%s is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)." % arn)
    return problems


def role_duration_problems(module, params):
    """The roles whose maximum session duration is below duration_seconds (reads each role)."""
    iam = aws.aws_client(module, "iam")
    problems = []
    for arn in params["role_arns"]:
        role_name = arn.split(":role/", 1)[1].rsplit("/", 1)[-1]
        found = aws.call(module, iam, "get_role", "IAM role %s" % role_name, "iam",
                         fix=aws.fix_when("NoSuchEntity", "Create the role first (the aws_prerequisites role does), "
                                                          "or fix role_arns."),
                         absent=("NoSuchEntity",) if module.check_mode else (), RoleName=role_name)
        if found is None:
            module.warn("IAM role %s does not exist (yet); its maximum session duration was not checked." % role_name)
            continue
        maximum = found["Role"].get("MaxSessionDuration", 3600)
        if params["duration_seconds"] > maximum:
            problems.append("duration_seconds %d exceeds the maximum session duration of role %s (%d s); lower "
                            "duration_seconds or raise the role's max_session_duration."
                            % (params["duration_seconds"], role_name, maximum))
    return problems


def refuse_long_sessions(module):
    """Fail before any write when duration_seconds exceeds a role's maximum (unless check_role_session_duration is
    false); runs after the profiles are read, before the profile is created or updated."""
    params = module.params
    if not params["check_role_session_duration"]:
        return
    problems = role_duration_problems(module, params)
    if problems:
        module.fail_json(msg="Invalid session duration for IAM Roles Anywhere profile %s: %s"
                             % (params["name"], " ".join(problems)), problems=problems)


def ensure_present(module, client, current):
    refuse_long_sessions(module)
    params = module.params
    name = params["name"]
    wanted = {"roleArns": sorted(params["role_arns"]), "durationSeconds": params["duration_seconds"],
              "acceptRoleSessionName": params["accept_role_session_name"]}
    if current is None:
        return rolesanywhere.create(module, client, PROFILE, name, wanted, params["enabled"], params["tags"])
    update = {}
    if sorted(current.get("roleArns") or []) != wanted["roleArns"]:
        update["roleArns"] = wanted["roleArns"]
    if current.get("durationSeconds") != wanted["durationSeconds"]:
        update["durationSeconds"] = wanted["durationSeconds"]
    if bool(current.get("acceptRoleSessionName")) != wanted["acceptRoleSessionName"]:
        update["acceptRoleSessionName"] = wanted["acceptRoleSessionName"]
    return rolesanywhere.update_existing(module, client, PROFILE, current, name, update, params["enabled"])


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        role_arns=dict(type="list", elements="str"),
        duration_seconds=dict(type="int", default=3600),
        accept_role_session_name=dict(type="bool", default=True),
        enabled=dict(type="bool", default=True),
        check_role_session_duration=dict(type="bool", default=True),
        tags=dict(type="dict"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[["state", "present", ["role_arns"]]])
    params = module.params
    problems = input_problems(params)
    if problems:
        module.fail_json(msg="Invalid options for IAM Roles Anywhere profile %s: %s" % (params["name"], " ".join(problems)),
                         problems=problems)

    rolesanywhere.run(module, PROFILE, summary, ensure_present)


if __name__ == "__main__":
    main()
