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
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
  - "IAM permissions: rolesanywhere:ListProfiles, iam:GetRole, and as needed rolesanywhere:CreateProfile,
    rolesanywhere:UpdateProfile, rolesanywhere:EnableProfile, rolesanywhere:DisableProfile,
    rolesanywhere:DeleteProfile, iam:PassRole."
"""

EXAMPLES = r"""
- name: Let the hybrid nodes' certificates assume their role
  hybridnodes.eks.rolesanywhere_profile:
    name: hybrid-lab-hybrid-nodes
    role_arns:
      - arn:aws:iam::123456789012:role/hybrid-lab-hybrid-nodes
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
      sample: hybrid-lab-hybrid-nodes
    role_arns:
      description: The roles of the profile.
      returned: when it exists
      type: list
      elements: str
      sample: ["arn:aws:iam::123456789012:role/hybrid-lab-hybrid-nodes"]
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

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library.

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils import aws

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
        try:
            role = iam.get_role(RoleName=role_name, aws_retry=True)["Role"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            fix = None
            if aws.error_code(exc) == "NoSuchEntity" and module.check_mode:
                module.warn("IAM role %s does not exist (yet); its maximum session duration was not checked." % role_name)
                continue
            if aws.error_code(exc) == "NoSuchEntity":
                fix = "Create the role first (the aws_prerequisites role does), or fix role_arns."
            return aws.fail_aws(module, exc, "GetRole", "IAM role %s" % role_name, service="iam", fix=fix)
        maximum = role.get("MaxSessionDuration", 3600)
        if params["duration_seconds"] > maximum:
            problems.append("duration_seconds %d exceeds the maximum session duration of role %s (%d s); lower "
                            "duration_seconds or raise the role's max_session_duration."
                            % (params["duration_seconds"], role_name, maximum))
    return problems


def call(module, client, method, operation, label, **kwargs):
    try:
        return getattr(client, method)(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return aws.fail_aws(module, exc, operation, "IAM Roles Anywhere profile %s" % label, service="rolesanywhere")


def ensure_present(module, client, current):
    params = module.params
    name = params["name"]
    wanted = {"roleArns": sorted(params["role_arns"]), "durationSeconds": params["duration_seconds"],
              "acceptRoleSessionName": params["accept_role_session_name"]}
    if current is None:
        if module.check_mode:
            return True, dict(wanted, name=name, enabled=params["enabled"])
        request = dict(wanted, name=name, enabled=params["enabled"])
        if params["tags"]:
            request["tags"] = [{"key": key, "value": str(value)} for key, value in sorted(params["tags"].items())]
        return True, call(module, client, "create_profile", "CreateProfile", name, **request)["profile"]
    changed = False
    after = dict(current)
    update = {}
    if sorted(current.get("roleArns") or []) != wanted["roleArns"]:
        update["roleArns"] = wanted["roleArns"]
    if current.get("durationSeconds") != wanted["durationSeconds"]:
        update["durationSeconds"] = wanted["durationSeconds"]
    if bool(current.get("acceptRoleSessionName")) != wanted["acceptRoleSessionName"]:
        update["acceptRoleSessionName"] = wanted["acceptRoleSessionName"]
    if update:
        changed = True
        after.update(update)
        if not module.check_mode:
            after = call(module, client, "update_profile", "UpdateProfile", name, profileId=current["profileId"],
                         **update)["profile"]
    if bool(current.get("enabled")) != params["enabled"]:
        changed = True
        after["enabled"] = params["enabled"]
        if not module.check_mode:
            method, operation = ("enable_profile", "EnableProfile") if params["enabled"] else \
                ("disable_profile", "DisableProfile")
            after = call(module, client, method, operation, name, profileId=current["profileId"])["profile"]
    return changed, after


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

    client = aws.aws_client(module, "rolesanywhere")
    try:
        found = [item for item in aws.paginate(client, "list_profiles", "profiles") if item.get("name") == params["name"]]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        aws.fail_aws(module, exc, "ListProfiles", "(looking for profile %s)" % params["name"], service="rolesanywhere")
    except RuntimeError as exc:
        module.fail_json(msg="Failed to list profiles (looking for %s): %s" % (params["name"], exc))
    if len(found) > 1:
        module.fail_json(msg="%d IAM Roles Anywhere profiles are named %s; delete the extra ones (IDs %s) or choose "
                             "another name." % (len(found), params["name"], ", ".join(item["profileId"] for item in found)))
    current = found[0] if found else None

    if params["state"] == "absent":
        changed, after = current is not None, None
        if current is not None and not module.check_mode:
            try:
                client.delete_profile(profileId=current["profileId"], aws_retry=True)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                if aws.error_code(exc) != "ResourceNotFoundException":
                    aws.fail_aws(module, exc, "DeleteProfile", "IAM Roles Anywhere profile %s" % params["name"],
                                 service="rolesanywhere")
    else:
        if params["check_role_session_duration"]:
            problems = role_duration_problems(module, params)
            if problems:
                module.fail_json(msg="Invalid session duration for IAM Roles Anywhere profile %s: %s"
                                     % (params["name"], " ".join(problems)), problems=problems)
        changed, after = ensure_present(module, client, current)

    result = dict(changed=changed, profile=summary(after))
    if module._diff:
        result["diff"] = dict(before=summary(current), after=summary(after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
