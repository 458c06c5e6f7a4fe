#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nodeadm_config
short_description: Render, validate and write the nodeadm NodeConfig of a hybrid node
version_added: 0.1.0
author: hybridnodes.eks maintainers (!UNKNOWN)
description:
  - Renders the C(node.eks.aws/v1alpha1) C(NodeConfig) that C(nodeadm init) reads, from the inventory's settings.
  - Validates it as nodeadm does before writing anything, and reports every problem at once, exactly one
    credential block, an activation id that is a UUID, an activation code of 20 to 250 characters, a node name
    of at most 64 characters, no C(--hostname-override).
  - Also refuses a C(node_ip) outside O(remote_node_cidrs), before anything is written. C(nodeadm init) refuses
    it too, later (its node-ip-validation, against the cluster's remote node networks); with that validation
    skipped, the node's certificate signing requests stay Pending.
  - Writes the file only when its content (or its mode, or its directory's) differs, atomically, with mode C(0600)
    from the start, in a directory of mode C(0700). The diff and the return values show the activation code masked.
  - The file is written as JSON, which nodeadm reads as YAML, so that the host needs no YAML library.
options:
  path:
    description: Where the NodeConfig is written.
    type: path
    default: /etc/nodeadm/nodeConfig.yaml
  cluster_name:
    description: The EKS cluster name.
    type: str
    required: true
  region:
    description: The cluster's AWS region.
    type: str
    required: true
  credential_provider:
    description: How the node gets AWS credentials.
    type: str
    required: true
    choices: [ssm, iam-ra]
  ssm_activation_id:
    description:
      - The SSM hybrid activation id (a UUID). Required with O(credential_provider=ssm), unless
        O(keep_existing_activation) finds one in the existing file.
    type: str
  ssm_activation_code:
    description:
      - The SSM hybrid activation code. It is returned by AWS only when the activation is created, so it is passed
        at join time and never shown; the module masks it in the diff and the results.
    type: str
  keep_existing_activation:
    description:
      - With O(credential_provider=ssm) and no activation given, keep the activation of the existing file. A host
        that registered already needs no new activation, and nodeadm skips the registration when
        C(/var/lib/amazon/ssm/registration) exists.
    type: bool
    default: true
  iam_ra_node_name:
    description: The node name with IAM Roles Anywhere; it must equal the certificate's CN (64 characters at most).
    type: str
  iam_ra_trust_anchor_arn:
    description: The IAM Roles Anywhere trust anchor ARN.
    type: str
  iam_ra_profile_arn:
    description: The IAM Roles Anywhere profile ARN.
    type: str
  iam_ra_role_arn:
    description: The Hybrid Nodes IAM role ARN.
    type: str
  iam_ra_certificate_path:
    description: The node certificate on the host.
    type: path
    default: /etc/iam/pki/server.pem
  iam_ra_private_key_path:
    description: The node's private key on the host.
    type: path
    default: /etc/iam/pki/server.key
  iam_ra_aws_config_path:
    description: Where nodeadm writes the AWS config with the credential process (nodeadm's default when unset).
    type: path
  node_ip:
    description: The kubelet's C(--node-ip), the host's address in the remote node network.
    type: str
  remote_node_cidrs:
    description: The remote node networks; O(node_ip) must lie inside one of them.
    type: list
    elements: str
    default: []
  node_labels:
    description: Labels for C(--node-labels).
    type: dict
    default: {}
  node_taints:
    description: Taints for C(--register-with-taints), each C(key=value:Effect).
    type: list
    elements: str
    default: []
  kubelet_extra_flags:
    description: More kubelet flags. C(--hostname-override) is refused, as by nodeadm.
    type: list
    elements: str
    default: []
  kubelet_config:
    description: Settings merged into the kubelet configuration (C(spec.kubelet.config)).
    type: dict
    default: {}
  containerd_config:
    description: Inline TOML merged into containerd's configuration (C(spec.containerd.config)).
    type: str
  enable_credentials_file:
    description: Sets C(spec.hybrid.enableCredentialsFile), for pods that read the node's AWS credentials file.
    type: bool
    default: false
attributes:
  check_mode:
    details: Predicts whether the file would change, and writes nothing. For a host not registered yet,
      whose SSM activation the run creates, the prediction uses a placeholder for it.
    support: full
  diff_mode:
    details: Shows the NodeConfig before and after, with the activation code masked.
    support: full
extends_documentation_fragment: [hybridnodes.eks.attributes]
notes:
  - Changing the NodeConfig of an initialised node takes effect only through nodeadm's documented path
    (uninstall, install, init); the M(hybridnodes.eks.nodeadm) module decides that from this module's C(changed).
"""

EXAMPLES = r"""
- name: Write the NodeConfig for an SSM hybrid activation
  hybridnodes.eks.nodeadm_config:
    cluster_name: "{{ hybrid_cluster_name }}"
    region: "{{ hybrid_region }}"
    credential_provider: ssm
    ssm_activation_id: "{{ activation.activation_id }}"
    ssm_activation_code: "{{ activation.activation_code }}"
    node_ip: "{{ ansible_host }}"
    remote_node_cidrs: "{{ hybrid_remote_node_cidrs }}"
    node_labels: "{{ hybrid_node_labels }}"
    node_taints: "{{ hybrid_node_taints }}"
  no_log: true

- name: Write the NodeConfig for IAM Roles Anywhere
  hybridnodes.eks.nodeadm_config:
    cluster_name: "{{ hybrid_cluster_name }}"
    region: "{{ hybrid_region }}"
    credential_provider: iam-ra
    iam_ra_node_name: "{{ hybrid_node_name }}"
    iam_ra_trust_anchor_arn: "{{ trust_anchor_arn }}"
    iam_ra_profile_arn: "{{ profile_arn }}"
    iam_ra_role_arn: "{{ role_arn }}"
    node_ip: "{{ ansible_host }}"
    remote_node_cidrs: "{{ hybrid_remote_node_cidrs }}"
"""

RETURN = r"""
path:
  description: Where the NodeConfig is.
  returned: always
  type: str
  sample: /etc/nodeadm/nodeConfig.yaml
node_config:
  description: The NodeConfig as written (or as it would be written in check mode), with the activation code masked.
  returned: always
  type: dict
  sample:
    apiVersion: node.eks.aws/v1alpha1
    kind: NodeConfig
    spec:
      cluster: {name: hybrid-example, region: us-west-2}
      hybrid: {ssm: {activationId: 5d9e2e0c-1b9e-4c4e-9d5e-6e1f9d0c1a2b, activationCode: "********"}}
      kubelet: {flags: ["--node-ip=10.200.1.23"]}
problems:
  description: Why the NodeConfig was refused (each with C(field), C(message), C(fix)); empty on success.
  returned: always
  type: list
  elements: dict
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig

FILE_MODE = 0o600
DIR_MODE = 0o700


def read_existing(path):
    """The current NodeConfig as a dict ({} when absent), and its raw text (None when absent)."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError):
        return {}, None
    try:
        return json.loads(text), text
    except ValueError:
        pass
    try:
        import yaml  # pylint: disable=import-outside-toplevel
        return yaml.safe_load(text) or {}, text
    except Exception:  # pylint: disable=broad-except
        return {}, text  # unreadable: it will be replaced


def desired_document(params, existing):
    ssm = None
    if params["credential_provider"] == "ssm":
        ssm = {"activationId": params["ssm_activation_id"], "activationCode": params["ssm_activation_code"]}
        if not (ssm["activationId"] or ssm["activationCode"]) and params["keep_existing_activation"]:
            current = ((existing.get("spec") or {}).get("hybrid") or {}).get("ssm") or {}
            ssm = {"activationId": current.get("activationId"), "activationCode": current.get("activationCode")}
    iam_roles_anywhere = None
    if params["credential_provider"] == "iam-ra":
        iam_roles_anywhere = {
            "nodeName": params["iam_ra_node_name"],
            "trustAnchorArn": params["iam_ra_trust_anchor_arn"],
            "profileArn": params["iam_ra_profile_arn"],
            "roleArn": params["iam_ra_role_arn"],
            "certificatePath": params["iam_ra_certificate_path"],
            "privateKeyPath": params["iam_ra_private_key_path"],
            "awsConfigPath": params["iam_ra_aws_config_path"],
        }
    return nodeconfig.render(
        params["cluster_name"], params["region"], params["credential_provider"], ssm=ssm,
        iam_roles_anywhere=iam_roles_anywhere, node_ip=params["node_ip"], node_labels=params["node_labels"],
        node_taints=params["node_taints"], kubelet_extra_flags=params["kubelet_extra_flags"],
        kubelet_config=params["kubelet_config"], containerd_config=params["containerd_config"],
        enable_credentials_file=params["enable_credentials_file"])


def dump(doc):
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def directory_mode_ok(path):
    """Whether the NodeConfig's directory exists with DIR_MODE (it holds the activation code)."""
    directory = os.path.dirname(path) or "."
    return os.path.isdir(directory) and (os.stat(directory).st_mode & 0o777) == DIR_MODE


def write_file(path, text):
    """Write the NodeConfig atomically with its final mode from the start: the temporary file is made 0600 by mkstemp
    in a 0700 directory and renamed over the old one (AnsibleModule.atomic_move would give it the old file's mode
    until a later chmod), so the activation code is never readable by anyone but root, not even briefly."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, DIR_MODE)
    os.chmod(directory, DIR_MODE)
    handle, temporary = tempfile.mkstemp(prefix=".nodeConfig.", dir=directory)
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.rename(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


PENDING_ACTIVATION = "(the activation the run creates)"


def check_mode_activation(module, wanted):
    """In check mode, the SSM activation of an unregistered host does not exist yet (hybridnodes.eks.ssm_activation
    only predicts it), so the NodeConfig is checked and predicted with a well-formed stand-in for it. Returns whether
    it did; a real run without an activation still fails."""
    if not module.check_mode or module.params["credential_provider"] != "ssm":
        return False
    hybrid = (wanted.get("spec") or {}).get("hybrid")
    if not isinstance(hybrid, dict) or hybrid.get("ssm") or hybrid.get("iamRolesAnywhere"):
        return False
    hybrid["ssm"] = {"activationId": "00000000-0000-4000-8000-000000000000", "activationCode": "0" * 20}
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/nodeadm/nodeConfig.yaml"),
            cluster_name=dict(type="str", required=True),
            region=dict(type="str", required=True),
            credential_provider=dict(type="str", required=True, choices=list(nodeconfig.credential_providers.NAMES)),
            ssm_activation_id=dict(type="str"),
            ssm_activation_code=dict(type="str", no_log=True),
            keep_existing_activation=dict(type="bool", default=True),
            iam_ra_node_name=dict(type="str"),
            iam_ra_trust_anchor_arn=dict(type="str"),
            iam_ra_profile_arn=dict(type="str"),
            iam_ra_role_arn=dict(type="str"),
            iam_ra_certificate_path=dict(type="path", default="/etc/iam/pki/server.pem"),
            iam_ra_private_key_path=dict(type="path", default="/etc/iam/pki/server.key"),
            iam_ra_aws_config_path=dict(type="path"),
            node_ip=dict(type="str"),
            remote_node_cidrs=dict(type="list", elements="str", default=[]),
            node_labels=dict(type="dict", default={}),
            node_taints=dict(type="list", elements="str", default=[]),
            kubelet_extra_flags=dict(type="list", elements="str", default=[]),
            kubelet_config=dict(type="dict", default={}),
            containerd_config=dict(type="str"),
            enable_credentials_file=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    existing, existing_text = read_existing(path)
    wanted = desired_document(module.params, existing)
    pending = check_mode_activation(module, wanted)
    code = (((wanted.get("spec") or {}).get("hybrid") or {}).get("ssm") or {}).get("activationCode")
    if code:
        module.no_log_values.add(code)  # the kept one from the file is a secret too

    found = nodeconfig.problems(wanted, module.params["remote_node_cidrs"])
    if found:
        module.fail_json(
            msg="The NodeConfig for %s is not valid; nothing was written:\n%s" % (
                path, "\n".join("- %s Fix: %s" % (item["message"], item["fix"]) for item in found)),
            problems=found, path=path)

    text = dump(wanted)
    mode_ok = existing_text is not None and (os.stat(path).st_mode & 0o777) == FILE_MODE and directory_mode_ok(path)
    changed = existing_text != text or not mode_ok
    shown = nodeconfig.masked(wanted)
    if pending:
        shown["spec"]["hybrid"]["ssm"]["activationId"] = PENDING_ACTIVATION
    result = dict(changed=changed, path=path, node_config=shown, problems=[])
    if module._diff:
        result["diff"] = dict(
            before_header=path, after_header=path,
            before=dump(nodeconfig.masked(existing)) if existing_text is not None else "",
            after=dump(shown))
    if changed and not module.check_mode:
        write_file(path, text)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
