# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""VPC route-table plans for the hybrid node and pod CIDRs, as pure functions over plain data.

The VPC must send the hybrid node and pod CIDRs to the gateway that reaches
the edge sites (a virtual private gateway for Site-to-Site VPN or Direct
Connect, a transit gateway, or a network interface of a VPN appliance).
``plan_tables`` compares the ``RouteTables`` of one DescribeRouteTables
answer with what is wanted and says, per table and CIDR, whether the route
is to be created, replaced (it points elsewhere) or left alone. Only the
given CIDRs are ever looked at; no other route is touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

# Option name -> the route field naming that target (in DescribeRouteTables and in CreateRoute/ReplaceRoute).
TARGET_FIELDS = {
    "vpn_gateway_id": "GatewayId",
    "transit_gateway_id": "TransitGatewayId",
    "network_interface_id": "NetworkInterfaceId",
    "gateway_id": "GatewayId",
}

# Every field by which a route of DescribeRouteTables names where it goes.
ROUTE_TARGET_FIELDS = (
    "GatewayId", "TransitGatewayId", "NetworkInterfaceId", "NatGatewayId", "VpcPeeringConnectionId",
    "InstanceId", "LocalGatewayId", "CarrierGatewayId", "EgressOnlyInternetGatewayId", "CoreNetworkArn",
)


def normalize_cidrs(cidrs):
    """(normalized CIDRs in the given order without duplicates, problems)."""
    seen = []
    problems = []
    for cidr in cidrs or []:
        try:
            network = ipaddress.ip_network(str(cidr).strip(), strict=True)
        except ValueError as exc:
            problems.append("cidrs: %r is not a network in CIDR notation (%s); give it like 10.200.0.0/16." % (cidr, exc))
            continue
        text = str(network)
        if text not in seen:
            seen.append(text)
    if not cidrs:
        problems.append("cidrs is empty; give the hybrid node and pod CIDRs (hybrid_remote_node_cidrs, "
                        "hybrid_remote_pod_cidrs).")
    return seen, problems


def route_destination(route):
    """The destination CIDR of a DescribeRouteTables route, normalized, or None (prefix-list routes)."""
    text = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
    if not text:
        return None
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def route_target(route):
    """'<Field>=<id>' for where a route goes, for comparison and reports."""
    for field in ROUTE_TARGET_FIELDS:
        if route.get(field):
            return "%s=%s" % (field, route[field])
    return None


def plan_table(table, cidrs, target_field, target_id):
    """The plan of one route table: {'create': [...], 'replace': [...], 'unchanged': [...], problems...}.

    ``replace`` items are {'cidr', 'from'}; ``before``/``after`` map each managed CIDR to its target
    (None when there is no route) for diff. Propagated routes (Origin EnableVgwRoutePropagation) do not
    count as existing: a static route is created, which takes precedence over them.
    """
    wanted = "%s=%s" % (target_field, target_id)
    current = {}
    for route in table.get("Routes") or []:
        if route.get("Origin") == "EnableVgwRoutePropagation":
            continue
        destination = route_destination(route)
        if destination in cidrs:
            current[destination] = route
    result = {"route_table_id": table["RouteTableId"], "vpc_id": table.get("VpcId"),
              "create": [], "replace": [], "unchanged": [], "problems": [], "before": {}, "after": {}}
    for cidr in cidrs:
        route = current.get(cidr)
        have = route_target(route) if route else None
        result["before"][cidr] = have
        result["after"][cidr] = wanted
        if route is None:
            result["create"].append(cidr)
        elif have == "GatewayId=local" or route.get("Origin") == "CreateRouteTable":
            result["problems"].append(
                "route table %s: %s is the VPC's own local route; it cannot point at %s. Remove %s from "
                "cidrs: the hybrid node and pod CIDRs must not overlap the VPC CIDRs."
                % (table["RouteTableId"], cidr, target_id, cidr))
            result["after"][cidr] = have
        elif have == wanted and route.get("State", "active") == "active":
            result["unchanged"].append(cidr)
        else:
            result["replace"].append({"cidr": cidr, "from": have, "state": route.get("State")})
    return result


def takeover_problems(plans):
    """One problem per active route that points elsewhere and would be replaced (a blackhole route's target is gone,
    so replacing it takes nothing over)."""
    return ["route table %s: %s points at %s (active); it is not replaced silently. Fix: check what uses that route, "
            "then set replace_existing (hybrid_vpc_routes_replace_existing) to replace it."
            % (plan["route_table_id"], item["cidr"], item["from"])
            for plan in plans for item in plan["replace"] if (item.get("state") or "active") != "blackhole"]


def plan_tables(tables, route_table_ids, cidrs, target_field, target_id):
    """Plans for every requested table: {'tables': [plan...], 'problems': [...]}.

    ``tables`` is the RouteTables list of one DescribeRouteTables answer. A requested table missing
    from it is a problem naming the table and the fix; no plan is made for it.
    """
    by_id = dict((table["RouteTableId"], table) for table in tables or [])
    plans = []
    problems = []
    missing = [rt_id for rt_id in route_table_ids if rt_id not in by_id]
    if missing:
        problems.append(
            "route table(s) %s not found in this account and region; check route_table_ids (and the region) "
            "against 'aws ec2 describe-route-tables', e.g. the route tables of the EKS cluster's subnets."
            % ", ".join(missing))
    seen = []
    for rt_id in route_table_ids:
        if rt_id in by_id and rt_id not in seen:
            seen.append(rt_id)
            plan = plan_table(by_id[rt_id], cidrs, target_field, target_id)
            problems.extend(plan["problems"])
            plans.append(plan)
    return {"tables": plans, "problems": problems}


def writes(plans):
    """The number of CreateRoute/ReplaceRoute calls the plans need."""
    return sum(len(plan["create"]) + len(plan["replace"]) for plan in plans)
