"""The lab's WSGI layer around moto's server: request counts, fault injection, /_lab/ paths.

Every AWS request is counted per (service, operation) before moto sees it; an
armed fault answers instead of moto for the next N calls of its operation.
Paths under /_lab/ are the lab's control surface (plain JSON over HTTP, not
AWS APIs); hnlab.aws.labapi is their client.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from typing import Any, Callable

from moto.core import DEFAULT_ACCOUNT_ID

from . import faults
from .errors import LabError
from .operations import identify, kind_of, protocol_of

Handler = Callable[[dict[str, Any]], Any]


class LabMiddleware:
    """WSGI middleware: counts and faults for AWS calls, the /_lab/ control surface."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.faults: dict[tuple[str, str], dict[str, Any]] = {}
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/_lab/health"): lambda _unused: {"ok": True},
            ("GET", "/_lab/requests"): self._requests,
            ("POST", "/_lab/requests/reset"): self._reset,
            ("POST", "/_lab/faults"): self._arm_fault,
            ("POST", "/_lab/faults/clear"): self._clear_faults,
            ("POST", "/_lab/vpn-tunnel"): self._vpn_tunnel,
            ("POST", "/_lab/ssm/expire-activation"): self._expire_activation,
            ("POST", "/_lab/ssm/register"): self._register_instance,
            ("POST", "/_lab/eks/cluster-endpoint"): self._cluster_endpoint,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lab/"):
            return self._control(environ, start_response, path)
        service, operation = identify(environ)
        with self.lock:
            self.counts[(service, operation)] += 1
            fault = self.faults.get((service, operation))
            if fault and fault["remaining"] > 0:
                fault["remaining"] -= 1
                kind = fault["kind"]
            else:
                kind = None
        if kind is None:
            return self.app(environ, start_response)
        status, headers, body = faults.error_response(kind, protocol_of(service))
        start_response(f"{status} Injected", headers + [("Content-Length", str(len(body)))])
        return [body]

    # Control surface.
    def _control(self, environ: dict[str, Any], start_response: Callable, path: str) -> list[bytes]:
        handler = self.routes.get((environ.get("REQUEST_METHOD", "GET"), path))
        status, payload = "200 OK", None
        if handler is None:
            status, payload = "404 Not Found", {"error": f"no lab route {path}"}
        else:
            try:
                size = int(environ.get("CONTENT_LENGTH") or 0)
                request = json.loads(environ["wsgi.input"].read(size) or b"{}") if size else {}
                payload = handler(request)
            except LabError as exc:
                status, payload = "400 Bad Request", {"__type": exc.code, "message": exc.message}
            except (KeyError, ValueError, TypeError) as exc:
                status, payload = "400 Bad Request", {"__type": "LabRequestError", "message": str(exc)}
        body = json.dumps(payload, default=str).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _requests(self, _unused: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            items = sorted(self.counts.items())
        return {"requests": [{"service": s, "operation": o, "kind": kind_of(o), "count": n}
                             for (s, o), n in items]}

    def _reset(self, _unused: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.counts.clear()
        return {"ok": True}

    def _arm_fault(self, req: dict[str, Any]) -> dict[str, Any]:
        if req["kind"] not in faults.FAULT_CODES or int(req["count"]) < 1:
            raise ValueError(f"kind must be one of {sorted(faults.FAULT_CODES)} and count >= 1")
        with self.lock:
            self.faults[(req["service"], req["operation"])] = {"kind": req["kind"],
                                                               "remaining": int(req["count"])}
        return {"ok": True}

    def _clear_faults(self, _unused: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.faults.clear()
        return {"ok": True}

    @staticmethod
    def _backend(service: str, region: str) -> Any:
        from moto.backends import get_backend

        account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
        return get_backend(service)[account][region]

    def _vpn_tunnel(self, req: dict[str, Any]) -> dict[str, Any]:
        ec2 = self._backend("ec2", req["region"])
        conn = ec2.vpn_connections[req["vpn_connection_id"]]
        outside_ip = req.get("outside_ip") or conn.vgw_telemetry[int(req.get("tunnel", 0))]["OutsideIpAddress"]
        ec2.set_tunnel_status(conn.id, outside_ip, req["status"], req.get("message", ""))
        return {"ok": True, "outside_ip": outside_ip}

    def _expire_activation(self, req: dict[str, Any]) -> dict[str, Any]:
        self._backend("ssm", req["region"]).expire_activation(req["activation_id"])
        return {"ok": True}

    def _register_instance(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.counts[("ssm", "RegisterManagedInstance")] += 1
        instance_id = self._backend("ssm", req["region"]).register_managed_instance(
            req["activation_id"], req["activation_code"], req["hostname"], req.get("ip_address", ""))
        return {"InstanceId": instance_id}

    def _cluster_endpoint(self, req: dict[str, Any]) -> dict[str, Any]:
        self._backend("eks", req["region"]).set_cluster_endpoint(
            req["name"], req["endpoint"], req.get("ca_data"))
        return {"ok": True}
