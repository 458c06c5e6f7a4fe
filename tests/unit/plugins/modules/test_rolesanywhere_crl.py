# -*- coding: utf-8 -*-
"""rolesanywhere_crl through its main(), against botocore's Stubber (moto has no IAM Roles Anywhere)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridnodes.eks.plugins.modules import rolesanywhere_crl
from ansible_collections.hybridnodes.eks.tests.unit.plugins.modules import test_rolesanywhere
from ansible_collections.hybridnodes.eks.tests.unit.plugins.modules.test_rolesanywhere import ANCHOR_ARN, ANCHOR_ID, NOW

# The attempts of amazon.aws' retry decorator in these tests (read by conftest.py), as in test_rolesanywhere.
STUB_RETRIES = test_rolesanywhere.STUB_RETRIES

OTHER_ANCHOR_ARN = "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/" + "9" * 36
CRL_ID = "2a1b2c3d-4e5f-6789-abcd-ef0123456789"
CRL_ARN = "arn:aws:rolesanywhere:us-west-2:123456789012:crl/" + CRL_ID


def run(capsys, **options):
    """rolesanywhere_crl.main() with the AWS options of test_rolesanywhere (STUB_RETRIES too, see conftest.py)."""
    return test_rolesanywhere.run(capsys, rolesanywhere_crl, **options)


def make_crl(revoked=(), days=7):
    """(PEM text, DER bytes) of a CRL signed by a throwaway CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(now - datetime.timedelta(days=10))
               .next_update(now + datetime.timedelta(days=days)))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    made = builder.sign(key, hashes.SHA256())
    return made.public_bytes(serialization.Encoding.PEM).decode(), made.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def crls():
    return make_crl(revoked=[1]), make_crl(revoked=[1, 2])


def listed(data, enabled=True, anchor_arn=ANCHOR_ARN, name="nodes", crl_id=CRL_ID):
    return {"crlId": crl_id, "crlArn": "arn:aws:rolesanywhere:us-west-2:123456789012:crl/" + crl_id, "name": name,
            "enabled": enabled, "crlData": data, "trustAnchorArn": anchor_arn, "createdAt": NOW, "updatedAt": NOW}


def anchor():
    return {"trustAnchorId": ANCHOR_ID, "trustAnchorArn": ANCHOR_ARN, "name": "nodes-anchor", "enabled": True,
            "source": {"sourceType": "AWS_ACM_PCA", "sourceData": {"acmPcaArn": "arn:aws:acm-pca:x"}},
            "createdAt": NOW, "updatedAt": NOW}


def pem_bytes(der):
    return rolesanywhere_crl.crl.to_pem(der)


def sha256(der):
    return "sha256:" + hashlib.sha256(der).hexdigest()


def test_crl_is_imported_as_pem_with_its_tags(stubs, capsys, crls):
    pem, der = crls[0]
    stubs.add("rolesanywhere", "list_crls", {"crls": []}, {})
    stubs.add("rolesanywhere", "import_crl", {"crl": listed(pem_bytes(der))},
              {"name": "nodes", "crlData": pem_bytes(der), "trustAnchorArn": ANCHOR_ARN, "enabled": True,
               "tags": [{"key": "team", "value": "edge"}]})
    result = run(capsys, name="nodes", crl=pem, trust_anchor_arn=ANCHOR_ARN, tags={"team": "edge"}, diff=True)
    assert result["changed"] is True
    assert result["crl"] == {"name": "nodes", "enabled": True, "trust_anchor_arn": ANCHOR_ARN, "crl_sha256": sha256(der),
                             "crl_arn": CRL_ARN, "crl_id": CRL_ID}
    assert result["diff"]["before"] == {} and result["diff"]["after"]["crl_sha256"] == sha256(der)
    stubs.verify()


def test_same_crl_on_a_later_page_as_der_makes_no_write(stubs, capsys, crls, tmp_path):
    """Pagination of ListCrls, a DER file against the PEM the API holds (CRLF line endings): the same CRL."""
    pem, der = crls[0]
    path = tmp_path / "ca.crl"
    path.write_bytes(der)
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(der, name="other", crl_id="3" * 36)], "nextToken": "t1"}, {})
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(pem.replace("\n", "\r\n").encode())]}, {"nextToken": "t1"})
    result = run(capsys, name="nodes", crl_path=str(path), trust_anchor_arn=ANCHOR_ARN)
    assert result["changed"] is False and result["crl"]["crl_sha256"] == sha256(der)
    stubs.verify()


def test_trust_anchor_name_is_resolved_and_a_new_crl_updates_the_data_only(stubs, capsys, crls):
    (old_pem, old_der), (new_pem, new_der) = crls
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(old_der)]}, {})
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": [anchor()]}, {})
    stubs.add("rolesanywhere", "update_crl", {"crl": listed(pem_bytes(new_der))},
              {"crlId": CRL_ID, "crlData": pem_bytes(new_der)})
    result = run(capsys, name="nodes", crl=new_pem, trust_anchor_name="nodes-anchor", diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["crl_sha256"] == sha256(old_der)
    assert result["diff"]["after"]["crl_sha256"] == sha256(new_der)
    stubs.verify()


@pytest.mark.parametrize("was, wanted, verb", [(False, True, "enable"), (True, False, "disable")])
def test_enabled_state_is_set_with_its_own_call(stubs, capsys, crls, was, wanted, verb):
    pem, der = crls[0]
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(der, enabled=was)]}, {})
    stubs.add("rolesanywhere", verb + "_crl", {"crl": listed(der, enabled=wanted)}, {"crlId": CRL_ID})
    result = run(capsys, name="nodes", crl=pem, trust_anchor_arn=ANCHOR_ARN, enabled=wanted, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["enabled"] is was and result["diff"]["after"]["enabled"] is wanted
    stubs.verify()


def test_missing_tag_is_added_and_others_left_alone(stubs, capsys, crls):
    pem, der = crls[0]
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(der)]}, {})
    stubs.add("rolesanywhere", "list_tags_for_resource", {"tags": [{"key": "own", "value": "x"}]},
              {"resourceArn": CRL_ARN})
    stubs.add("rolesanywhere", "tag_resource", {}, {"resourceArn": CRL_ARN, "tags": [{"key": "team", "value": "edge"}]})
    result = run(capsys, name="nodes", crl=pem, trust_anchor_arn=ANCHOR_ARN, tags={"team": "edge"})
    assert result["changed"] is True
    stubs.verify()


def test_check_mode_predicts_every_change_without_a_write(stubs, capsys, crls):
    (old_pem, old_der), (new_pem, new_der) = crls
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(old_der, enabled=False)]}, {})
    result = run(capsys, check_mode=True, diff=True, name="nodes", crl=new_pem, trust_anchor_arn=ANCHOR_ARN)
    assert result["changed"] is True
    assert result["diff"]["after"] == {"name": "nodes", "enabled": True, "trust_anchor_arn": ANCHOR_ARN,
                                       "crl_sha256": sha256(new_der), "crl_arn": CRL_ARN, "crl_id": CRL_ID}
    stubs.verify()


def test_check_mode_predicts_the_import_for_a_trust_anchor_the_run_makes(stubs, capsys, crls):
    pem, der = crls[0]
    stubs.add("rolesanywhere", "list_crls", {"crls": []}, {})
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": []}, {})
    result = run(capsys, check_mode=True, name="nodes", crl=pem, trust_anchor_name="nodes-anchor")
    assert result["changed"] is True and result["crl"]["crl_sha256"] == sha256(der)
    assert "trust anchor nodes-anchor does not exist" in json.dumps(result["warnings"])
    stubs.verify()


def test_missing_trust_anchor_is_named_outside_check_mode(stubs, capsys, crls):
    stubs.add("rolesanywhere", "list_crls", {"crls": []}, {})
    stubs.add("rolesanywhere", "list_trust_anchors", {"trustAnchors": []}, {})
    result = run(capsys, name="nodes", crl=crls[0][0], trust_anchor_name="nodes-anchor")
    assert result["failed"] is True
    assert "IAM Roles Anywhere trust anchor nodes-anchor does not exist" in result["msg"]
    assert "rolesanywhere_trust_anchor" in result["msg"]
    stubs.verify()


def test_crl_of_another_trust_anchor_is_refused_not_moved(stubs, capsys, crls):
    pem, der = crls[0]
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(der, anchor_arn=OTHER_ANCHOR_ARN)]}, {})
    result = run(capsys, name="nodes", crl=pem, trust_anchor_arn=ANCHOR_ARN)
    assert result["failed"] is True
    assert "belongs to trust anchor %s, not %s" % (OTHER_ANCHOR_ARN, ANCHOR_ARN) in result["msg"]
    stubs.verify()


def test_absent_deletes_it_and_a_rerun_makes_no_call_but_the_list(stubs, capsys, crls):
    der = crls[0][1]
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(der)]}, {})
    stubs.add("rolesanywhere", "delete_crl", {"crl": listed(der)}, {"crlId": CRL_ID})
    result = run(capsys, name="nodes", state="absent", diff=True)
    assert result["changed"] is True and result["crl"] == {}
    assert result["diff"]["before"]["crl_sha256"] == sha256(der) and result["diff"]["after"] == {}
    stubs.verify()


def test_absent_in_check_mode_predicts_the_delete(stubs, capsys, crls):
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(crls[0][1])]}, {})
    assert run(capsys, check_mode=True, name="nodes", state="absent")["changed"] is True
    stubs.verify()


def test_absent_when_gone_makes_no_write(stubs, capsys):
    stubs.add("rolesanywhere", "list_crls", {"crls": []}, {})
    assert run(capsys, name="nodes", state="absent")["changed"] is False
    stubs.verify()


def test_import_access_denied_names_the_permission(stubs, capsys, crls):
    stubs.add("rolesanywhere", "list_crls", {"crls": []}, {})
    stubs.error("rolesanywhere", "import_crl", "AccessDeniedException", None, status=403)
    result = run(capsys, name="nodes", crl=crls[0][0], trust_anchor_arn=ANCHOR_ARN)
    assert result["failed"] is True and "rolesanywhere:ImportCrl" in result["msg"]
    assert "IAM Roles Anywhere CRL nodes" in result["msg"]
    stubs.verify()


CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("options, expected", [
    ({"crl": "not a crl"}, "The option crl of IAM Roles Anywhere CRL nodes is neither a PEM CRL"),
    ({"crl": CERTIFICATE}, "holds PEM CERTIFICATE, not a CRL"),
    ({"crl": "-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n"}, "whose body is not base64"),
    ({"crl": "-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n"}, "does not parse as a CRL"),
], ids=["text", "certificate", "not-base64", "not-a-crl-sequence"])
def test_invalid_crl_is_refused_before_any_call(stubs, capsys, options, expected):
    result = run(capsys, name="nodes", trust_anchor_arn=ANCHOR_ARN, **options)
    assert result["failed"] is True and result["msg"].startswith("Refusing it, before any change")
    assert expected in result["msg"] and "-----BEGIN X509 CRL-----" in result["msg"]
    stubs.verify()  # no client was even made


def test_two_crls_in_one_file_and_a_missing_file_are_refused_before_any_call(stubs, capsys, crls, tmp_path):
    both = tmp_path / "both.pem"
    both.write_text(crls[0][0] + crls[1][0])
    result = run(capsys, name="nodes", trust_anchor_arn=ANCHOR_ARN, crl_path=str(both))
    assert result["failed"] is True and "The option crl_path %s" % both in result["msg"]
    assert "holds 2 CRLs" in result["msg"]
    result = run(capsys, name="nodes", trust_anchor_arn=ANCHOR_ARN, crl_path=str(tmp_path / "missing.crl"))
    assert result["failed"] is True and "cannot be read" in result["msg"] and "set crl_path" in result["msg"]
    stubs.verify()


def test_stale_crl_is_imported_with_a_warning(stubs, capsys):
    pem, der = make_crl(days=-1)
    stubs.add("rolesanywhere", "list_crls", {"crls": [listed(der)]}, {})
    result = run(capsys, name="nodes", crl=pem, trust_anchor_arn=ANCHOR_ARN)
    assert result["changed"] is False and "is stale: its next update was due" in json.dumps(result["warnings"])
    stubs.verify()
