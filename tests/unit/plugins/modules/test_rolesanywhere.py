# -*- coding: utf-8 -*-
"""rolesanywhere_trust_anchor and rolesanywhere_profile through their main(), against botocore's Stubber."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridnodes.eks.plugins.modules import rolesanywhere_profile, rolesanywhere_trust_anchor

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
ANCHOR_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ANCHOR_ARN = "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/" + ANCHOR_ID
PROFILE_ID = "1a1b2c3d-4e5f-6789-abcd-ef0123456789"
ROLE_ARN = "arn:aws:iam::123456789012:role/hybrid-lab-hybrid-nodes"


# The attempts of amazon.aws' retry decorator in these tests (see conftest.py).
STUB_RETRIES = 3


def run(capsys, module, check_mode=False, diff=False, **options):
    args = dict(ARGS, **options)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def certificate(ca=True, days=365, issuer_key=None, issuer_name=None):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA %s" % x509.random_serial_number())])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=400))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key or key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key, name


@pytest.fixture
def public_bundle(tmp_path):
    pem, key, name = certificate()
    path = tmp_path / "public.pem"
    path.write_text(pem)
    return str(path), pem, key, name


def anchor(pem, enabled=True):
    return {"trustAnchorId": ANCHOR_ID, "trustAnchorArn": ANCHOR_ARN, "name": "nodes", "enabled": enabled,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pem}},
            "createdAt": NOW, "updatedAt": NOW}


def test_trust_anchor_is_created_then_left_alone(stubs, capsys, public_bundle):
    pem = certificate()[0]
    source = {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pem}}
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": []}, {})
    stubs.add("rolesanywhere", "create_trust_anchor", {"trustAnchor": anchor(pem)},
              {"name": "nodes", "source": source, "enabled": True})
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=pem, public_ca_bundle=public_bundle[0])
    assert result["changed"] is True and result["trust_anchor"]["trust_anchor_arn"] == ANCHOR_ARN
    stubs.verify()


def test_existing_trust_anchor_with_the_same_ca_on_a_later_page_makes_no_write(stubs, capsys, public_bundle):
    pem = certificate()[0]
    other = dict(anchor(pem), name="other", trustAnchorId="9" * 36)
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": [other], "nextToken": "t1"}, {})
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": [anchor(pem.replace("\n", "\r\n"))]},
              {"nextToken": "t1"})
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=pem, public_ca_bundle=public_bundle[0])
    assert result["changed"] is False
    stubs.verify()


def test_disabled_trust_anchor_is_enabled(stubs, capsys, public_bundle):
    pem = certificate()[0]
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": [anchor(pem, enabled=False)]}, {})
    stubs.add("rolesanywhere", "enable_trust_anchor", {"trustAnchor": anchor(pem)}, {"trustAnchorId": ANCHOR_ID})
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=pem, public_ca_bundle=public_bundle[0],
                 diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["enabled"] is False and result["diff"]["after"]["enabled"] is True
    stubs.verify()


def test_public_ca_and_its_intermediates_are_refused_before_any_call(stubs, capsys, public_bundle):
    path, pem, key, name = public_bundle
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=pem, public_ca_bundle=path)
    assert result["failed"] is True and "is a public CA" in result["msg"]
    intermediate = certificate(issuer_key=key, issuer_name=name)[0]
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=intermediate, public_ca_bundle=path)
    assert result["failed"] is True and "is a public CA" in result["msg"]
    stubs.verify()


def test_leaf_and_expired_certificates_are_refused_all_at_once(stubs, capsys, public_bundle):
    pem = certificate(ca=False, days=-1)[0]
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=pem, public_ca_bundle=public_bundle[0])
    assert result["failed"] is True
    assert len(result["problems"]) == 2 and "not a CA" in result["msg"] and "expired" in result["msg"]
    stubs.verify()


def test_trust_anchor_throttling_is_retried_and_access_denied_named(stubs, capsys, public_bundle):
    pem = certificate()[0]
    stubs.error("rolesanywhere", "list_trust_anchors", "ThrottlingException", {})
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": []}, {})
    stubs.error("rolesanywhere", "create_trust_anchor", "AccessDeniedException", None, status=403)
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=pem, public_ca_bundle=public_bundle[0])
    assert result["failed"] is True and "rolesanywhere:CreateTrustAnchor" in result["msg"]
    stubs.verify()


def test_trust_anchor_absent_deletes_it(stubs, capsys):
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": [anchor("x")]}, {})
    stubs.add("rolesanywhere", "delete_trust_anchor", {"trustAnchor": anchor("x")}, {"trustAnchorId": ANCHOR_ID})
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", state="absent")
    assert result["changed"] is True and result["trust_anchor"] == {}
    stubs.verify()


def profile(duration=3600, accept=True, enabled=True):
    return {"profileId": PROFILE_ID, "profileArn": "arn:aws:rolesanywhere:us-west-2:123456789012:profile/" + PROFILE_ID,
            "name": "nodes", "roleArns": [ROLE_ARN], "durationSeconds": duration, "acceptRoleSessionName": accept,
            "enabled": enabled, "createdAt": NOW, "updatedAt": NOW}


def role(max_session=3600):
    return {"Role": {"Path": "/", "RoleName": "hybrid-lab-hybrid-nodes", "RoleId": "AROAEXAMPLEEXAMPLE01",
                     "Arn": ROLE_ARN, "CreateDate": NOW, "MaxSessionDuration": max_session}}


def test_profile_is_created_with_session_name_accepted(stubs, capsys):
    stubs.add("rolesanywhere", "list_profiles", {"profiles": []}, {})
    stubs.add("iam", "get_role", role(), {"RoleName": "hybrid-lab-hybrid-nodes"})
    stubs.add("rolesanywhere", "create_profile", {"profile": profile()},
              {"name": "nodes", "roleArns": [ROLE_ARN], "durationSeconds": 3600, "acceptRoleSessionName": True,
               "enabled": True})
    result = run(capsys, rolesanywhere_profile, name="nodes", role_arns=[ROLE_ARN])
    assert result["changed"] is True and result["profile"]["accept_role_session_name"] is True
    stubs.verify()


def test_matching_profile_makes_no_write(stubs, capsys):
    stubs.add("rolesanywhere", "list_profiles", {"profiles": [profile()]}, {})
    stubs.add("iam", "get_role", role(), {"RoleName": "hybrid-lab-hybrid-nodes"})
    result = run(capsys, rolesanywhere_profile, name="nodes", role_arns=[ROLE_ARN])
    assert result["changed"] is False
    stubs.verify()


def test_profile_without_session_name_is_updated(stubs, capsys):
    stubs.add("rolesanywhere", "list_profiles", {"profiles": [profile(accept=False)]}, {})
    stubs.add("iam", "get_role", role(), {"RoleName": "hybrid-lab-hybrid-nodes"})
    stubs.add("rolesanywhere", "update_profile", {"profile": profile()},
              {"profileId": PROFILE_ID, "acceptRoleSessionName": True})
    result = run(capsys, rolesanywhere_profile, name="nodes", role_arns=[ROLE_ARN], diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["accept_role_session_name"] is False
    stubs.verify()


def test_session_longer_than_the_roles_maximum_is_refused_before_any_write(stubs, capsys):
    stubs.add("rolesanywhere", "list_profiles", {"profiles": []}, {})
    stubs.add("iam", "get_role", role(3600), {"RoleName": "hybrid-lab-hybrid-nodes"})
    result = run(capsys, rolesanywhere_profile, name="nodes", role_arns=[ROLE_ARN], duration_seconds=7200)
    assert result["failed"] is True
    assert "exceeds the maximum session duration of role hybrid-lab-hybrid-nodes (3600 s)" in result["msg"]
    stubs.verify()


def test_profile_options_are_checked_all_at_once(stubs, capsys):
    result = run(capsys, rolesanywhere_profile, name="nodes", role_arns=["arn:aws:iam::1:user/x"],
                 duration_seconds=60, accept_role_session_name=False)
    assert result["failed"] is True and len(result["problems"]) == 3
    stubs.verify()


@pytest.mark.skipif(not os.path.exists("/etc/ssl/certs/ISRG_Root_X1.pem"), reason="needs the system's public trust store")
def test_a_real_public_root_is_refused_by_the_default_trust_stores(stubs, capsys):
    with open("/etc/ssl/certs/ISRG_Root_X1.pem") as handle:
        root = handle.read()
    result = run(capsys, rolesanywhere_trust_anchor, name="nodes", certificate=root)
    assert result["failed"] is True and result["msg"].startswith("Refusing it, before any change")
    assert "The certificate of trust anchor nodes (CN=ISRG Root X1" in result["msg"]
    assert "is a public CA (found in /etc/ssl/certs/ca-certificates.crt)" in result["msg"] and "AWS Private CA" in result["msg"]
    stubs.verify()
