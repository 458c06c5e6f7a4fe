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
attributes:
  check_mode:
    support: full
    details: Reads the connection and predicts every write, making none, and reports the tunnels' health as a real
      run does.
  diff_mode:
    support: full
    details: The static routes, the propagating route tables and the transit gateway routes, before and after; none
      with O(report_only=true), which changes nothing.
extends_documentation_fragment: [hybridnodes.eks.attributes,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
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

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import route_plan
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import vpn_plan


def read_connection(module, client, vpn_id):
    fix = aws.fix_when("InvalidVpnConnectionID.NotFound",
                       "Check vpn_connection_id and the region against 'aws ec2 describe-vpn-connections'.")
    found = aws.call(module, client, "describe_vpn_connections", "VPN connection %s" % vpn_id, "ec2", fix=fix,
                     VpnConnectionIds=[vpn_id])["VpnConnections"]
    if not found:
        module.fail_json(msg="VPN connection %s not found; check vpn_connection_id and the region against "
                             "'aws ec2 describe-vpn-connections'." % vpn_id)
    return found[0]


def read_route_tables(module, client, route_table_ids):
    """The route tables to propagate into (one DescribeRouteTables call; none when there are none)."""
    if not route_table_ids:
        return []
    return aws.list_all(module, client, "describe_route_tables", "RouteTables",
                        "route tables %s" % ", ".join(route_table_ids), "ec2",
                        Filters=[{"Name": "route-table-id", "Values": list(route_table_ids)}])


def read_tgw_routes(module, client, table_id, cidrs):
    """The routes of ``cidrs`` in the transit gateway route table (None when there is no table)."""
    if not table_id:
        return None
    return aws.call(module, client, "search_transit_gateway_routes", "transit gateway route table %s" % table_id, "ec2",
                    TransitGatewayRouteTableId=table_id,
                    Filters=[{"Name": "route-search.exact-match", "Values": list(cidrs)}])["Routes"]


def ensure_static(module, client, vpn_id, plan):
    if module.check_mode or module.params["report_only"]:
        return
    for cidr in plan["created"]:
        aws.call(module, client, "create_vpn_connection_route", "route %s of VPN connection %s" % (cidr, vpn_id), "ec2",
                 VpnConnectionId=vpn_id, DestinationCidrBlock=cidr)
    for cidr in plan["deleted"]:
        aws.call(module, client, "delete_vpn_connection_route", "route %s of VPN connection %s" % (cidr, vpn_id), "ec2",
                 absent=("InvalidRoute.NotFound",), VpnConnectionId=vpn_id, DestinationCidrBlock=cidr)


def ensure_propagation(module, client, plan):
    if module.check_mode or module.params["report_only"]:
        return
    for rt_id in plan["enabled"]:
        aws.call(module, client, "enable_vgw_route_propagation",
                 "propagation of %s into route table %s" % (plan["vpn_gateway_id"], rt_id), "ec2",
                 GatewayId=plan["vpn_gateway_id"], RouteTableId=rt_id)


def ensure_tgw(module, client, table_id, attachment_id, plan):
    if module.check_mode or module.params["report_only"]:
        return
    calls = [("create_transit_gateway_route", cidr) for cidr in plan["create"]]
    calls += [("replace_transit_gateway_route", item["cidr"]) for item in plan["replace"]]
    for method, cidr in calls:
        aws.call(module, client, method, "route %s -> %s in transit gateway route table %s" % (cidr, attachment_id, table_id),
                 "ec2", TransitGatewayRouteTableId=table_id, DestinationCidrBlock=cidr,
                 TransitGatewayAttachmentId=attachment_id)


def build_module():
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
    return AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                            required_together=[["transit_gateway_route_table_id", "transit_gateway_attachment_id"]],
                            required_if=[("report_only", False, ["cidrs"])])


def fail_unless_none(module, problems, **extra):
    if problems:
        module.fail_json(msg="Nothing was changed: %s" % " ".join(problems), problems=problems, **extra)


def read_cidrs(module):
    """The hybrid CIDRs, normalized (none in report-only mode without cidrs)."""
    params = module.params
    if not (params["cidrs"] or not params["report_only"]):
        return []
    cidrs, problems = route_plan.normalize_cidrs(params["cidrs"] or [])
    fail_unless_none(module, problems)
    return cidrs


def read_state(module, client, cidrs):
    """The connection (failing when the options cannot apply to it), the route tables to propagate into and the
    transit gateway routes of ``cidrs``."""
    params = module.params
    vpn_id = params["vpn_connection_id"]
    connection = read_connection(module, client, vpn_id)
    fail_unless_none(module, vpn_plan.connection_problems(connection, vpn_id, params["report_only"],
                                                          params["propagate_route_table_ids"]))
    return {"connection": connection,
            "route_tables": read_route_tables(module, client, params["propagate_route_table_ids"]),
            "tgw_routes": read_tgw_routes(module, client, params["transit_gateway_route_table_id"], cidrs)}


def checked_plan(module, state, cidrs):
    """Every write the options ask for, from what was read; fails, changing nothing, on a problem."""
    params = module.params
    connection = state["connection"]
    propagation, missing = vpn_plan.plan_propagation(state["route_tables"], connection.get("VpnGatewayId"),
                                                     params["propagate_route_table_ids"])
    if missing:
        module.fail_json(msg="Nothing was changed: route table(s) %s not found; check propagate_route_table_ids and the "
                             "region against 'aws ec2 describe-route-tables'." % ", ".join(missing))
    tgw = vpn_plan.plan_tgw(state["tgw_routes"], params["transit_gateway_attachment_id"], cidrs)
    if not params["replace_existing"] and not params["report_only"]:
        fail_unless_none(module, vpn_plan.takeover_problems(tgw, params["transit_gateway_route_table_id"]),
                         transit_gateway_routes=tgw)
    return {"health": vpn_plan.health(connection), "routes": vpn_plan.plan_static(connection, cidrs, params["purge"]),
            "propagation": propagation, "transit_gateway_routes": tgw}


def apply_plan(module, client, plan):
    params = module.params
    ensure_static(module, client, params["vpn_connection_id"], plan["routes"])
    ensure_propagation(module, client, plan["propagation"])
    ensure_tgw(module, client, params["transit_gateway_route_table_id"], params["transit_gateway_attachment_id"],
               plan["transit_gateway_routes"])


def report(module, plan, cidrs):
    params = module.params
    static, propagation, tgw = plan["routes"], plan["propagation"], plan["transit_gateway_routes"]
    result = dict(plan, changed=not params["report_only"] and vpn_plan.changed(static, propagation, tgw))
    if module._diff and not params["report_only"]:
        result["diff"] = vpn_plan.diff(static, propagation, tgw, cidrs, params["transit_gateway_attachment_id"],
                                       params["transit_gateway_route_table_id"])
    tunnel_problems = [problem for problem in plan["health"]["problems"] if problem.startswith("tunnel ")]
    if tunnel_problems and params["tunnel_down"] == "fail":
        module.fail_json(msg=" ".join(tunnel_problems) + " (tunnel_down=fail; set tunnel_down=warn to only warn)",
                         **result)
    if tunnel_problems and params["tunnel_down"] == "warn":
        for problem in tunnel_problems:
            module.warn(problem)
    module.exit_json(**result)


def main():
    module = build_module()
    cidrs = read_cidrs(module)
    client = aws.aws_client(module, "ec2")
    plan = checked_plan(module, read_state(module, client, cidrs), cidrs)
    apply_plan(module, client, plan)
    report(module, plan, cidrs)


if __name__ == "__main__":
    main()
