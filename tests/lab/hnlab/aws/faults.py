"""Error answers the lab injects, in the wire format of each AWS protocol.

botocore must read them exactly as it reads real AWS errors: a throttling
code is retried by its retry modes, HTTP 500 is retried as transient, an
access-denied error is final.
"""

from __future__ import annotations

import json
import uuid

# kind -> protocol family -> (HTTP status, error code)
FAULT_CODES = {
    "throttle": {"ec2": (503, "RequestLimitExceeded"), "query": (400, "Throttling"),
                 "json": (400, "ThrottlingException")},
    "error500": {"ec2": (500, "InternalError"), "query": (500, "InternalFailure"),
                 "json": (500, "InternalFailure")},
    "access-denied": {"ec2": (403, "UnauthorizedOperation"), "query": (403, "AccessDenied"),
                      "json": (403, "AccessDeniedException")},
}
FAMILY = {"ec2": "ec2", "query": "query", "rest-xml": "query", "json": "json", "rest-json": "json"}


def error_response(kind: str, protocol: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an injected fault of ``kind`` for a ``protocol`` service."""
    family = FAMILY.get(protocol, "json")
    status, code = FAULT_CODES[kind][family]
    message = f"lab fault injection: {code}"
    request_id = str(uuid.uuid4())
    if family == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>")
        return status, [("Content-Type", "text/xml")], body.encode()
    if family == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
                f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return status, [("Content-Type", "text/xml")], body.encode()
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
               ("x-amzn-RequestId", request_id)]
    return status, headers, json.dumps({"__type": code, "message": message}).encode()
