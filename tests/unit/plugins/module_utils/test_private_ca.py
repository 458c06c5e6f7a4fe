# -*- coding: utf-8 -*-
"""module_utils.private_ca: the public-CA refusal shared by rolesanywhere_trust_anchor and the nodeadm role,
and the renewal plan of a node certificate."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import private_ca

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PUBLIC_ROOT = "/etc/ssl/certs/ISRG_Root_X1.pem"


def make_ca(ca=True, days=365, issuer_key=None, issuer_name=None, constraints=True):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "private CA %s" % x509.random_serial_number())])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=400))
               .not_valid_after(now + datetime.timedelta(days=days)))
    if constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key, name


@pytest.fixture
def bundle(tmp_path):
    """A stand-in public trust store of one root (real stores are tested below)."""
    pem, key, name = make_ca()
    path = tmp_path / "public.pem"
    path.write_text("# a comment line\n" + pem)
    return str(path), pem, key, name


def test_a_private_ca_has_no_problem(bundle):
    assert private_ca.ca_problems(make_ca()[0], "The CA", [bundle[0]]) == []


def test_the_public_root_and_what_it_issued_are_refused_naming_the_store_and_the_fix(bundle):
    path, pem, key, name = bundle
    for candidate in (pem, make_ca(issuer_key=key, issuer_name=name)[0]):
        problems = private_ca.ca_problems(candidate, "The CA certificate /x/ca.pem", [str(path) + ".missing", path])
        assert len(problems) == 1
        assert "The CA certificate /x/ca.pem" in problems[0] and "is a public CA (found in %s)" % path in problems[0]
        assert "AWS Private CA" in problems[0]


@pytest.mark.skipif(not os.path.exists(PUBLIC_ROOT), reason="needs the system's public trust store")
def test_a_real_public_root_is_refused_by_the_system_trust_store():
    with open(PUBLIC_ROOT) as handle:
        root = handle.read()
    assert SYSTEM_BUNDLE in private_ca.default_public_bundles()
    problems = private_ca.ca_problems(root, "The CA certificate %s" % PUBLIC_ROOT, private_ca.default_public_bundles())
    assert len(problems) == 1 and "is a public CA (found in %s)" % SYSTEM_BUNDLE in problems[0]


def test_certifi_is_a_public_store_when_importable():
    certifi = pytest.importorskip("certifi")
    assert certifi.where() in private_ca.default_public_bundles()


def test_a_leaf_an_expired_and_a_constraintless_certificate_are_refused_all_at_once(bundle):
    problems = private_ca.ca_problems(make_ca(ca=False, days=-1)[0], "The CA", [bundle[0]])
    assert len(problems) == 2 and "not a CA" in problems[0] and "expired" in problems[1]
    problems = private_ca.ca_problems(make_ca(constraints=False)[0], "The CA", [bundle[0]])
    assert len(problems) == 1 and "basicConstraints CA:TRUE" in problems[0]


def test_not_exactly_one_certificate_is_refused(bundle):
    pem = make_ca()[0]
    assert "found 2" in private_ca.ca_problems(pem + pem, "The CA", [])[0]
    assert "found 0" in private_ca.ca_problems("not a PEM", "The CA", [])[0]


def test_a_missing_file_or_path_is_a_problem_naming_it(tmp_path):
    missing = str(tmp_path / "nope.pem")
    assert missing in private_ca.ca_file_problems(missing, "The CA certificate", [])[0]
    assert "is not set" in private_ca.ca_file_problems("", "The CA certificate", [])[0]


GOOD = {"subject_ordered": [["commonName", "edge01"]], "issuer_ordered": [["commonName", "lab CA"]],
        "public_key_fingerprints": {"sha256": "aa:bb"}, "valid_at": {"renew": True}, "not_after": "20270101000000Z"}


def test_a_good_certificate_is_left_alone():
    assert private_ca.renewal_reasons(GOOD, "edge01", [["commonName", "lab CA"]], {"sha256": "AA:BB"}, 30) == []
    assert private_ca.renewal_reasons(GOOD, "edge01", None, None, 30) == []


@pytest.mark.parametrize("change, node, reason", [
    ({"valid_at": {"renew": False}}, "edge01", "expires on 20270101000000Z, within 30 days"),
    ({"subject_ordered": [["commonName", "edge09"]]}, "edge01", "not the node name 'edge01'"),
    ({"issuer_ordered": [["commonName", "other CA"]]}, "edge01", "not issued by the CA commonName=lab CA"),
    ({"public_key_fingerprints": {"sha256": "cc:dd"}}, "edge01", "not the certificate of the host's private key"),
])
def test_renewal_reasons(change, node, reason):
    reasons = private_ca.renewal_reasons(dict(GOOD, **change), node, [["commonName", "lab CA"]], {"sha256": "aa:bb"}, 30)
    assert len(reasons) == 1 and reason in reasons[0]


def test_no_certificate_is_issued():
    assert private_ca.renewal_reasons({}, "edge01", None, None, 30) == ["no certificate yet"]
    assert private_ca.renewal_reasons(None, "edge01", None, None, 30) == ["no certificate yet"]


# ------------------------------------------------------------------ node CSRs
def _csr_info(subject_cn="edge-01", sans=None, ca=False, usage="digital_signature", eku=True, key=None, extra_rdn=None):
    """community.crypto.openssl_csr_info's result for a request built here (its own code reads it: the real contract)."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from ansible_collections.community.crypto.plugins.module_utils._crypto.module_backends.csr_info import get_csr_info

    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)] + (extra_rdn or [])
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    usages = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                  key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
    usages[usage] = True
    builder = builder.add_extension(x509.KeyUsage(**usages), critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    class Module:
        params = {}

        def fail_json(self, **kwargs):
            raise AssertionError(kwargs)

    return get_csr_info(module=Module(), content=pem)


def test_the_request_the_role_asks_for_may_be_signed():
    assert private_ca.csr_problems(_csr_info(), "edge-01") == []


@pytest.mark.parametrize("info, fragment", [
    (lambda: _csr_info(subject_cn="edge-02"), "not exactly CN=edge-01"),
    (lambda: _csr_info(extra_rdn=[x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")]), "not exactly CN=edge-01"),
    (lambda: _csr_info(sans=["edge-02"]), "subject alternative names"),
    (lambda: _csr_info(ca=True), "not CA:FALSE"),
    (lambda: _csr_info(usage="key_cert_sign"), "not digitalSignature alone"),
    (lambda: _csr_info(eku=False), "not clientAuth alone"),
    (lambda: _csr_info(key=ec.generate_private_key(ec.SECP384R1())), "not ECC secp256r1"),
])
def test_a_request_other_than_the_node_s_is_refused(info, fragment):
    problems = private_ca.csr_problems(info(), "edge-01")
    assert any(fragment in problem for problem in problems), problems


def test_every_problem_of_a_request_at_once():
    problems = private_ca.csr_problems(_csr_info(subject_cn="edge-09", sans=["a"], ca=True), "edge-01")
    assert len(problems) == 3, problems


def _ca_pem(path_length):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "site CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_ca_without_path_length_constraint_is_warned_about():
    (warning,) = private_ca.ca_warnings(_ca_pem(None), "The CA certificate ca.pem")
    assert "ca.pem (CN=site CA) has no path length constraint" in warning
    assert private_ca.ca_warnings(_ca_pem(0), "The CA certificate ca.pem") == []
