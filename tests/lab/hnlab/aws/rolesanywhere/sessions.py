"""CreateSession of the lab's IAM Roles Anywhere: temporary credentials for a certificate the trust anchor issued.

What the real service checks, as its user guide describes it (rolesanywhere/latest/userguide:
authentication-create-session, authentication-sign-process) and as the real client builds the request
(rolesanywhere-credential-helper v1.4.0, aws_signing_helper/signer.go and credentials.go):
  - the request is signed with the certificate's private key (AWS4-X509-RSA-SHA256 or AWS4-X509-ECDSA-SHA256 over a
    SigV4 canonical request of POST /sessions; Credential=<certificate serial>/<date>/<region>/rolesanywhere/...);
  - the certificate (header X-Amz-X509, with intermediates in X-Amz-X509-Chain) chains to the trust anchor's CA
    certificate and is within its validity; the trust anchor and the profile are enabled;
  - the role is one of the profile's roleArns; a roleSessionName only where the profile accepts one;
  - durationSeconds within 900..43200 and at most the profile's.
The credentials are minted by moto's STS (assume_role with the session name), so that GetCallerIdentity with them
answers arn:aws:sts::<account>:assumed-role/<role>/<session name>, as nodeadm and the EKS authenticator expect.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from .models import rolesanywhere_backends

ALGORITHMS = ("AWS4-X509-RSA-SHA256", "AWS4-X509-ECDSA-SHA256")
AUTH_RE = re.compile(r"^(?P<alg>\S+) Credential=(?P<serial>\d+)/(?P<date>\d{8})/(?P<region>[^/]+)/rolesanywhere/"
                     r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]+)$")
ARN_RE = re.compile(r"^arn:aws[a-z-]*:rolesanywhere:(?P<region>[^:]+):(?P<account>\d{12}):(?P<kind>trust-anchor|profile)/"
                    r"(?P<id>[0-9a-f-]+)$")
MAX_CHAIN = 5
CLOCK_SKEW = datetime.timedelta(minutes=5)


class SessionError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _denied(message: str) -> SessionError:
    return SessionError(403, "AccessDeniedException", message)


def _invalid(message: str) -> SessionError:
    return SessionError(400, "ValidationException", message)


def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _der(value: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(value))
    except ValueError as exc:
        raise _invalid("Invalid certificate in X-Amz-X509") from exc


def _canonical_query(query: str) -> str:
    # Go's url.Values.Encode: keys sorted, each part escaped but for -_.~, spaces as %20 (signer.go).
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                    for k, v in sorted(parse_qsl(query, keep_blank_values=True), key=lambda kv: kv[0]))


def _string_to_sign(auth: dict[str, str], headers: dict[str, str], query: str, body: bytes) -> bytes:
    names = auth["signed"].split(";")
    canonical_headers = "\n".join(f"{name}:{' '.join(_header(headers, name).split())}" for name in names)
    canonical = "\n".join(["POST", "/sessions", _canonical_query(query), canonical_headers, "", auth["signed"],
                           hashlib.sha256(body).hexdigest()])
    scope = f"{auth['date']}/{auth['region']}/rolesanywhere/aws4_request"
    return "\n".join([auth["alg"], _header(headers, "x-amz-date"), scope,
                      hashlib.sha256(canonical.encode()).hexdigest()]).encode()


def verify_signature(headers: dict[str, str], query: str, body: bytes, now: datetime.datetime) -> x509.Certificate:
    """The signing certificate, once the request's X.509 signature over it checks out."""
    match = AUTH_RE.match(_header(headers, "authorization"))
    if not match or match["alg"] not in ALGORITHMS:
        raise _denied("Missing or malformed AWS4-X509 Authorization header")
    leaf = _der(_header(headers, "x-amz-x509"))
    if str(leaf.serial_number) != match["serial"]:
        raise _denied("The credential serial does not match the certificate in X-Amz-X509")
    try:
        signed_at = datetime.datetime.strptime(_header(headers, "x-amz-date"), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise _denied("Missing or malformed X-Amz-Date") from exc
    if abs(now - signed_at) > CLOCK_SKEW:
        raise _denied("Signature expired: X-Amz-Date is more than 5 minutes from the server's time")
    data = _string_to_sign(match.groupdict(), headers, query, body)
    signature = bytes.fromhex(match["sig"])
    key = leaf.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and match["alg"] == "AWS4-X509-ECDSA-SHA256":
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif not isinstance(key, ec.EllipticCurvePublicKey) and match["alg"] == "AWS4-X509-RSA-SHA256":
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise _denied("The signing algorithm does not match the certificate's key")
    except InvalidSignature as exc:
        raise _denied("Signature validation failed") from exc
    return leaf


def _valid_at(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def verify_chain(leaf: x509.Certificate, chain: list[x509.Certificate], anchor_pem: str,
                 now: datetime.datetime) -> None:
    """The leaf, through the intermediates given, is issued by the trust anchor's CA, every link within its dates."""
    anchor = x509.load_pem_x509_certificate(anchor_pem.encode())
    cert = leaf
    for _depth in range(MAX_CHAIN):
        if not _valid_at(cert, now):
            raise _denied(f"Certificate {cert.subject.rfc4514_string()} is not valid at this time")
        for issuer in [anchor] + chain:
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if issuer is anchor:
                if not _valid_at(anchor, now):
                    raise _denied("The trust anchor's certificate is not valid at this time")
                return
            cert = issuer
            break
        else:
            break
    raise _denied("Untrusted certificate. Insufficient certificate")


def _resource(arn: str, kind: str) -> dict[str, str]:
    match = ARN_RE.match(arn or "")
    if not match or match["kind"] != kind:
        raise _invalid(f"Invalid {kind} ARN: {arn!r}")
    return match.groupdict()


def _profile_checks(profile: dict[str, Any], role_arn: str, session_name: str | None, duration: int) -> None:
    if not profile["enabled"]:
        raise _denied("Profile is disabled")
    if role_arn not in profile["roleArns"]:
        raise _denied(f"Role {role_arn} is not one of the profile's roleArns")
    if session_name and not profile.get("acceptRoleSessionName"):
        raise _denied("The profile does not accept a custom role session name (acceptRoleSessionName is false)")
    if not 900 <= duration <= 43200 or duration > profile["durationSeconds"]:
        raise _invalid(f"durationSeconds {duration} is outside 900..{profile['durationSeconds']}")


def create_session(headers: dict[str, str], url: str, body: bytes, now: datetime.datetime) -> dict[str, Any]:
    from moto.sts.models import sts_backends

    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    try:
        params.update(json.loads(body or b"{}"))
    except ValueError as exc:
        raise _invalid("The request body is not JSON") from exc
    leaf = verify_signature(headers, parts.query, body, now)
    anchor_ref = _resource(params.get("trustAnchorArn", ""), "trust-anchor")
    profile_ref = _resource(params.get("profileArn", ""), "profile")
    backend = rolesanywhere_backends[anchor_ref["account"]][anchor_ref["region"]]
    anchor = backend.trust_anchors.get(anchor_ref["id"])
    profile = backend.profiles.get(profile_ref["id"])
    if anchor is None or profile is None:
        raise SessionError(404, "ResourceNotFoundException", "Trust anchor or profile not found")
    if not anchor["enabled"]:
        raise _denied("Trust anchor is disabled")
    chain = [_der(item) for item in _header(headers, "x-amz-x509-chain").split(",") if item.strip()]
    verify_chain(leaf, chain, anchor["source"]["sourceData"].get("x509CertificateData", ""), now)
    role_arn, session_name = params.get("roleArn", ""), params.get("roleSessionName")
    duration = int(params.get("durationSeconds") or 3600)
    _profile_checks(profile, role_arn, session_name, duration)
    role = sts_backends[anchor_ref["account"]]["aws"].assume_role(
        region_name=anchor_ref["region"], role_session_name=session_name or format(leaf.serial_number, "x"),
        role_arn=role_arn, policy=profile.get("sessionPolicy"), duration=duration, external_id=None)
    return {"credentialSet": [{
        "assumedRoleUser": {"arn": role.arn, "assumedRoleId": role.user_id},
        "credentials": {"accessKeyId": role.access_key_id, "secretAccessKey": role.secret_access_key,
                        "sessionToken": role.session_token,
                        "expiration": role.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "packedPolicySize": 0, "roleArn": role_arn, "sourceIdentity": leaf.subject.rfc4514_string()}],
        "subjectArn": f"arn:aws:rolesanywhere:{anchor_ref['region']}:{anchor_ref['account']}:subject/"
                      f"{format(leaf.serial_number, 'x')}"}


def handle(request: Any, full_url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """moto's URL handler for POST /sessions."""
    now = datetime.datetime.now(datetime.timezone.utc)
    body = request.data if hasattr(request, "data") else (request.body or b"")
    try:
        return 201, {"Content-Type": "application/json"}, json.dumps(create_session(headers, full_url, body, now))
    except SessionError as exc:
        return exc.status, {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code}, json.dumps(
            {"message": exc.message})
