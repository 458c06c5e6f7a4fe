# -*- coding: utf-8 -*-
"""module_utils.crl: the CRL checks and comparison shared by rolesanywhere_crl and the filter iam_ra_crl_problems."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import crl

NOW = datetime.datetime.now(datetime.timezone.utc)


def make_ca(common_name="lab CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return key, name, cert.public_bytes(serialization.Encoding.PEM)


def make_crl(key, name, days=7):
    made = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(NOW - datetime.timedelta(days=10))
            .next_update(NOW + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return made.public_bytes(serialization.Encoding.PEM), made.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def ca():
    key, name, pem = make_ca()
    return key, name, pem, make_crl(key, name)


def test_pem_and_der_give_the_same_der_and_pem_round_trips(ca):
    pem, der = ca[3]
    assert crl.to_der(pem) == der and crl.to_der(pem.decode()) == der and crl.to_der(der) == der
    assert crl.to_der(crl.to_pem(der)) == der
    assert crl.to_pem(der).startswith(b"-----BEGIN X509 CRL-----\n")
    assert all(len(line) <= 64 for line in crl.to_pem(der).splitlines())


def test_same_ignores_the_form_and_line_endings_but_not_the_content(ca):
    pem, der = ca[3]
    assert crl.same(pem.replace(b"\n", b"\r\n"), der)
    other = make_crl(ca[0], ca[1], days=8)[1]
    assert not crl.same(der, other)
    assert not crl.same(b"garbage", der)


def test_fingerprint_is_the_sha256_of_the_der(ca):
    der = ca[3][1]
    assert crl.fingerprint(der).startswith("sha256:") and len(crl.fingerprint(der)) == len("sha256:") + 64
    assert crl.fingerprint(None) is None


def test_crl_of_the_ca_has_no_problem(ca):
    assert crl.problems(ca[3][1], "The CRL x", ca[2]) == []


def test_crl_of_another_ca_is_named(ca):
    key, name, _pem = make_ca("other CA")
    found = crl.problems(make_crl(key, name)[0], "The CRL x", ca[2])
    assert len(found) == 1 and "is issued by CN=other CA, not signed by the trust anchor's CA CN=lab CA" in found[0]


def test_crl_with_the_ca_name_but_another_key_is_named(ca):
    forged = make_crl(ec.generate_private_key(ec.SECP256R1()), ca[1])[0]
    assert "not signed by the trust anchor's CA" in crl.problems(forged, "The CRL x", ca[2])[0]


def test_oversized_crl_is_named(ca, monkeypatch):
    monkeypatch.setattr(crl, "MAX_BYTES", 10)
    assert "larger than the 10 bytes ImportCrl takes" in crl.problems(ca[3][0], "The CRL x")[0]


@pytest.mark.parametrize("data, expected", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    (b"-----BEGIN X509 CRL-----\nMIIB", "holds PEM an unterminated block, not a CRL"),
    (b"\x02\x01\x01", "is neither a PEM CRL"),
])
def test_bad_data_is_named_with_the_fix(data, expected):
    found = crl.problems(data, "The CRL x")
    assert len(found) == 1 and found[0].startswith("The CRL x " + expected) and crl.FIX in found[0]


def test_stale_crl_warns_and_a_fresh_one_does_not(ca):
    key, name = ca[0], ca[1]
    assert crl.stale_warnings(make_crl(key, name, days=-2)[0], "The CRL x")[0].startswith("The CRL x is stale")
    assert crl.stale_warnings(ca[3][0], "The CRL x") == []
    assert crl.stale_warnings(b"garbage", "The CRL x") == []
