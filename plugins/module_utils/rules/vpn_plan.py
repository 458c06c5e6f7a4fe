# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plans of the vpn_connection_routes module, as pure functions over DescribeVpnConnections,
DescribeRouteTables and SearchTransitGatewayRoutes answers (no AWS call here).

- health: the tunnels and route states of a VPN connection, and what is unhealthy.
- plan_static: the static routes of the connection to create, delete or leave.
- plan_propagation: the route tables that do not yet propagate the virtual private gateway.
- plan_tgw: the transit gateway routes of the hybrid CIDRs to create or replace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import route_plan

GONE = ("deleting", "deleted")


def health(connection):
    """The tunnels and route states of a DescribeVpnConnections item, and what is unhealthy."""
    tunnels = [{"outside_ip": item.get("OutsideIpAddress"), "status": item.get("Status"),
                "status_message": item.get("StatusMessage") or ""} for item in connection.get("VgwTelemetry") or []]
    routes = dict((item["DestinationCidrBlock"], item.get("State")) for item in connection.get("Routes") or [])
    problems = []
    for tunnel in tunnels:
        if tunnel["status"] != "UP":
            problems.append("tunnel %s of VPN connection %s is %s%s; check the customer gateway device's IPsec "
                            "configuration and its reachability on UDP 500/4500."
                            % (tunnel["outside_ip"], connection["VpnConnectionId"], tunnel["status"],
                               (" (%s)" % tunnel["status_message"]) if tunnel["status_message"] else ""))
    if connection.get("State") != "available":
        problems.append("VPN connection %s is %s, not available." % (connection["VpnConnectionId"], connection.get("State")))
    return {"vpn_connection_id": connection.get("VpnConnectionId"), "state": connection.get("State"),
            "static_routes_only": bool((connection.get("Options") or {}).get("StaticRoutesOnly")), "tunnels": tunnels,
            "tunnels_up": len([tunnel for tunnel in tunnels if tunnel["status"] == "UP"]),
            "route_states": routes, "problems": problems}


def connection_problems(connection, vpn_id, report_only, propagate_route_table_ids):
    """What keeps the options from applying to this connection (dynamic routing, no virtual private gateway)."""
    problems = []
    if not report_only and not (connection.get("Options") or {}).get("StaticRoutesOnly"):
        problems.append("VPN connection %s uses dynamic (BGP) routing, so static routes cannot be set on it: advertise "
                        "the hybrid CIDRs over BGP from the customer gateway instead, or recreate the connection with "
                        "static routing (Options.StaticRoutesOnly=true)." % vpn_id)
    if propagate_route_table_ids and not connection.get("VpnGatewayId"):
        problems.append("VPN connection %s has no virtual private gateway (it is on transit gateway %s), so there is "
                        "nothing to propagate; drop propagate_route_table_ids and use transit_gateway_route_table_id."
                        % (vpn_id, connection.get("TransitGatewayId")))
    return problems


def plan_static(connection, cidrs, purge):
    """The static routes to create and (with ``purge``) delete; others the connection has are ``extra``."""
    present = [route_plan.route_destination(item) for item in connection.get("Routes") or []
               if item.get("State") not in GONE]
    extra = [cidr for cidr in present if cidr not in cidrs]
    return {"created": [cidr for cidr in cidrs if cidr not in present],
            "unchanged": [cidr for cidr in cidrs if cidr in present],
            "deleted": extra if purge else [], "extra": [] if purge else extra}


def plan_propagation(tables, vgw_id, route_table_ids):
    """(plan, missing IDs): the route tables of ``tables`` (DescribeRouteTables) not propagating ``vgw_id`` yet."""
    result = {"vpn_gateway_id": vgw_id, "enabled": [], "unchanged": []}
    by_id = dict((table["RouteTableId"], table) for table in tables)
    missing = [rt_id for rt_id in route_table_ids if rt_id not in by_id]
    if missing:
        return result, missing
    for rt_id in route_table_ids:
        vgws = [item.get("GatewayId") for item in by_id[rt_id].get("PropagatingVgws") or []]
        (result["unchanged"] if vgw_id in vgws else result["enabled"]).append(rt_id)
    return result, []


def plan_tgw(found, attachment_id, cidrs):
    """The routes of ``cidrs`` to create or replace, from the SearchTransitGatewayRoutes ``found`` (None: no
    transit gateway route table is managed, nothing to plan)."""
    result = {"create": [], "replace": [], "unchanged": []}
    if found is None:
        return result
    current = {}
    for item in found:
        if item.get("State") in GONE:
            continue
        attachments = [att.get("TransitGatewayAttachmentId") for att in item.get("TransitGatewayAttachments") or []]
        current[route_plan.route_destination(item)] = (item.get("State"), attachments)
    for cidr in cidrs:
        if cidr not in current:
            result["create"].append(cidr)
        elif current[cidr][0] == "active" and current[cidr][1] == [attachment_id]:
            result["unchanged"].append(cidr)
        else:
            result["replace"].append({"cidr": cidr, "from": current[cidr][1], "state": current[cidr][0]})
    return result


def takeover_problems(tgw, table_id):
    """An active transit gateway route of a hybrid CIDR to another attachment is not replaced silently."""
    return ["transit gateway route table %s: %s points at %s (active); it is not replaced silently. Fix: check "
            "what uses that route, then set replace_existing (hybrid_vpc_routes_replace_existing) to replace "
            "it." % (table_id, item["cidr"], ", ".join(item["from"] or []))
            for item in tgw["replace"] if item.get("state") == "active"]


def changed(static, propagation, tgw):
    """Whether the plans write anything."""
    return bool(static["created"] or static["deleted"] or propagation["enabled"] or tgw["create"] or tgw["replace"])


def diff(static, propagation, tgw, cidrs, attachment_id, table_id):
    """Before and after of the static routes, the propagating route tables and the transit gateway routes."""
    before = {"static_routes": sorted(static["unchanged"] + static["deleted"] + static["extra"]),
              "propagating_route_tables": sorted(propagation["unchanged"]),
              "transit_gateway_routes": dict([(item["cidr"], item["from"]) for item in tgw["replace"]]
                                             + [(cidr, [attachment_id]) for cidr in tgw["unchanged"]])}
    after = {"static_routes": sorted(static["unchanged"] + static["created"] + static["extra"]),
             "propagating_route_tables": sorted(propagation["unchanged"] + propagation["enabled"]),
             "transit_gateway_routes": dict((cidr, [attachment_id]) for cidr in cidrs) if table_id else {}}
    return dict(before=before, after=after)
