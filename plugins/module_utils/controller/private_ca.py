# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The operator's private CA of IAM Roles Anywhere: the checks every user of it shares.

A public CA (one of a public trust store, or issued by one) can never be the trust anchor of
hybrid nodes, nor issue their certificates: anyone could get a certificate from it. Used by the
module rolesanywhere_trust_anchor and by the filters of plugins/filter/private_ca.py (the nodeadm
role's iam-ra certificates), so that both refuse the same certificates with the same words.

Also the renewal plan of a node certificate, from community.crypto.x509_certificate_info's result.
Needs the Python library cryptography (checked by the callers).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import warnings

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

# The system trust stores (Debian/Ubuntu, RHEL); certifi's bundle is added when importable.
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_END = "-----END CERTIFICATE-----"
FIX = ("Use a private CA for the hybrid nodes: AWS Private CA, or your own (for example made with "
       "community.crypto.openssl_privatekey and community.crypto.x509_certificate, provider selfsigned).")


def default_public_bundles():
    """Every public trust store on this machine: the system bundles that exist, and certifi's when importable."""
    paths = [path for path in SYSTEM_BUNDLES if os.path.exists(path)]
    try:
        import certifi  # pylint: disable=import-outside-toplevel
        where = certifi.where()
        if where and os.path.exists(where) and where not in paths:
            paths.append(where)
    except ImportError:
        pass
    return paths


def load_pems(text):
    """Every certificate of a PEM text (blocks that do not parse are skipped)."""
    certs = []
    for block in (text or "").split(PEM_END):
        if PEM_BEGIN in block:
            body = block[block.index(PEM_BEGIN):].strip()
            try:
                with warnings.catch_warnings():
                    # Some public roots have a negative serial number, which cryptography warns about.
                    warnings.simplefilter("ignore")
                    certs.append(x509.load_pem_x509_certificate((body + "\n" + PEM_END + "\n").encode()))
            except ValueError:
                continue
    return certs


def _spki(cert):
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_store_of(cert, bundles):
    """The first public bundle that holds the certificate's key or its issuer; None when none does."""
    own_key = _spki(cert)
    for path in bundles or []:
        try:
            with open(path, "r") as handle:
                public = load_pems(handle.read())
        except (IOError, OSError, UnicodeDecodeError):
            continue
        if any(_spki(item) == own_key for item in public) or any(item.subject == cert.issuer for item in public):
            return path
    return None


def ca_problems(pem, label, bundles, now=None):
    """Why the PEM cannot be the hybrid nodes' CA (empty when it can).

    label names where the PEM comes from (a file, a module option) in every message; bundles are
    the public trust stores to look in (default_public_bundles() on the caller's machine).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certs = load_pems(pem)
    if len(certs) != 1:
        return ["%s must hold exactly one PEM certificate (the operator's CA); found %d. %s" % (label, len(certs), FIX)]
    cert = certs[0]
    subject = cert.subject.rfc4514_string()
    problems = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        problems.append("%s (%s) is not a CA (basicConstraints CA:TRUE); give the certificate of the CA that issues "
                        "the node certificates." % (label, subject))
    if cert.not_valid_after_utc <= now:
        problems.append("%s (%s) expired on %s; renew the CA." % (label, subject, cert.not_valid_after_utc.isoformat()))
    store = public_store_of(cert, bundles)
    if store:
        problems.append("%s (%s) is a public CA (found in %s); a public CA cannot be the trust anchor of hybrid nodes "
                        "nor issue their certificates. %s" % (label, subject, store, FIX))
    return problems


def ca_file_problems(path, label, bundles, now=None):
    """ca_problems() of a PEM file; a missing or unreadable file is a problem too."""
    if not path:
        return ["%s is not set; give the PEM file of the operator's private CA on the controller." % label]
    try:
        with open(path, "r") as handle:
            pem = handle.read()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        return ["%s %s cannot be read on the controller (%s); give the PEM file of the operator's private CA."
                % (label, path, getattr(exc, "strerror", None) or exc)]
    return ca_problems(pem, "%s %s" % (label, path), bundles, now)


def _fingerprint(fingerprints):
    fingerprints = fingerprints or {}
    return (fingerprints.get("sha256") or "").lower() or None


def renewal_reasons(cert_info, node_name, ca_subject, key_fingerprints, renew_days):
    """Why a node certificate must be issued again; empty when it is good.

    cert_info is community.crypto.x509_certificate_info's result for the host's certificate with
    valid_at.renew at "+<renew_days>d" (None or {} when the host has no certificate); ca_subject the
    CA's subject_ordered; key_fingerprints the host key's public key fingerprints (openssl_privatekey).
    """
    if not cert_info:
        return ["no certificate yet"]
    reasons = []
    subject = dict((key, value) for key, value in (cert_info.get("subject_ordered") or []))
    if subject.get("commonName") != node_name:
        reasons.append("its CN is %r, not the node name %r" % (subject.get("commonName"), node_name))
    if ca_subject is not None and [list(item) for item in cert_info.get("issuer_ordered") or []] != \
            [list(item) for item in ca_subject]:
        reasons.append("it was not issued by the CA %s" % ", ".join("%s=%s" % tuple(item) for item in ca_subject))
    have, want = _fingerprint(cert_info.get("public_key_fingerprints")), _fingerprint(key_fingerprints)
    if want and have != want:
        reasons.append("it is not the certificate of the host's private key")
    if not (cert_info.get("valid_at") or {}).get("renew", False):
        reasons.append("it expires on %s, within %s days" % (cert_info.get("not_after"), renew_days))
    return reasons


# What the controller signs for a node (roles/nodeadm/tasks/iam_ra_certificates.yml requests exactly this): the key
# usages and extended key usages in community.crypto's (cryptography's) names and in OpenSSL's short ones.
CSR_KEY_USAGES = ({"Digital Signature", "digitalSignature"})
CSR_EXTENDED_KEY_USAGES = ({"TLS Web Client Authentication", "clientAuth"})
CSR_KEY = ("ECC", "secp256r1")


def csr_problems(csr_info, node_name, key_type=CSR_KEY):
    """Why the controller must not sign this certificate signing request for node_name; empty when it may (pure).

    csr_info is community.crypto.openssl_csr_info's result. A host holds its own key and makes its own request, so a
    compromised host could ask for another node's name (the IAM Roles Anywhere session name is the certificate's CN),
    for a CA certificate, or for other uses: the request must be exactly what the role asks the host for.
    """
    problems = []
    subject = [list(item) for item in csr_info.get("subject_ordered") or []]
    if subject != [["commonName", node_name]]:
        problems.append("its subject is %s, not exactly CN=%s" % (
            ", ".join("%s=%s" % tuple(item) for item in subject) or "empty", node_name))
    if csr_info.get("subject_alt_name"):
        problems.append("it asks for subject alternative names (%s)" % ", ".join(csr_info["subject_alt_name"]))
    constraints = [str(item) for item in csr_info.get("basic_constraints") or []]
    if constraints != ["CA:FALSE"]:
        problems.append("its basic constraints are %s, not CA:FALSE" % (", ".join(constraints) or "absent"))
    usages = set(csr_info.get("key_usage") or [])
    if not usages or not usages <= CSR_KEY_USAGES:
        problems.append("its key usage is %s, not digitalSignature alone" % (", ".join(sorted(usages)) or "absent"))
    extended = set(csr_info.get("extended_key_usage") or [])
    if not extended or not extended <= CSR_EXTENDED_KEY_USAGES:
        problems.append("its extended key usage is %s, not clientAuth alone" % (", ".join(sorted(extended)) or "absent"))
    kind, curve = key_type
    have_curve = (csr_info.get("public_key_data") or {}).get("curve")
    if csr_info.get("public_key_type") != kind or have_curve != curve:
        problems.append("its key is %s %s, not %s %s" % (csr_info.get("public_key_type"), have_curve or "", kind, curve))
    if csr_info.get("signature_valid") is False:
        problems.append("its signature does not verify")
    return problems


def ca_warnings(pem, label):
    """What is allowed but unwise about the CA (a list of sentences): no path length constraint, so that a CA it
    signs could issue node certificates too (pure; an unreadable PEM gives no warning, ca_problems refuses it)."""
    warnings = []
    for cert in load_pems(pem)[:1]:
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        if constraints.ca and constraints.path_length is None:
            warnings.append("%s (%s) has no path length constraint: a CA it signs could issue hybrid node certificates "
                            "too. Prefer a CA with pathlen:0 for the hybrid nodes." % (label, cert.subject.rfc4514_string()))
    return warnings
