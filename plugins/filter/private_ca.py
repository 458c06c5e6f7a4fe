# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The operator's private CA of IAM Roles Anywhere, on the controller (documented in
iam_ra_ca_problems.yml, iam_ra_renewal_reasons.yml, iam_ra_csr_problems.yml,
iam_ra_ca_warnings.yml and iam_ra_crl_problems.yml). The rules are module_utils.private_ca
and module_utils.crl, which the modules rolesanywhere_trust_anchor and rolesanywhere_crl use too."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import crl, private_ca


def iam_ra_ca_problems(path, key_path=None, label="The CA certificate", bundles=None):
    """Every reason why the PEM file at path cannot be the hybrid nodes' CA; empty when it can."""
    if not private_ca.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("iam_ra_ca_problems needs the Python library cryptography on the controller")
    problems = private_ca.ca_file_problems(path, label, private_ca.default_public_bundles() if bundles is None else bundles)
    if key_path is not None:
        if not key_path:
            problems.append("The CA private key path is not set (hybrid_iam_ra_ca_private_key_path); give the PEM file, "
                            "on the controller, of the key of the CA certificate %s." % path)
        else:
            try:
                with open(key_path, "rb"):
                    pass
            except (IOError, OSError) as exc:
                problems.append("The CA private key %s cannot be read on the controller (%s); give the key of the CA "
                                "certificate %s (hybrid_iam_ra_ca_private_key_path)."
                                % (key_path, getattr(exc, "strerror", None) or exc, path))
    return problems


def iam_ra_renewal_reasons(cert_info, node_name, ca_subject=None, key_fingerprints=None, renew_days=30):
    """Why a node certificate must be issued again (empty when it is good)."""
    if cert_info is not None and not isinstance(cert_info, dict):
        raise AnsibleFilterError("iam_ra_renewal_reasons wants the result of community.crypto.x509_certificate_info")
    return private_ca.renewal_reasons(cert_info, node_name, ca_subject, key_fingerprints, renew_days)


def iam_ra_ca_warnings(path, label="The CA certificate"):
    """What is allowed but unwise about the CA certificate at path (empty when nothing)."""
    if not private_ca.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("iam_ra_ca_warnings needs the Python library cryptography on the controller")
    try:
        with open(path, "r") as handle:
            pem = handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return []
    return private_ca.ca_warnings(pem, "%s %s" % (label, path))


def iam_ra_crl_problems(path, ca_path=None, label="The CRL"):
    """Every reason why the file at path cannot be imported as the CRL of the CA at ca_path; empty when it can."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError, TypeError) as exc:
        return ["%s %s cannot be read on the controller (%s); give the file of the CRL the operator's CA published "
                "(hybrid_iam_ra_crl_path)." % (label, path, getattr(exc, "strerror", None) or exc)]
    ca_pem = None
    if ca_path:
        try:
            with open(ca_path, "rb") as handle:
                ca_pem = handle.read()
        except (IOError, OSError):
            pass  # the CA's own check names that problem
    return crl.problems(data, "%s %s" % (label, path), ca_pem)


def iam_ra_csr_problems(csr_info, node_name):
    """Why the controller must not sign a node's certificate signing request (empty when it may)."""
    if not isinstance(csr_info, dict):
        raise AnsibleFilterError("iam_ra_csr_problems wants the result of community.crypto.openssl_csr_info")
    return private_ca.csr_problems(csr_info, node_name)


class FilterModule:
    """hybridnodes.eks private CA filters."""

    def filters(self):
        return {
            "iam_ra_ca_problems": iam_ra_ca_problems,
            "iam_ra_renewal_reasons": iam_ra_renewal_reasons,
            "iam_ra_csr_problems": iam_ra_csr_problems,
            "iam_ra_ca_warnings": iam_ra_ca_warnings,
            "iam_ra_crl_problems": iam_ra_crl_problems,
        }
