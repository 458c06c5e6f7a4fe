"""Name the AWS service and operation of an incoming request, the way moto's server routes it.

The service comes from the SigV4 credential scope of the Authorization header
(never from the Host header: requests also arrive through the lab's TCP
forwarder); the operation from the form body's Action (query and EC2
protocols), the X-Amz-Target header (JSON protocol) or the method and path
matched against botocore's model (REST protocols).
"""

from __future__ import annotations

import functools
import io
from typing import Any
from urllib.parse import parse_qs

import botocore.session
from moto.core.request import Request
from moto.core.routing import get_service_router

READ_PREFIXES = ("Describe", "List", "Get", "Search")


@functools.lru_cache(maxsize=None)
def _protocol(service: str) -> str:
    return botocore.session.get_session().get_service_model(service).protocol


@functools.lru_cache(maxsize=None)
def _router(service: str) -> Any:
    return get_service_router(service)


def protocol_of(service: str) -> str:
    """botocore protocol of a service (query, ec2, json, rest-json, rest-xml), 'json' if unknown."""
    try:
        return _protocol(service)
    except Exception:  # noqa: BLE001 - unknown service names are possible in a lab
        return "json"


def kind_of(operation: str) -> str:
    """'read' for Describe/List/Get/Search operations, otherwise 'write'."""
    return "read" if operation.startswith(READ_PREFIXES) else "write"


def credential_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(service, region) from a SigV4 Authorization header, or None."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split(",")[0].split()[1].split("=", 1)[1]
        _unused, _unused, region, service, _unused = scope.split("/")
    except (IndexError, ValueError):
        return None
    return service.lower(), region


def _form_action(environ: dict[str, Any]) -> str | None:
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return parse_qs(environ.get("QUERY_STRING", "")).get("Action", [None])[0]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]


def identify(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of an AWS request; 'unknown' where it cannot be told."""
    scope = credential_scope(environ)
    if scope is None:
        return "unknown", "unknown"
    service = scope[0]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.split(".")[-1]
    protocol = protocol_of(service)
    if protocol in ("query", "ec2"):
        return service, _form_action(environ) or "unknown"
    try:
        operation, _unused = _router(service).match(Request(environ))
        return service, operation.name
    except Exception:  # noqa: BLE001 - an unmatched path is reported, not fatal
        return service, "unknown"
