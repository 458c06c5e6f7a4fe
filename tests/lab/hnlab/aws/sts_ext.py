"""STS as EKS's token authenticator calls it: a presigned GetCallerIdentity, answered in JSON.

aws-iam-authenticator's token is a presigned GetCallerIdentity URL; its verifier replays it with
`accept: application/json` and reads {"GetCallerIdentityResponse": {"GetCallerIdentityResult": ...}}
(sigs.k8s.io/aws-iam-authenticator v0.7.2 pkg/token/token.go, Verify). moto 5.2 reads the caller's access key from
the Authorization header only, and answers JSON only for ContentType=JSON in the query. These two methods make
moto's STS take the access key of a presigned request from X-Amz-Credential, and answer JSON when asked by Accept,
as STS does. A presigned GetCallerIdentity made with credentials the emulator issued (an assumed role's) has its
SigV4 query signature checked, as STS checks it: a token presigned for one cluster's x-k8s-aws-id does not verify with
another's. (moto checks no signature otherwise; requests signed in the Authorization header stay unchecked.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl, quote

from moto.core.responses import BaseResponse
from moto.sts.responses import TokenResponse
from werkzeug.exceptions import HTTPException

from .patching import graft


class _STSLab:
    def get_access_key(self) -> str:
        credential = self.querystring.get("X-Amz-Credential")
        if "Authorization" not in self.headers and credential:
            return credential[0].split("/", 1)[0]
        return BaseResponse.get_access_key(self)

    @property
    def request_json(self) -> bool:
        return "JSON" in self.querystring.get("ContentType", []) or \
            "application/json" in self.headers.get("Accept", "")


class SignatureDoesNotMatch(HTTPException):
    """STS's answer to a bad signature: 403 (an STSClientError would serialize as 400), in the format asked for."""

    code = 403

    def __init__(self, message: str, as_json: bool) -> None:
        error = {"Code": "SignatureDoesNotMatch", "Message": message, "Type": "Sender"}
        if as_json:
            body = json.dumps({"Error": error, "RequestId": "lab-presigned-check"})
        else:
            body = ("<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
                    f"<Message>{message}</Message></Error><RequestId>lab-presigned-check</RequestId></ErrorResponse>")
        super().__init__(description=body)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def presigned_signature(secret: str, method: str, query: str, headers: dict, signed: list[str]) -> str:
    """SigV4 query signature of a presigned request (the signing process of the AWS general reference): canonical
    query without X-Amz-Signature, the signed headers, and the hash of the empty payload (S3 alone presigns with
    UNSIGNED-PAYLOAD)."""
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "X-Amz-Signature"]
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params))
    lower = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    canonical = "\n".join([method, "/", canonical_query, "".join(f"{h}:{lower.get(h, '')}\n" for h in signed),
                           ";".join(signed), hashlib.sha256(b"").hexdigest()])
    values = dict(params)
    _akid, date, region, service, _terminal = values["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", values["X-Amz-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), service), "aws4_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class _STSPresignedCheck:
    def get_caller_identity(self):
        signature = (self.querystring.get("X-Amz-Signature") or [""])[0]
        if signature and "Authorization" not in self.headers:
            from moto.iam.models import get_account_id_from
            from moto.sts.models import sts_backends

            akid = self.get_access_key()
            role = sts_backends[get_account_id_from(akid)]["aws"].get_assumed_role_from_access_key(akid)
            if role is not None:
                signed = (self.querystring.get("X-Amz-SignedHeaders") or [""])[0].split(";")
                query = self.uri.split("?", 1)[1] if "?" in self.uri else ""
                if not hmac.compare_digest(presigned_signature(role.secret_access_key, self.method, query,
                                                               dict(self.headers), signed), signature):
                    raise SignatureDoesNotMatch("The request signature we calculated does not match the signature "
                                                "you provided. Check your AWS Secret Access Key and signing method.",
                                                self.request_json)
        return _ORIGINAL_GET_CALLER_IDENTITY(self)


_ORIGINAL_GET_CALLER_IDENTITY = TokenResponse.get_caller_identity


def install() -> None:
    graft(_STSLab, TokenResponse)
    if TokenResponse.get_caller_identity is _ORIGINAL_GET_CALLER_IDENTITY:
        graft(_STSPresignedCheck, TokenResponse)
