"""The real aws_signing_helper gets credentials from the lab's IAM Roles Anywhere, over TLS, by the real host name.

On an edge host, the real aws_signing_helper (rolesanywhere-credential-helper, real_signing_helper_version, built from
its Go module) runs `credential-process` as nodeadm's AWS config has it run for the kubelet, with a node certificate
issued by a CA that a trust anchor in the emulator holds. It resolves rolesanywhere.<region>.amazonaws.com through the
lab's DNS to the lab's AWS API address, verifies the TLS certificate against the hosts' CA bundle (the lab CA of
hnlab.awstls, which the hosts trust), and signs CreateSession with the node's key. The
emulator (hnlab.aws.rolesanywhere.sessions) checks the signature, the chain to the trust anchor and the profile, and
mints the credentials through its STS: GetCallerIdentity with them is the role assumed under the node's name.
Refusals are the real service's: a certificate of another CA, a disabled profile, a role outside the profile, a
session name the profile does not accept.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from hnlab import awstls, edge, realnode
from hnlab.aws.clients import client
from hnlab.testing import ssh

pytestmark = pytest.mark.lab

HELPER = "/usr/local/bin/hnlab-signing-helper"
CERT, KEY = "/etc/hnlab-ra/node.pem", "/etc/hnlab-ra/node.key"
OTHER_CERT, OTHER_KEY = "/etc/hnlab-ra/other.pem", "/etc/hnlab-ra/other.key"


def _ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def setup(lab):
    binary = lab.go_builds_dir / f"aws_signing_helper-{lab.real_signing_helper_version}" / "aws_signing_helper"
    if not binary.exists():
        pytest.fail(f"{binary} missing: the lab's one-time builds (tests/lab/k8s/build.py) make it")
    host = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"][0]
    root = edge.host_root(lab, host["name"])
    (root / HELPER.lstrip("/")).write_bytes(binary.read_bytes())
    (root / HELPER.lstrip("/")).chmod(0o755)
    ca, ca_key = realnode.make_ca()
    other, other_key = realnode.make_ca("not the trust anchor")
    role = f"hnlab-ra-{uuid.uuid4().hex[:8]}"
    arns = realnode.rolesanywhere_setup(lab, ca, role)
    pki = root / "etc/hnlab-ra"
    pki.mkdir(mode=0o700, exist_ok=True)
    for (cert_path, key_path), (issuer, issuer_key) in (((CERT, KEY), (ca, ca_key)),
                                                        ((OTHER_CERT, OTHER_KEY), (other, other_key))):
        cert_pem, key_pem = realnode.issue_node_certificate(issuer, issuer_key, host["name"])
        (root / cert_path.lstrip("/")).write_bytes(cert_pem)
        (root / key_path.lstrip("/")).write_bytes(key_pem)
        (root / key_path.lstrip("/")).chmod(0o600)
    try:
        with realnode.vpc_route(lab, host):
            yield host, arns
    finally:
        ssh(lab, host, f"rm -rf {HELPER} /etc/hnlab-ra")
        realnode.rolesanywhere_cleanup(lab, arns)


def credential_process(lab, host, arns, cert=CERT, key=KEY, session=None):
    session = host["name"] if session is None else session
    return ssh(lab, host, f"{HELPER} credential-process --certificate {cert} --private-key {key} "
                          f"--trust-anchor-arn {arns['trustAnchorArn']} --profile-arn {arns['profileArn']} "
                          f"--role-arn {arns['roleArn']}" + (f" --role-session-name {session}" if session else ""),
               timeout=60)


def test_the_aws_api_names_answer_over_tls_with_the_lab_ca_the_hosts_trust(lab, setup):
    host, _arns = setup
    name = f"sts.{lab.region}.amazonaws.com"
    assert _ok(ssh(lab, host, f"getent ahostsv4 {name} | awk '{{print $1}}' | sort -u")).stdout.split() == [lab.aws_api_ip]
    # curl verifies against the hosts' bundle: the lab CA is in it, the name is in the certificate.
    code = _ok(ssh(lab, host, f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 10 https://{name}/")).stdout
    assert code.isdigit() and code != "000", code
    issuer = _ok(ssh(lab, host, f"echo | openssl s_client -connect {name}:443 -servername {name} 2>/dev/null "
                                "| openssl x509 -noout -issuer")).stdout
    assert "hnlab AWS API CA" in issuer, issuer
    assert awstls.ca_path(lab).read_text().strip() in _ok(ssh(lab, host, f"cat {awstls.HOST_BUNDLE}")).stdout


def test_the_real_signing_helper_gets_credentials_for_the_role_under_the_node_name(lab, setup):
    host, arns = setup
    out = json.loads(_ok(credential_process(lab, host, arns)).stdout)
    assert out["Version"] == 1 and out["AccessKeyId"] and out["SessionToken"], sorted(out)
    identity = boto3.client("sts", endpoint_url=lab.moto_endpoint, region_name=lab.region,
                            aws_access_key_id=out["AccessKeyId"], aws_secret_access_key=out["SecretAccessKey"],
                            aws_session_token=out["SessionToken"]).get_caller_identity()
    role = arns["roleArn"].rsplit("/", 1)[1]
    assert identity["Arn"] == f"arn:aws:sts::{lab.account_id}:assumed-role/{role}/{host['name']}"


@pytest.mark.parametrize("case, reason", [
    ("other-ca", "Untrusted certificate"),
    ("profile-disabled", "Profile is disabled"),
    ("role-outside-profile", "is not one of the profile's roleArns"),
    ("session-name-refused", "does not accept a custom role session name"),
])
def test_what_the_real_service_refuses_is_refused(lab, setup, case, reason):
    host, arns = setup
    ra = client(lab, "rolesanywhere")
    profile_id = arns["profileArn"].rsplit("/", 1)[1]
    kwargs = {}
    if case == "other-ca":
        kwargs = {"cert": OTHER_CERT, "key": OTHER_KEY}
    elif case == "profile-disabled":
        ra.disable_profile(profileId=profile_id)
    elif case == "role-outside-profile":
        arns = dict(arns, roleArn=arns["roleArn"] + "-other")
    else:
        ra.update_profile(profileId=profile_id, acceptRoleSessionName=False)
    try:
        result = credential_process(lab, host, arns, **kwargs)
    finally:
        if case == "profile-disabled":
            ra.enable_profile(profileId=profile_id)
        elif case == "session-name-refused":
            ra.update_profile(profileId=profile_id, acceptRoleSessionName=True)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "AccessDeniedException" in said and reason in said, said


def _signed_request(ca, ca_key, when):
    """A CreateSession request signed as the credential helper signs it (the canonical form the real helper's
    requests above pass with), for the tamper checks below."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from hnlab.aws.rolesanywhere import sessions

    cert_pem, key_pem = realnode.issue_node_certificate(ca, ca_key, "edge01")
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, None)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    headers = {"Host": "rolesanywhere.us-west-2.amazonaws.com", "X-Amz-Date": stamp,
               "X-Amz-X509": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()}
    signed = "host;x-amz-date;x-amz-x509"
    query, body = "profileArn=p&roleArn=r", b'{"durationSeconds":3600}'
    auth = {"alg": "AWS4-X509-ECDSA-SHA256", "date": stamp[:8], "region": "us-west-2", "signed": signed}
    signature = key.sign(sessions._string_to_sign(auth, headers, query, body), ec.ECDSA(hashes.SHA256())).hex()
    headers["Authorization"] = (f"AWS4-X509-ECDSA-SHA256 Credential={cert.serial_number}/{stamp[:8]}/us-west-2/"
                                f"rolesanywhere/aws4_request, SignedHeaders={signed}, Signature={signature}")
    return headers, query, body


@pytest.mark.parametrize("tamper, reason", [
    (None, None),
    ("body", "Signature validation failed"),
    ("query", "Signature validation failed"),
    ("date", "Signature expired"),
    ("serial", "credential serial does not match"),
])
def test_the_signature_check_is_not_vacuous(tamper, reason):
    import datetime

    from hnlab.aws.rolesanywhere import sessions

    now = datetime.datetime.now(datetime.timezone.utc)
    ca, ca_key = realnode.make_ca()
    headers, query, body = _signed_request(ca, ca_key, now - datetime.timedelta(minutes=10) if tamper == "date" else now)
    if tamper == "body":
        body = b'{"durationSeconds":43200}'
    elif tamper == "query":
        query = "profileArn=p&roleArn=admin"
    elif tamper == "serial":
        headers["Authorization"] = headers["Authorization"].replace("Credential=", "Credential=1", 1)
    if reason is None:
        assert sessions.verify_signature(headers, query, body, now).subject.rfc4514_string() == "CN=edge01"
        return
    with pytest.raises(sessions.SessionError) as raised:
        sessions.verify_signature(headers, query, body, now)
    assert raised.value.code == "AccessDeniedException" and reason in raised.value.message
