"""Check a parsed boto3 response against botocore's output shape of its operation.

``problems()`` walks the response recursively: every member present must have
the model's type (and a modelled enum value), required members must be
present, and the dotted paths a client reads (``"a.b[].c"``) must resolve in
every element. An empty list means the response is what a client expects.
"""

from __future__ import annotations

import datetime
from typing import Any

import botocore.session
from botocore.model import Shape

# Strings botocore's own handlers decode before the caller sees them (IAM policy documents).
DECODED_BY_BOTOCORE = {"policyDocumentType"}
PY_TYPES = {
    "string": str, "boolean": bool, "timestamp": datetime.datetime, "blob": (bytes, bytearray),
    "integer": int, "long": int, "float": (int, float), "double": (int, float),
}


def output_shape(service: str, operation: str) -> Shape | None:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).output_shape


def _check(value: Any, shape: Shape, where: str, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            out.append(f"{where}: expected structure, got {type(value).__name__}")
            return
        for name in shape.metadata.get("required", []):
            if name not in value:
                out.append(f"{where}.{name}: required member missing")
        for name, member in value.items():
            if name == "ResponseMetadata" and where == "":
                continue
            if name not in shape.members:
                out.append(f"{where}.{name}: not a member of {shape.name}")
            else:
                _check(member, shape.members[name], f"{where}.{name}", out)
    elif kind == "list":
        if not isinstance(value, list):
            out.append(f"{where}: expected list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, shape.member, f"{where}[{i}]", out)
    elif kind == "map":
        if not isinstance(value, dict):
            out.append(f"{where}: expected map, got {type(value).__name__}")
            return
        for key, item in value.items():
            _check(item, shape.value, f"{where}[{key!r}]", out)
    else:
        expected = (PY_TYPES[kind], dict) if shape.name in DECODED_BY_BOTOCORE else PY_TYPES[kind]
        if not isinstance(value, expected) or (kind in ("integer", "long") and isinstance(value, bool)):
            out.append(f"{where}: expected {kind}, got {type(value).__name__} {value!r}")
        elif shape.metadata.get("enum") and value not in shape.metadata["enum"]:
            out.append(f"{where}: {value!r} not in enum {shape.name}")


def _resolve(value: Any, parts: list[str], where: str, out: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head[:-2] if each else head
    if not isinstance(value, dict) or key not in value:
        out.append(f"{where}.{key}: read by clients but missing")
        return
    child = value[key]
    if each:
        if not child:
            out.append(f"{where}.{key}: read by clients but empty")
        for i, item in enumerate(child or []):
            _resolve(item, rest, f"{where}.{key}[{i}]", out)
    else:
        _resolve(child, rest, f"{where}.{key}", out)


def problems(service: str, operation: str, response: dict[str, Any], reads: tuple[str, ...] = ()) -> list[str]:
    """Every mismatch between a parsed response and its operation's output shape."""
    out: list[str] = []
    shape = output_shape(service, operation)
    if shape is not None:
        _check(response, shape, "", out)
    for path in reads:
        _resolve(response, path.split("."), "", out)
    return out
