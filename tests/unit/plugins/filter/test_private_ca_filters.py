# -*- coding: utf-8 -*-
"""The private CA filters as the nodeadm role calls them (the rules are tested in module_utils/test_private_ca.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridnodes.eks.plugins.filter.private_ca import FilterModule

FILTERS = FilterModule().filters()
PUBLIC_ROOT = "/etc/ssl/certs/ISRG_Root_X1.pem"


def write_ca(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    (tmp_path / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return str(tmp_path / "ca.pem"), str(tmp_path / "ca.key")


def test_filters_are_registered():
    assert set(FILTERS) == {"iam_ra_ca_problems", "iam_ra_renewal_reasons", "iam_ra_csr_problems", "iam_ra_ca_warnings",
                            "iam_ra_crl_problems"}


def test_a_private_ca_with_a_readable_key_passes(tmp_path):
    cert, key = write_ca(tmp_path)
    assert FILTERS["iam_ra_ca_problems"](cert, key_path=key) == []


@pytest.mark.skipif(not os.path.exists(PUBLIC_ROOT), reason="needs the system's public trust store")
def test_a_public_root_and_a_missing_key_are_reported_together():
    problems = FILTERS["iam_ra_ca_problems"](PUBLIC_ROOT, key_path="/nonexistent/ca.key", label="The CA certificate")
    assert len(problems) == 2
    assert problems[0].startswith("The CA certificate %s" % PUBLIC_ROOT) and "is a public CA" in problems[0]
    assert "/nonexistent/ca.key cannot be read" in problems[1]
    assert "is not set" in FILTERS["iam_ra_ca_problems"](PUBLIC_ROOT, key_path="")[1]


def test_renewal_reasons_refuse_a_non_dict():
    with pytest.raises(AnsibleFilterError):
        FILTERS["iam_ra_renewal_reasons"]("text", "edge01")
    assert FILTERS["iam_ra_renewal_reasons"](None, "edge01") == ["no certificate yet"]


def write_crl(tmp_path, ca_key_path, name="ca.crl"):
    with open(ca_key_path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    made = (x509.CertificateRevocationListBuilder().issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab CA")]))
            .last_update(now).next_update(now + datetime.timedelta(days=7)).sign(key, hashes.SHA256()))
    (tmp_path / name).write_bytes(made.public_bytes(serialization.Encoding.DER))
    return str(tmp_path / name)


def test_crl_of_the_ca_passes_and_a_certificate_is_refused(tmp_path):
    ca, key = write_ca(tmp_path)
    assert FILTERS["iam_ra_crl_problems"](write_crl(tmp_path, key), ca_path=ca) == []
    problems = FILTERS["iam_ra_crl_problems"](ca, ca_path=ca)
    assert len(problems) == 1 and problems[0].startswith("The CRL %s holds PEM CERTIFICATE, not a CRL" % ca)


def test_missing_crl_file_is_named(tmp_path):
    problems = FILTERS["iam_ra_crl_problems"](str(tmp_path / "missing.crl"))
    assert len(problems) == 1 and "cannot be read on the controller" in problems[0]
    assert "hybrid_iam_ra_crl_path" in problems[0]
