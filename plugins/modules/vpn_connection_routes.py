#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vpn_connection_routes
short_description: Static routes of the hybrid CIDRs on a Site-to-Site VPN connection, with a tunnel health report
version_added: 0.1.0
description:
  - Ensures the static routes O(cidrs) (the hybrid node and pod CIDRs) on a static-routes-only AWS
    Site-to-Site VPN connection with C(CreateVpnConnectionRoute). Routes of the connection not in O(cidrs)
    are deleted only with O(purge=true).
  - Refuses a connection that uses dynamic (BGP) routing, naming the fix, since static routes cannot be set on it.
  - Optionally enables the propagation of the connection's virtual private gateway into the VPC route tables
    O(propagate_route_table_ids), where it is not already among their C(PropagatingVgws).
  - Optionally, for a VPN attached to a transit gateway, makes each CIDR of O(cidrs) in the transit gateway route
    table O(transit_gateway_route_table_id) point at O(transit_gateway_attachment_id) (found with
    C(SearchTransitGatewayRoutes), created or replaced where it differs).
  - Reports the health of the connection, the state of both tunnels and of the routes. A tunnel that is not
    C(UP) fails the run, warns, or is ignored as O(tunnel_down) says; the check is made after the routes are in
    place (they are needed as soon as the tunnel comes up), so a failure may come with C(changed=true).
  - Reads each resource once and writes only what differs; a re-run makes no write.
  - With O(report_only=true) it only reads and reports (for validation). Nothing is written, C(changed) is always
    false, and RV(routes), RV(propagation) and RV(transit_gateway_routes) say what a run without it would change.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  vpn_connection_id:
    description:
      - ID of the Site-to-Site VPN connection (C(vpn-...)).
    type: str
    required: true
  cidrs:
    description:
      - The networks the connection routes to the edge, the hybrid node and pod CIDRs.
      - Required unless O(report_only=true).
    type: list
    elements: str
  purge:
    description:
      - Delete the static routes of the connection that are not in O(cidrs).
    type: bool
    default: false
  propagate_route_table_ids:
    description:
      - VPC route tables into which the virtual private gateway of the connection is to propagate its routes.
    type: list
    elements: str
    default: []
  transit_gateway_route_table_id:
    description:
      - Transit gateway route table in which O(cidrs) are to point at O(transit_gateway_attachment_id).
    type: str
  transit_gateway_attachment_id:
    description:
      - Transit gateway attachment (of the VPN) that O(cidrs) are to point at in O(transit_gateway_route_table_id).
    type: str
  tunnel_down:
    description:
      - What a tunnel of the connection that is not C(UP) does to the run.
    type: str
    default: warn
    choices: [fail, warn, ignore]
  report_only:
    description:
      - Only read the connection (and the route tables and transit gateway routes named) and report its health and
        what would change; make no write and report C(changed=false).
      - A connection with dynamic (BGP) routing is then reported rather than refused (RV(health.static_routes_only)).
    type: bool
    default: false
  replace_existing:
    description:
      - Replace an active route of one of O(cidrs) in O(transit_gateway_route_table_id) that points at another
        attachment. Without it such a route is refused before any change, since it may carry traffic someone relies
        on; a blackhole route is replaced.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode (predicts without writing) and diff mode.
  - "IAM permissions with O(report_only=true): ec2:DescribeVpnConnections, and ec2:DescribeRouteTables or
    ec2:SearchTransitGatewayRoutes when O(propagate_route_table_ids) or O(transit_gateway_route_table_id) are given."
  - "IAM permissions: ec2:DescribeVpnConnections, and as needed ec2:CreateVpnConnectionRoute,
    ec2:DeleteVpnConnectionRoute, ec2:DescribeRouteTables, ec2:EnableVgwRoutePropagation,
    ec2:SearchTransitGatewayRoutes, ec2:CreateTransitGatewayRoute, ec2:ReplaceTransitGatewayRoute."
"""

EXAMPLES = r"""
- name: Static routes of the hybrid networks on the VPN, and their propagation to the VPC
  hybridnodes.eks.vpn_connection_routes:
    vpn_connection_id: vpn-0123456789abcdef0
    cidrs: "{{ hybrid_remote_node_cidrs + hybrid_remote_pod_cidrs }}"
    propagate_route_table_ids: [rtb-0123456789abcdef0]
    tunnel_down: fail

- name: A VPN on a transit gateway
  hybridnodes.eks.vpn_connection_routes:
    vpn_connection_id: vpn-0123456789abcdef0
    cidrs: [10.200.0.0/16, 10.201.0.0/16]
    transit_gateway_route_table_id: tgw-rtb-0123456789abcdef0
    transit_gateway_attachment_id: tgw-attach-0123456789abcdef0

- name: Are both tunnels up? (reads only)
  hybridnodes.eks.vpn_connection_routes:
    vpn_connection_id: vpn-0123456789abcdef0
    report_only: true
    tunnel_down: ignore
  register: vpn

- name: Show the tunnels
  ansible.builtin.debug:
    msg: "{{ vpn.health.tunnels_up }} of {{ vpn.health.tunnels | length }} tunnels UP"
"""

RETURN = r"""
routes:
  description: What was done to the static routes of the connection.
  returned: always
  type: dict
  contains:
    created:
      description: CIDRs added (or in check mode to be added).
      type: list
      elements: str
      returned: always
      sample: [10.200.0.0/16]
    deleted:
      description: CIDRs removed because of O(purge).
      type: list
      elements: str
      returned: always
      sample: []
    unchanged:
      description: CIDRs already present.
      type: list
      elements: str
      returned: always
      sample: [10.201.0.0/16]
    extra:
      description: Static routes of the connection not in O(cidrs), kept because O(purge=false).
      type: list
      elements: str
      returned: always
      sample: []
propagation:
  description: Route tables where the gateway's propagation was enabled, or already was.
  returned: always
  type: dict
  sample: {"enabled": ["rtb-0123456789abcdef0"], "unchanged": [], "vpn_gateway_id": "vgw-0123456789abcdef0"}
transit_gateway_routes:
  description: Transit gateway routes created, replaced (with their former attachment) or unchanged.
  returned: always
  type: dict
  sample: {"create": ["10.200.0.0/16"], "replace": [], "unchanged": []}
health:
  description: Tunnels and routes of the connection as read before any change.
  returned: always
  type: dict
  contains:
    vpn_connection_id:
      description: ID of the connection.
      type: str
      returned: always
      sample: vpn-0123456789abcdef0
    state:
      description: State of the connection.
      type: str
      returned: always
      sample: available
    static_routes_only:
      description: Whether the connection uses static routing (false for BGP).
      type: bool
      returned: always
      sample: true
    tunnels:
      description: Each tunnel's outside IP, status and status message.
      type: list
      elements: dict
      returned: always
      sample: [{"outside_ip": "203.0.113.10", "status": "UP", "status_message": ""}]
    tunnels_up:
      description: How many tunnels are up.
      type: int
      returned: always
      sample: 2
    route_states:
      description: State of each static route of the connection.
      type: dict
      returned: always
      sample: {"10.200.0.0/16": "available"}
    problems:
      description: What is unhealthy, one sentence each.
      type: list
      elements: str
      returned: always
      sample: []
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils import aws
from ansible_collections.hybridnodes.eks.plugins.module_utils import route_plan

GONE = ("deleting", "deleted")


def read_connection(module, client, vpn_id):
    fix = aws.fix_when("InvalidVpnConnectionID.NotFound",
                       "Check vpn_connection_id and the region against 'aws ec2 describe-vpn-connections'.")
    found = aws.call(module, client, "describe_vpn_connections", "VPN connection %s" % vpn_id, "ec2", fix=fix,
                     VpnConnectionIds=[vpn_id])["VpnConnections"]
    if not found:
        module.fail_json(msg="VPN connection %s not found; check vpn_connection_id and the region against "
                             "'aws ec2 describe-vpn-connections'." % vpn_id)
    return found[0]


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


def plan_static(connection, cidrs, purge):
    present = [route_plan.route_destination(item) for item in connection.get("Routes") or []
               if item.get("State") not in GONE]
    extra = [cidr for cidr in present if cidr not in cidrs]
    return {"created": [cidr for cidr in cidrs if cidr not in present],
            "unchanged": [cidr for cidr in cidrs if cidr in present],
            "deleted": extra if purge else [], "extra": [] if purge else extra}


def ensure_static(module, client, vpn_id, plan):
    if module.check_mode or module.params["report_only"]:
        return
    for cidr in plan["created"]:
        aws.call(module, client, "create_vpn_connection_route", "route %s of VPN connection %s" % (cidr, vpn_id), "ec2",
                 VpnConnectionId=vpn_id, DestinationCidrBlock=cidr)
    for cidr in plan["deleted"]:
        aws.call(module, client, "delete_vpn_connection_route", "route %s of VPN connection %s" % (cidr, vpn_id), "ec2",
                 absent=("InvalidRoute.NotFound",), VpnConnectionId=vpn_id, DestinationCidrBlock=cidr)


def plan_propagation(module, client, vgw_id, route_table_ids):
    result = {"vpn_gateway_id": vgw_id, "enabled": [], "unchanged": []}
    if not route_table_ids:
        return result
    tables = aws.list_all(module, client, "describe_route_tables", "RouteTables",
                          "route tables %s" % ", ".join(route_table_ids), "ec2",
                          Filters=[{"Name": "route-table-id", "Values": list(route_table_ids)}])
    by_id = dict((table["RouteTableId"], table) for table in tables)
    missing = [rt_id for rt_id in route_table_ids if rt_id not in by_id]
    if missing:
        module.fail_json(msg="Nothing was changed: route table(s) %s not found; check propagate_route_table_ids and the "
                             "region against 'aws ec2 describe-route-tables'." % ", ".join(missing))
    for rt_id in route_table_ids:
        vgws = [item.get("GatewayId") for item in by_id[rt_id].get("PropagatingVgws") or []]
        (result["unchanged"] if vgw_id in vgws else result["enabled"]).append(rt_id)
    return result


def ensure_propagation(module, client, plan):
    if module.check_mode or module.params["report_only"]:
        return
    for rt_id in plan["enabled"]:
        aws.call(module, client, "enable_vgw_route_propagation",
                 "propagation of %s into route table %s" % (plan["vpn_gateway_id"], rt_id), "ec2",
                 GatewayId=plan["vpn_gateway_id"], RouteTableId=rt_id)


def plan_tgw(module, client, table_id, attachment_id, cidrs):
    result = {"create": [], "replace": [], "unchanged": []}
    if not table_id:
        return result
    found = aws.call(module, client, "search_transit_gateway_routes", "transit gateway route table %s" % table_id, "ec2",
                     TransitGatewayRouteTableId=table_id,
                     Filters=[{"Name": "route-search.exact-match", "Values": list(cidrs)}])["Routes"]
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


def ensure_tgw(module, client, table_id, attachment_id, plan):
    if module.check_mode or module.params["report_only"]:
        return
    calls = [("create_transit_gateway_route", cidr) for cidr in plan["create"]]
    calls += [("replace_transit_gateway_route", item["cidr"]) for item in plan["replace"]]
    for method, cidr in calls:
        aws.call(module, client, method, "route %s -> %s in transit gateway route table %s" % (cidr, attachment_id, table_id),
                 "ec2", TransitGatewayRouteTableId=table_id, DestinationCidrBlock=cidr,
                 TransitGatewayAttachmentId=attachment_id)


def main():
    argument_spec = dict(
        vpn_connection_id=dict(type="str", required=True),
        cidrs=dict(type="list", elements="str"),
        purge=dict(type="bool", default=False),
        propagate_route_table_ids=dict(type="list", elements="str", default=[]),
        transit_gateway_route_table_id=dict(type="str"),
        transit_gateway_attachment_id=dict(type="str"),
        tunnel_down=dict(type="str", default="warn", choices=["fail", "warn", "ignore"]),
        report_only=dict(type="bool", default=False),
        replace_existing=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_together=[["transit_gateway_route_table_id", "transit_gateway_attachment_id"]],
                              required_if=[("report_only", False, ["cidrs"])])
    params = module.params
    vpn_id = params["vpn_connection_id"]
    report_only = params["report_only"]
    cidrs, problems = route_plan.normalize_cidrs(params["cidrs"] or []) if params["cidrs"] or not report_only else ([], [])
    if problems:
        module.fail_json(msg="Nothing was changed: %s" % " ".join(problems), problems=problems)

    client = aws.aws_client(module, "ec2")
    connection = read_connection(module, client, vpn_id)
    problems = []
    if not report_only and not (connection.get("Options") or {}).get("StaticRoutesOnly"):
        problems.append("VPN connection %s uses dynamic (BGP) routing, so static routes cannot be set on it: advertise "
                        "the hybrid CIDRs over BGP from the customer gateway instead, or recreate the connection with "
                        "static routing (Options.StaticRoutesOnly=true)." % vpn_id)
    vgw_id = connection.get("VpnGatewayId")
    if params["propagate_route_table_ids"] and not vgw_id:
        problems.append("VPN connection %s has no virtual private gateway (it is on transit gateway %s), so there is "
                        "nothing to propagate; drop propagate_route_table_ids and use transit_gateway_route_table_id."
                        % (vpn_id, connection.get("TransitGatewayId")))
    if problems:
        module.fail_json(msg="Nothing was changed: %s" % " ".join(problems), problems=problems)

    report = health(connection)
    static = plan_static(connection, cidrs, params["purge"])
    propagation = plan_propagation(module, client, vgw_id, params["propagate_route_table_ids"])
    tgw = plan_tgw(module, client, params["transit_gateway_route_table_id"], params["transit_gateway_attachment_id"], cidrs)
    # An active transit gateway route of a hybrid CIDR to another attachment is not replaced silently.
    taken = [item for item in tgw["replace"] if item.get("state") == "active"]
    if taken and not params["replace_existing"] and not report_only:
        problems = ["transit gateway route table %s: %s points at %s (active); it is not replaced silently. Fix: check "
                    "what uses that route, then set replace_existing (hybrid_vpc_routes_replace_existing) to replace "
                    "it." % (params["transit_gateway_route_table_id"], item["cidr"], ", ".join(item["from"] or []))
                    for item in taken]
        module.fail_json(msg="Nothing was changed: %s" % " ".join(problems), problems=problems,
                         transit_gateway_routes=tgw)

    ensure_static(module, client, vpn_id, static)
    ensure_propagation(module, client, propagation)
    ensure_tgw(module, client, params["transit_gateway_route_table_id"], params["transit_gateway_attachment_id"], tgw)

    changed = not report_only and bool(static["created"] or static["deleted"] or propagation["enabled"]
                                       or tgw["create"] or tgw["replace"])
    result = dict(changed=changed, routes=static, propagation=propagation, transit_gateway_routes=tgw, health=report)
    if module._diff and not report_only:
        before = {"static_routes": sorted(static["unchanged"] + static["deleted"] + static["extra"]),
                  "propagating_route_tables": sorted(propagation["unchanged"]),
                  "transit_gateway_routes": dict([(item["cidr"], item["from"]) for item in tgw["replace"]]
                                                 + [(cidr, [params["transit_gateway_attachment_id"]]) for cidr in tgw["unchanged"]])}
        after = {"static_routes": sorted(static["unchanged"] + static["created"] + static["extra"]),
                 "propagating_route_tables": sorted(propagation["unchanged"] + propagation["enabled"]),
                 "transit_gateway_routes": dict((cidr, [params["transit_gateway_attachment_id"]]) for cidr in cidrs)
                 if params["transit_gateway_route_table_id"] else {}}
        result["diff"] = dict(before=before, after=after)
    tunnel_problems = [problem for problem in report["problems"] if problem.startswith("tunnel ")]
    if tunnel_problems and params["tunnel_down"] == "fail":
        module.fail_json(msg=" ".join(tunnel_problems) + " (tunnel_down=fail; set tunnel_down=warn to only warn)",
                         **result)
    if tunnel_problems and params["tunnel_down"] == "warn":
        for problem in tunnel_problems:
            module.warn(problem)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
