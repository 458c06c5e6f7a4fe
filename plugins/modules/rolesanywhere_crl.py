#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rolesanywhere_crl
short_description: Manage the certificate revocation list of the IAM Roles Anywhere trust anchor of EKS hybrid nodes
version_added: 0.1.0
description:
  - Imports, updates or deletes an IAM Roles Anywhere certificate revocation list (CRL), found by its O(name).
  - IAM Roles Anywhere refuses credentials to a certificate that the CRL of its trust anchor lists, so a node
    certificate revoked by the operator's CA stops working once the CA's new CRL is imported here.
  - The CRL is refused before any call when it is not one CRL in PEM or DER form (and, with the Python library
    cryptography, when it does not parse). A CRL whose next update is past gets a warning.
  - Reads the CRLs once and writes only what differs (the CRL compared on its DER bytes, its enabled state, its
    tags); a re-run makes no write. The CRL is sent as PEM, as ImportCrl asks.
  - The API cannot move a CRL to another trust anchor; a CRL of that name on another trust anchor is refused.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  name:
    description:
      - Name of the CRL.
    type: str
    required: true
  crl:
    description:
      - The CRL as PEM text (C(-----BEGIN X509 CRL-----)).
      - Exactly one of O(crl) and O(crl_path) is needed when O(state=present).
    type: str
  crl_path:
    description:
      - Path of the CRL file, PEM or DER, on the host the module runs on (the controller for a task on localhost).
    type: path
  trust_anchor_arn:
    description:
      - ARN of the trust anchor whose certificates the CRL revokes.
      - Exactly one of O(trust_anchor_arn) and O(trust_anchor_name) is needed when O(state=present).
    type: str
  trust_anchor_name:
    description:
      - Name of that trust anchor, resolved to its ARN with one list call.
      - In check mode a trust anchor that does not exist yet (made by the same run) predicts the import.
    type: str
  enabled:
    description:
      - Whether the CRL is enabled (IAM Roles Anywhere checks certificates against enabled CRLs only).
    type: bool
    default: true
  tags:
    description:
      - Tags of the CRL. Tags not listed are left alone.
    type: dict
  state:
    description:
      - Whether the CRL should exist.
attributes:
  check_mode:
    support: full
    details: Reads the CRLs and predicts the import, update or deletion without writing; see O(trust_anchor_name)
      for a trust anchor made by the same run.
  diff_mode:
    support: full
    details: The CRL's name, enabled state, trust anchor and sha256 fingerprint (not the CRL itself), before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.state,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: rolesanywhere:ListCrls, with O(trust_anchor_name) rolesanywhere:ListTrustAnchors, and as
    needed rolesanywhere:ImportCrl, rolesanywhere:UpdateCrl, rolesanywhere:EnableCrl, rolesanywhere:DisableCrl,
    rolesanywhere:DeleteCrl, rolesanywhere:ListTagsForResource, rolesanywhere:TagResource."
seealso:
  - module: hybridnodes.eks.rolesanywhere_trust_anchor
"""

EXAMPLES = r"""
- name: Import the CRL the operator's CA published
  hybridnodes.eks.rolesanywhere_crl:
    name: hybrid-example-hybrid-nodes
    crl_path: pki/hybrid-nodes-ca.crl
    trust_anchor_name: hybrid-example-hybrid-nodes
    region: us-west-2

- name: Import it from PEM text, under a trust anchor's ARN
  hybridnodes.eks.rolesanywhere_crl:
    name: hybrid-example-hybrid-nodes
    crl: "{{ lookup('ansible.builtin.file', 'pki/hybrid-nodes-ca.crl.pem') }}"
    trust_anchor_arn: "{{ anchor.trust_anchor.trust_anchor_arn }}"

- name: Remove the CRL
  hybridnodes.eks.rolesanywhere_crl:
    name: hybrid-example-hybrid-nodes
    state: absent
"""

RETURN = r"""
crl:
  description: The CRL after the run (predicted in check mode); empty when it does not exist.
  returned: always
  type: dict
  contains:
    crl_arn:
      description: ARN of the CRL.
      returned: when it exists (not predicted in check mode)
      type: str
      sample: arn:aws:rolesanywhere:us-west-2:123456789012:crl/2a1b2c3d-4e5f-6789-abcd-ef0123456789
    crl_id:
      description: ID of the CRL.
      returned: when it exists (not predicted in check mode)
      type: str
      sample: 2a1b2c3d-4e5f-6789-abcd-ef0123456789
    name:
      description: Name of the CRL.
      returned: when it exists
      type: str
      sample: hybrid-example-hybrid-nodes
    enabled:
      description: Whether it is enabled.
      returned: when it exists
      type: bool
      sample: true
    trust_anchor_arn:
      description: ARN of its trust anchor; null in check mode when the trust anchor does not exist yet.
      returned: when it exists
      type: str
      sample: arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/0a1b2c3d-4e5f-6789-abcd-ef0123456789
    crl_sha256:
      description: sha256 fingerprint of the CRL's DER bytes.
      returned: when it exists
      type: str
      sample: sha256:3f4ae7a2b1c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import rolesanywhere
from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import crl
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws.rolesanywhere import CRL, TRUST_ANCHOR


def read_crl(module):
    """The DER bytes of the wanted CRL, refused (naming the option and the fix) before any call when it is not one."""
    params = module.params
    if params["crl_path"]:
        option = "crl_path %s" % params["crl_path"]
        try:
            with open(params["crl_path"], "rb") as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            module.fail_json(msg="The CRL file of %s cannot be read (%s); set crl_path to the file, on the host the "
                                 "module runs on, of the CRL the operator's CA published."
                                 % (CRL.describe(params["name"]), getattr(exc, "strerror", None) or exc))
    else:
        option, data = "crl", params["crl"]
    label = "The option %s of %s" % (option, CRL.describe(params["name"]))
    found = crl.problems(data, label)
    if found:
        module.fail_json(msg="Refusing it, before any change: %s" % " ".join(found), problems=found)
    for warning in crl.stale_warnings(data, label):
        module.warn(warning)
    return crl.to_der(data)


def trust_anchor_arn(module, client):
    """The ARN of the wanted trust anchor; None in check mode when the named one does not exist yet."""
    params = module.params
    if params["trust_anchor_arn"]:
        return params["trust_anchor_arn"]
    anchor = rolesanywhere.find_by_name(module, client, TRUST_ANCHOR, params["trust_anchor_name"])
    if anchor:
        return anchor["trustAnchorArn"]
    if module.check_mode:
        module.warn("%s does not exist; the import of %s is predicted as if an earlier task of the run made it."
                    % (TRUST_ANCHOR.describe(params["trust_anchor_name"]), CRL.describe(params["name"])))
        return None
    return module.fail_json(msg="%s does not exist, so %s cannot be imported. Create it first "
                                "(hybridnodes.eks.rolesanywhere_trust_anchor), or set trust_anchor_arn."
                            % (TRUST_ANCHOR.describe(params["trust_anchor_name"]), CRL.describe(params["name"])))


def summary(item):
    if not item:
        return {}
    try:
        digest = crl.fingerprint(crl.to_der(item.get("crlData")))
    except ValueError:
        digest = None  # what the API holds does not parse: shown as unknown, and replaced
    result = {"name": item.get("name"), "enabled": item.get("enabled"), "trust_anchor_arn": item.get("trustAnchorArn"),
              "crl_sha256": digest}
    if item.get("crlArn"):
        result.update(crl_arn=item["crlArn"], crl_id=item["crlId"])
    return result


def ensure_present(module, client, current, der):
    params = module.params
    name = params["name"]
    anchor_arn = trust_anchor_arn(module, client)
    pem = crl.to_pem(der)
    if current is None:
        return rolesanywhere.create(module, client, CRL, name, {"crlData": pem, "trustAnchorArn": anchor_arn},
                                    params["enabled"], params["tags"], verb="import")
    if current.get("trustAnchorArn") != anchor_arn:
        # UpdateCrl takes only the name and the data: a CRL stays with the trust anchor it was imported for.
        module.fail_json(msg="%s (ID %s) belongs to trust anchor %s, not %s; IAM Roles Anywhere cannot move a CRL. "
                             "Choose another name for this CRL, or remove that one first (state=absent)."
                         % (CRL.describe(name), current["crlId"], current.get("trustAnchorArn"),
                            anchor_arn or params["trust_anchor_name"]))
    update = {} if crl.same(current.get("crlData"), der) else {"crlData": pem}
    return rolesanywhere.update_existing(module, client, CRL, current, name, update, params["enabled"], params["tags"])


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        crl=dict(type="str"),
        crl_path=dict(type="path"),
        trust_anchor_arn=dict(type="str"),
        trust_anchor_name=dict(type="str"),
        enabled=dict(type="bool", default=True),
        tags=dict(type="dict"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[["crl", "crl_path"], ["trust_anchor_arn", "trust_anchor_name"]],
                              required_if=[["state", "present", ["crl", "crl_path"], True],
                                           ["state", "present", ["trust_anchor_arn", "trust_anchor_name"], True]])
    der = read_crl(module) if module.params["state"] == "present" else None
    rolesanywhere.run(module, CRL, summary, ensure_present, der)


if __name__ == "__main__":
    main()
