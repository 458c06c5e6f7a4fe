#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rolesanywhere_trust_anchor
short_description: Manage the IAM Roles Anywhere trust anchor of EKS hybrid nodes
version_added: 0.1.0
description:
  - Creates, updates or deletes an IAM Roles Anywhere trust anchor, found by its O(name).
  - With IAM Roles Anywhere, hybrid nodes authenticate with an X.509 certificate issued by the operator's own
    certificate authority; the trust anchor holds that CA (O(certificate)) or points at an AWS Private CA
    (O(acm_pca_arn)).
  - A public CA cannot be a trust anchor for hybrid nodes (anyone could get a certificate from it). The module
    refuses, before any call, a certificate that is not a CA, that has expired, or that is (or is issued by)
    a CA of the controller's public trust store (O(public_ca_bundle)).
  - Reads the trust anchors once and writes only what differs; a re-run makes no write.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  name:
    description:
      - Name of the trust anchor.
    type: str
    required: true
  certificate:
    description:
      - PEM of the operator's CA certificate (source C(CERTIFICATE_BUNDLE)).
      - Exactly one of O(certificate) and O(acm_pca_arn) is needed when O(state=present).
    type: str
  acm_pca_arn:
    description:
      - ARN of an AWS Private CA (source C(AWS_ACM_PCA)).
    type: str
  enabled:
    description:
      - Whether the trust anchor is enabled.
    type: bool
    default: true
  tags:
    description:
      - Tags of the trust anchor. Tags not listed are left alone.
    type: dict
  public_ca_bundle:
    description:
      - PEM bundle of public CAs that O(certificate) must not be or be issued by.
      - When omitted, every one that exists of C(/etc/ssl/certs/ca-certificates.crt),
        C(/etc/pki/tls/certs/ca-bundle.crt) and the bundle of the Python package certifi.
    type: path
  state:
    description:
      - Whether the trust anchor should exist.
attributes:
  check_mode:
    support: full
    details: Checks the CA and predicts the creation, update or deletion of the trust anchor without writing.
  diff_mode:
    support: full
    details: The trust anchor's name, enabled state and source type, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.state,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
requirements:
  - cryptography
notes:
  - "IAM permissions: rolesanywhere:ListTrustAnchors, and as needed rolesanywhere:CreateTrustAnchor,
    rolesanywhere:UpdateTrustAnchor, rolesanywhere:EnableTrustAnchor, rolesanywhere:DisableTrustAnchor,
    rolesanywhere:DeleteTrustAnchor, rolesanywhere:ListTagsForResource, rolesanywhere:TagResource."
"""

EXAMPLES = r"""
- name: Trust the operator's CA for the hybrid nodes
  hybridnodes.eks.rolesanywhere_trust_anchor:
    name: hybrid-example-hybrid-nodes
    certificate: "{{ lookup('ansible.builtin.file', 'pki/hybrid-nodes-ca.pem') }}"
    region: us-west-2
  register: anchor

- name: Remove the trust anchor
  hybridnodes.eks.rolesanywhere_trust_anchor:
    name: hybrid-example-hybrid-nodes
    state: absent
"""

RETURN = r"""
trust_anchor:
  description: The trust anchor after the run (predicted in check mode); empty when it does not exist.
  returned: always
  type: dict
  contains:
    trust_anchor_arn:
      description: ARN of the trust anchor (the C(aws:SourceArn) of the role's trust policy).
      returned: when it exists
      type: str
      sample: arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/0a1b2c3d-4e5f-6789-abcd-ef0123456789
    trust_anchor_id:
      description: ID of the trust anchor.
      returned: when it exists
      type: str
      sample: 0a1b2c3d-4e5f-6789-abcd-ef0123456789
    name:
      description: Name of the trust anchor.
      returned: when it exists
      type: str
      sample: hybrid-example-hybrid-nodes
    enabled:
      description: Whether it is enabled.
      returned: when it exists
      type: bool
      sample: true
    source_type:
      description: C(CERTIFICATE_BUNDLE) or C(AWS_ACM_PCA).
      returned: when it exists
      type: str
      sample: CERTIFICATE_BUNDLE
"""

import datetime

try:
    from cryptography.hazmat.primitives import serialization
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import rolesanywhere
from ansible_collections.hybridnodes.eks.plugins.module_utils.controller.private_ca import ca_problems, default_public_bundles, load_pems
from ansible_collections.hybridnodes.eks.plugins.module_utils.aws.rolesanywhere import TRUST_ANCHOR


def same_certificate(left, right):
    if left is None or right is None:
        return left == right
    left_certs, right_certs = load_pems(left), load_pems(right)
    if left_certs and right_certs:
        return [c.public_bytes(serialization.Encoding.DER) for c in left_certs] == \
            [c.public_bytes(serialization.Encoding.DER) for c in right_certs]
    return left.strip() == right.strip()


def wanted_source(params):
    if params["certificate"]:
        return {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": params["certificate"]}}
    return {"sourceType": "AWS_ACM_PCA", "sourceData": {"acmPcaArn": params["acm_pca_arn"]}}


def same_source(current, wanted):
    if current.get("sourceType") != wanted["sourceType"]:
        return False
    data = current.get("sourceData") or {}
    if wanted["sourceType"] == "CERTIFICATE_BUNDLE":
        return same_certificate(data.get("x509CertificateData"), wanted["sourceData"]["x509CertificateData"])
    return data.get("acmPcaArn") == wanted["sourceData"]["acmPcaArn"]


def summary(anchor):
    if not anchor:
        return {}
    result = {"name": anchor.get("name"), "enabled": anchor.get("enabled"),
              "source_type": (anchor.get("source") or {}).get("sourceType")}
    if anchor.get("trustAnchorArn"):
        result.update(trust_anchor_arn=anchor["trustAnchorArn"], trust_anchor_id=anchor["trustAnchorId"])
    return result


def ensure_present(module, client, current):
    params = module.params
    name = params["name"]
    source = wanted_source(params)
    tags = dict(params["tags"] or {})
    if current is None:
        return rolesanywhere.create(module, client, TRUST_ANCHOR, name, {"source": source}, params["enabled"], tags)
    update = {} if same_source(current.get("source") or {}, source) else {"source": source}
    return rolesanywhere.update_existing(module, client, TRUST_ANCHOR, current, name, update, params["enabled"], tags)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        certificate=dict(type="str"),
        acm_pca_arn=dict(type="str"),
        enabled=dict(type="bool", default=True),
        tags=dict(type="dict"),
        public_ca_bundle=dict(type="path"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[["certificate", "acm_pca_arn"]],
                              required_if=[["state", "present", ["certificate", "acm_pca_arn"], True]])
    params = module.params
    if params["state"] == "present" and params["certificate"]:
        if not HAS_CRYPTOGRAPHY:
            module.fail_json(msg=missing_required_lib("cryptography"))
        bundles = [params["public_ca_bundle"]] if params["public_ca_bundle"] else default_public_bundles()
        problems = ca_problems(params["certificate"], "The certificate of trust anchor %s" % params["name"], bundles,
                               datetime.datetime.now(datetime.timezone.utc))
        if problems:
            module.fail_json(msg="Refusing it, before any change: %s" % " ".join(problems),
                             problems=problems)

    rolesanywhere.run(module, TRUST_ANCHOR, summary, ensure_present)


if __name__ == "__main__":
    main()
