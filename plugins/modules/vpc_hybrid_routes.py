#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vpc_hybrid_routes
short_description: Routes of the hybrid node and pod CIDRs in VPC route tables towards the edge gateway
version_added: 0.1.0
description:
  - In each route table of O(route_table_ids), makes every CIDR of O(cidrs) (the hybrid node and pod
    CIDRs) point at one target, the gateway that reaches the edge sites, given by exactly one of
    O(vpn_gateway_id), O(transit_gateway_id), O(network_interface_id) or O(gateway_id).
  - A missing route is created with C(CreateRoute); a blackhole route of one of these CIDRs is replaced with
    C(ReplaceRoute). An active route of one of these CIDRs with another target is not replaced silently; the module
    refuses it, naming the route and its target, unless O(replace_existing=true), and the diff shows what it was.
    Only the CIDRs of O(cidrs) are looked at; no other route is changed or removed.
  - Reads all the route tables with one C(DescribeRouteTables) call and writes only what differs; a re-run
    makes no write.
  - Checks before any write, reporting every problem at once, that the CIDRs are valid networks, that every
    route table exists, and that no CIDR is a VPC local route.
  - Routes propagated from a virtual private gateway do not count as present; a static route is created,
    which takes precedence over them.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  route_table_ids:
    description:
      - The VPC route tables to route through, normally those of the EKS cluster's subnets.
    type: list
    elements: str
    required: true
  cidrs:
    description:
      - The networks to route to the edge, the hybrid node and pod CIDRs
        (C(hybrid_remote_node_cidrs) and C(hybrid_remote_pod_cidrs)).
    type: list
    elements: str
    required: true
  vpn_gateway_id:
    description:
      - Virtual private gateway (C(vgw-...)) of the Site-to-Site VPN or Direct Connect.
    type: str
  transit_gateway_id:
    description:
      - Transit gateway (C(tgw-...)) that reaches the edge sites.
    type: str
  network_interface_id:
    description:
      - Network interface (C(eni-...)) of a VPN appliance or router instance in the VPC.
    type: str
  gateway_id:
    description:
      - Any other gateway given by its ID in the C(GatewayId) field of a route.
    type: str
  replace_existing:
    description:
      - Replace an active route of one of O(cidrs) that points at another target (a VPC peering, another gateway, an
        instance). Without it such a route is refused, since it may carry traffic someone relies on.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Reads the route tables and predicts the routes it would create or replace, writing none.
  diff_mode:
    support: full
    details: The routes of the managed CIDRs in each route table, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes,
                                 amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
notes:
  - "IAM permissions: ec2:DescribeRouteTables, and as needed ec2:CreateRoute, ec2:ReplaceRoute."
"""

EXAMPLES = r"""
- name: Route the hybrid node and pod networks to the VPN gateway
  hybridnodes.eks.vpc_hybrid_routes:
    route_table_ids:
      - rtb-0123456789abcdef0
      - rtb-0fedcba9876543210
    cidrs: "{{ hybrid_remote_node_cidrs + hybrid_remote_pod_cidrs }}"
    vpn_gateway_id: vgw-0123456789abcdef0
    region: us-west-2

- name: Route them through a transit gateway instead
  hybridnodes.eks.vpc_hybrid_routes:
    route_table_ids: [rtb-0123456789abcdef0]
    cidrs: [10.200.0.0/16, 10.201.0.0/16]
    transit_gateway_id: tgw-0123456789abcdef0
"""

RETURN = r"""
tables:
  description: Per route table, the plan and what was done.
  returned: always
  type: list
  elements: dict
  contains:
    route_table_id:
      description: ID of the route table.
      type: str
      returned: always
      sample: rtb-0123456789abcdef0
    vpc_id:
      description: VPC of the route table.
      type: str
      returned: always
      sample: vpc-0123456789abcdef0
    create:
      description: CIDRs that had no route and are (or in check mode would be) created.
      type: list
      elements: str
      returned: always
      sample: [10.200.0.0/16]
    replace:
      description: Routes that pointed elsewhere, with the former target (C(<Field>=<id>)) and state.
      type: list
      elements: dict
      returned: always
      sample: [{"cidr": "10.201.0.0/16", "from": "NetworkInterfaceId=eni-0aa", "state": "active"}]
    unchanged:
      description: CIDRs already routed to the target.
      type: list
      elements: str
      returned: always
      sample: []
    results:
      description: The write calls made, in order (empty in check mode and when nothing differs).
      type: list
      elements: dict
      returned: always
      sample: [{"operation": "CreateRoute", "cidr": "10.200.0.0/16"}]
target:
  description: The target routes point at, as C(<Field>=<id>).
  returned: always
  type: str
  sample: GatewayId=vgw-0123456789abcdef0
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import route_plan

TARGET_OPTIONS = ["vpn_gateway_id", "transit_gateway_id", "network_interface_id", "gateway_id"]


def _describe(module, client, route_table_ids):
    """All requested route tables with one DescribeRouteTables call (a filter, so a missing ID is not an error)."""
    return aws.list_all(module, client, "describe_route_tables", "RouteTables", "route tables %s" % ", ".join(route_table_ids),
                        "ec2", Filters=[{"Name": "route-table-id", "Values": list(route_table_ids)}])


def _write(module, client, operation, plan, cidr, target_field, target_id):
    request = {"RouteTableId": plan["route_table_id"], target_field: target_id}
    if ":" in cidr:
        request["DestinationIpv6CidrBlock"] = cidr
    else:
        request["DestinationCidrBlock"] = cidr
    method = "create_route" if operation == "CreateRoute" else "replace_route"
    aws.call(module, client, method, "route %s -> %s in route table %s" % (cidr, target_id, plan["route_table_id"]),
             "ec2", **request)


def main():
    argument_spec = dict(
        route_table_ids=dict(type="list", elements="str", required=True),
        cidrs=dict(type="list", elements="str", required=True),
        vpn_gateway_id=dict(type="str"),
        transit_gateway_id=dict(type="str"),
        network_interface_id=dict(type="str"),
        gateway_id=dict(type="str"),
        replace_existing=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[TARGET_OPTIONS], required_one_of=[TARGET_OPTIONS])
    params = module.params
    option = [name for name in TARGET_OPTIONS if params[name]][0]
    target_field, target_id = route_plan.TARGET_FIELDS[option], params[option]

    cidrs, problems = route_plan.normalize_cidrs(params["cidrs"])
    route_table_ids = [rt_id.strip() for rt_id in params["route_table_ids"] if rt_id and rt_id.strip()]
    if not route_table_ids:
        problems.append("route_table_ids is empty; give the route tables of the EKS cluster's subnets.")
    if problems:
        module.fail_json(msg="Nothing was changed: %s" % " ".join(problems), problems=problems)

    client = aws.aws_client(module, "ec2")
    planned = route_plan.plan_tables(_describe(module, client, route_table_ids), route_table_ids, cidrs,
                                     target_field, target_id)
    if not params["replace_existing"]:
        planned["problems"] += route_plan.takeover_problems(planned["tables"])
    if planned["problems"]:
        module.fail_json(msg="Nothing was changed: %s" % " ".join(planned["problems"]),
                         problems=planned["problems"], tables=planned["tables"])

    tables = []
    for plan in planned["tables"]:
        results = []
        if not module.check_mode:
            for cidr in plan["create"]:
                _write(module, client, "CreateRoute", plan, cidr, target_field, target_id)
                results.append({"operation": "CreateRoute", "cidr": cidr})
            for item in plan["replace"]:
                _write(module, client, "ReplaceRoute", plan, item["cidr"], target_field, target_id)
                results.append({"operation": "ReplaceRoute", "cidr": item["cidr"]})
        tables.append(dict((key, plan[key]) for key in ("route_table_id", "vpc_id", "create", "replace", "unchanged")))
        tables[-1]["results"] = results

    result = dict(changed=route_plan.writes(planned["tables"]) > 0, tables=tables,
                  target="%s=%s" % (target_field, target_id))
    if module._diff:
        result["diff"] = dict(before=dict((plan["route_table_id"], plan["before"]) for plan in planned["tables"]),
                              after=dict((plan["route_table_id"], plan["after"]) for plan in planned["tables"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
