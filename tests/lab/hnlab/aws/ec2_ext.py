"""EC2 VPN and routing calls moto 5.2 lacks or shapes wrongly, added to moto's EC2 classes.

VPN connections gain Options (StaticRoutesOnly), static Routes and two-tunnel
VgwTelemetry (the lab control surface flips tunnels UP/DOWN); static routes
can be created and deleted; VGW route propagation is recorded and shown as
PropagatingVgws by describe_route_tables; transit gateway routes can be
replaced and list their attachment the way the model defines it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import EC2Backend
from moto.ec2.responses import EC2Response

from .errors import LabError
from .patching import graft

# Documentation addresses (TEST-NET-3): strings in API answers, never contacted.
TUNNEL_OUTSIDE_IPS = ("203.0.113.10", "203.0.113.11")

_ORIGINAL_CREATE_VPN_CONNECTION = EC2Response.create_vpn_connection
_ORIGINAL_CREATE_TGW_ROUTE = EC2Backend.create_transit_gateway_route


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class EC2LabBackend:
    """Methods added to moto's EC2Backend."""

    def init_vpn_details(self, vpn_connection_id: str, static_routes_only: bool) -> None:
        conn = self.vpn_connections[vpn_connection_id]
        conn.options = {"StaticRoutesOnly": static_routes_only, "EnableAcceleration": False,
                        "LocalIpv4NetworkCidr": "0.0.0.0/0", "RemoteIpv4NetworkCidr": "0.0.0.0/0",
                        "OutsideIpAddressType": "PublicIpv4", "TunnelInsideIpVersion": "ipv4",
                        "TunnelOptions": [{"OutsideIpAddress": ip} for ip in TUNNEL_OUTSIDE_IPS]}
        conn.routes = []
        conn.vgw_telemetry = [
            {"OutsideIpAddress": ip, "Status": "UP", "StatusMessage": "", "LastStatusChange": _now(),
             "AcceptedRouteCount": 0}
            for ip in TUNNEL_OUTSIDE_IPS
        ]

    def _vpn(self, vpn_connection_id: str) -> Any:
        conn = self.vpn_connections.get(vpn_connection_id)
        if conn is None:
            raise LabError("InvalidVpnConnectionID.NotFound",
                           f"The vpnConnection ID '{vpn_connection_id}' does not exist")
        return conn

    def create_vpn_connection_route(self, vpn_connection_id: str, cidr: str) -> None:
        conn = self._vpn(vpn_connection_id)
        if not (conn.options or {}).get("StaticRoutesOnly"):
            raise LabError("InvalidParameterValue",
                           f"The VPN connection {vpn_connection_id} does not use static routing")
        if not any(r["DestinationCidrBlock"] == cidr for r in conn.routes):
            conn.routes.append({"DestinationCidrBlock": cidr, "Source": "Static", "State": "available"})

    def delete_vpn_connection_route(self, vpn_connection_id: str, cidr: str) -> None:
        conn = self._vpn(vpn_connection_id)
        if not (conn.options or {}).get("StaticRoutesOnly"):
            raise LabError("InvalidParameterValue",
                           f"The VPN connection {vpn_connection_id} does not use static routing")
        if not any(r["DestinationCidrBlock"] == cidr for r in conn.routes):
            raise LabError("InvalidRoute.NotFound",
                           f"The route {cidr} does not exist in {vpn_connection_id}")
        conn.routes = [r for r in conn.routes if r["DestinationCidrBlock"] != cidr]

    def set_tunnel_status(self, vpn_connection_id: str, outside_ip: str, status: str, message: str) -> None:
        conn = self._vpn(vpn_connection_id)
        tunnels = [t for t in conn.vgw_telemetry if t["OutsideIpAddress"] == outside_ip]
        if not tunnels or status not in ("UP", "DOWN"):
            raise ValueError(f"no tunnel {outside_ip} on {vpn_connection_id} or bad status {status}")
        tunnels[0].update(Status=status, StatusMessage=message, LastStatusChange=_now())

    def set_vgw_route_propagation(self, gateway_id: str, route_table_id: str, enabled: bool) -> None:
        self.get_vpn_gateway(gateway_id)
        table = self.get_route_table(route_table_id)
        vgws = [v for v in getattr(table, "propagating_vgws", []) if v["GatewayId"] != gateway_id]
        table.propagating_vgws = vgws + ([{"GatewayId": gateway_id}] if enabled else [])

    def create_transit_gateway_route(
        self, transit_gateway_route_table_id: str, destination_cidr_block: str,
        transit_gateway_attachment_id: str | None = None, blackhole: bool = False,
    ) -> dict[str, Any]:
        route = _ORIGINAL_CREATE_TGW_ROUTE(self, transit_gateway_route_table_id, destination_cidr_block,
                                           transit_gateway_attachment_id, blackhole)
        attachment = route.get("transitGatewayAttachments")
        if isinstance(attachment, dict):
            route["transitGatewayAttachments"] = [attachment]
        return route

    def replace_transit_gateway_route(
        self, table_id: str, cidr: str, attachment_id: str | None, blackhole: bool
    ) -> dict[str, Any]:
        table = self.transit_gateways_route_tables.get(table_id)
        if table is None or cidr not in table.routes:
            raise LabError("InvalidRoute.NotFound", f"No route {cidr} in {table_id}")
        return self.create_transit_gateway_route(table_id, cidr, attachment_id, blackhole)


class EC2LabResponse:
    """Handlers added to (or replacing those of) moto's EC2Response."""

    def create_vpn_connection(self) -> ActionResult:
        result = _ORIGINAL_CREATE_VPN_CONNECTION(self)
        options = self._get_param("Options") or {}
        self.ec2_backend.init_vpn_details(result.result["VpnConnection"].id,
                                          _bool(options.get("StaticRoutesOnly")))
        return result

    def create_vpn_connection_route(self) -> ActionResult:
        self.ec2_backend.create_vpn_connection_route(
            self._get_param("VpnConnectionId"), self._get_param("DestinationCidrBlock"))
        return EmptyResult()

    def delete_vpn_connection_route(self) -> ActionResult:
        self.ec2_backend.delete_vpn_connection_route(
            self._get_param("VpnConnectionId"), self._get_param("DestinationCidrBlock"))
        return EmptyResult()

    def enable_vgw_route_propagation(self) -> ActionResult:
        self.ec2_backend.set_vgw_route_propagation(
            self._get_param("GatewayId"), self._get_param("RouteTableId"), True)
        return EmptyResult()

    def disable_vgw_route_propagation(self) -> ActionResult:
        self.ec2_backend.set_vgw_route_propagation(
            self._get_param("GatewayId"), self._get_param("RouteTableId"), False)
        return EmptyResult()

    def replace_transit_gateway_route(self) -> ActionResult:
        route = self.ec2_backend.replace_transit_gateway_route(
            self._get_param("TransitGatewayRouteTableId"), self._get_param("DestinationCidrBlock"),
            self._get_param("TransitGatewayAttachmentId"), _bool(self._get_param("Blackhole")))
        return ActionResult({"Route": route})


def install() -> None:
    """Attach the methods above to moto's EC2 backend and response classes."""
    graft(EC2LabBackend, EC2Backend)
    graft(EC2LabResponse, EC2Response)
