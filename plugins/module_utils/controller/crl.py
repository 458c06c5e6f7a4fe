# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The certificate revocation list (CRL) of the operator's CA, as IAM Roles Anywhere takes it.

Used by the module rolesanywhere_crl (which compares CRLs and imports one) and by the filter
iam_ra_crl_problems (the aws_prerequisites role, before any AWS write), so that both refuse the
same files with the same words.

A CRL is compared on its DER bytes: the API returns ``crlData`` as the bytes it was given, PEM
(what ImportCrl asks for) or DER, with any line endings. It is sent as PEM: the ImportCrl API
reference says "In order to be properly imported, a CRL must be in PEM format".

The DER check needs no library (the PEM body is base64 of an ASN.1 SEQUENCE); when the Python
library cryptography is importable, the CRL is also parsed, and checked against the CA.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import re

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

PEM_BEGIN = b"-----BEGIN X509 CRL-----"
PEM_END = b"-----END X509 CRL-----"
PEM_BLOCK_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
FIX = ("Give the CRL the operator's CA published, PEM (-----BEGIN X509 CRL-----) or DER, one CRL per file "
       "(for example made with openssl ca -gencrl, or downloaded from the CA's CRL distribution point).")
# The ImportCrl limit of crlData (API reference, Length Constraints).
MAX_BYTES = 300000


def _as_bytes(data):
    if isinstance(data, bytes):
        return data
    return (data or "").encode("utf-8")


def to_der(data):
    """The DER bytes of one CRL given as PEM (bytes or text) or DER; raises ValueError saying what is wrong."""
    raw = _as_bytes(data)
    if not raw.strip():
        raise ValueError("is empty")
    blocks = PEM_BLOCK_RE.findall(raw)
    if blocks or raw.lstrip().startswith(b"-----BEGIN"):
        crls = [body for kind, body in blocks if kind == b"X509 CRL"]
        if not crls:
            kinds = sorted(set(kind.decode("ascii") for kind, body in blocks)) or ["an unterminated block"]
            raise ValueError("holds PEM %s, not a CRL (-----BEGIN X509 CRL-----)" % ", ".join(kinds))
        if len(crls) > 1:
            raise ValueError("holds %d CRLs; IAM Roles Anywhere imports one CRL at a time" % len(crls))
        try:
            der = base64.b64decode(b"".join(crls[0].split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("has a CRL block whose body is not base64")
    else:
        der = raw
    # DER of a CRL is an ASN.1 SEQUENCE (tag 0x30), RFC 5280 section 5.1.
    if not der or der[0:1] != b"\x30":
        raise ValueError("is neither a PEM CRL (-----BEGIN X509 CRL-----) nor a DER one")
    if HAS_CRYPTOGRAPHY:
        try:
            x509.load_der_x509_crl(der)
        except ValueError as exc:
            raise ValueError("does not parse as a CRL (%s)" % exc)
    return der


def to_pem(der):
    """PEM bytes of a DER CRL (64 base64 characters a line, RFC 7468)."""
    body = base64.b64encode(der)
    lines = [body[index:index + 64] for index in range(0, len(body), 64)]
    return b"\n".join([PEM_BEGIN] + lines + [PEM_END]) + b"\n"


def fingerprint(der):
    """sha256 of the DER bytes, as shown in diffs and results instead of the CRL itself."""
    return "sha256:" + hashlib.sha256(der).hexdigest() if der else None


def same(left, right):
    """Whether two CRLs (PEM or DER, bytes or text) are the same DER; one that does not parse differs."""
    try:
        return to_der(left) == to_der(right)
    except ValueError:
        return False


def _next_update(crl):
    value = getattr(crl, "next_update_utc", None)
    if value is None and crl.next_update is not None:
        value = crl.next_update.replace(tzinfo=datetime.timezone.utc)
    return value


def problems(data, label, ca_pem=None):
    """Every reason why ``data`` cannot be imported as the CRL of the CA ``ca_pem`` (PEM text, when given)."""
    try:
        der = to_der(data)
    except ValueError as exc:
        return ["%s %s. %s" % (label, exc, FIX)]
    found = []
    if len(to_pem(der)) > MAX_BYTES:
        found.append("%s is larger than the %d bytes ImportCrl takes (as PEM). Publish a smaller CRL (for example a "
                     "delta CRL, or fewer revoked certificates past their expiry)." % (label, MAX_BYTES))
    if ca_pem and HAS_CRYPTOGRAPHY:
        try:
            ca = x509.load_pem_x509_certificate(_as_bytes(ca_pem))
        except ValueError:
            return found  # the CA's own check names that problem
        crl = x509.load_der_x509_crl(der)
        if crl.issuer != ca.subject or not crl.is_signature_valid(ca.public_key()):
            found.append("%s is issued by %s, not signed by the trust anchor's CA %s; IAM Roles Anywhere would "
                         "revoke nothing with it. Give the CRL that CA published." % (
                             label, crl.issuer.rfc4514_string(), ca.subject.rfc4514_string()))
    return found


def stale_warnings(data, label, now=None):
    """What is allowed but unwise about a valid CRL: a nextUpdate in the past (empty when nothing)."""
    if not HAS_CRYPTOGRAPHY:
        return []
    try:
        crl = x509.load_der_x509_crl(to_der(data))
    except ValueError:
        return []
    now = now or datetime.datetime.now(datetime.timezone.utc)
    next_update = _next_update(crl)
    if next_update is not None and next_update < now:
        return ["%s is stale: its next update was due %s. Publish a new CRL from the CA and import it again."
                % (label, next_update.strftime("%Y-%m-%d %H:%M UTC"))]
    return []
