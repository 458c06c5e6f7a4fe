"""Client of the AWS emulator's /_lab/ control surface, for tests and lab components.

Only the standard library, so the nodeadm stand-in can use it inside an edge host.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 5


class LabApiError(Exception):
    """An error answer of the control surface; ``code`` is the AWS-style error code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class LabApi:
    def __init__(self, endpoint: str, region: str):
        self.endpoint = endpoint.rstrip("/")
        self.region = region

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(f"{self.endpoint}/_lab/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            raise LabApiError(body.get("__type", str(exc.code)), body.get("message", "")) from exc

    def requests(self) -> list[dict[str, Any]]:
        """Every (service, operation) seen since the last reset, with kind read/write and count."""
        return self._call("GET", "requests")["requests"]

    def counts(self) -> dict[tuple[str, str], int]:
        return {(r["service"], r["operation"]): r["count"] for r in self.requests()}

    def writes(self) -> dict[tuple[str, str], int]:
        return {(r["service"], r["operation"]): r["count"] for r in self.requests() if r["kind"] == "write"}

    def reset(self) -> None:
        self._call("POST", "requests/reset", {})

    def fault(self, service: str, operation: str, kind: str, count: int = 1) -> None:
        """Answer the next ``count`` calls of an operation with a fault.

        kind: 'throttle' (ThrottlingException and kin), 'error500' or 'access-denied'.
        """
        self._call("POST", "faults", {"service": service, "operation": operation, "kind": kind,
                                      "count": count})

    def clear_faults(self) -> None:
        self._call("POST", "faults/clear", {})

    def set_tunnel(self, vpn_connection_id: str, status: str, tunnel: int = 0, message: str = "") -> str:
        """Set tunnel 0 or 1 of a VPN connection UP or DOWN; returns its outside IP."""
        return self._call("POST", "vpn-tunnel", {"region": self.region, "vpn_connection_id": vpn_connection_id,
                                                 "tunnel": tunnel, "status": status,
                                                 "message": message})["outside_ip"]

    def expire_activation(self, activation_id: str, region: str | None = None) -> None:
        self._call("POST", "ssm/expire-activation", {"region": region or self.region,
                                                     "activation_id": activation_id})

    def register_instance(self, activation_id: str, activation_code: str, hostname: str,
                          region: str | None = None, ip_address: str = "") -> str:
        """What the SSM agent does with an activation: returns the mi-... instance id."""
        return self._call("POST", "ssm/register", {
            "region": region or self.region, "activation_id": activation_id,
            "activation_code": activation_code, "hostname": hostname, "ip_address": ip_address,
        })["InstanceId"]

    def set_cluster_endpoint(self, cluster: str, endpoint: str, ca_data: str | None) -> None:
        """Set an EKS cluster's endpoint and certificateAuthority.data (base64 PEM)."""
        self._call("POST", "eks/cluster-endpoint", {"region": self.region, "name": cluster,
                                                    "endpoint": endpoint, "ca_data": ca_data})
