# -*- coding: utf-8 -*-
"""vpc_hybrid_routes through its main(), against botocore's Stubber (calls checked against the EC2 model)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import route_plan
from ansible_collections.hybridnodes.eks.plugins.modules import vpc_hybrid_routes

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
VGW = "vgw-0123456789abcdef0"
RT1 = "rtb-00000000000000001"
RT2 = "rtb-00000000000000002"
RT3 = "rtb-00000000000000003"
NODE = "10.200.0.0/16"
POD = "10.201.0.0/16"


def run(capsys, check_mode=False, diff=False, **options):
    args = dict(ARGS, **options)
    args.setdefault("cidrs", [NODE, POD])
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            vpc_hybrid_routes.main()
    return json.loads(capsys.readouterr().out)


def table(rt_id, *routes):
    base = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0aa", "Origin": "CreateRoute", "State": "active"}]
    return {"RouteTableId": rt_id, "VpcId": "vpc-0aa", "Routes": base + list(routes)}


def route(cidr, state="active", **target):
    return dict({"DestinationCidrBlock": cidr, "Origin": "CreateRoute", "State": state}, **target)


def describe(*ids):
    return {"Filters": [{"Name": "route-table-id", "Values": list(ids)}]}


def test_one_describe_for_all_tables_then_create_and_replace(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [
        table(RT1), table(RT2, route(NODE, GatewayId=VGW), route(POD, NetworkInterfaceId="eni-0bb")),
        table(RT3, route(NODE, GatewayId=VGW), route(POD, GatewayId=VGW))]}, describe(RT1, RT2, RT3))
    stubs.add("ec2", "create_route", {"Return": True}, {"RouteTableId": RT1, "GatewayId": VGW, "DestinationCidrBlock": NODE})
    stubs.add("ec2", "create_route", {"Return": True}, {"RouteTableId": RT1, "GatewayId": VGW, "DestinationCidrBlock": POD})
    stubs.add("ec2", "replace_route", {}, {"RouteTableId": RT2, "GatewayId": VGW, "DestinationCidrBlock": POD})
    result = run(capsys, diff=True, route_table_ids=[RT1, RT2, RT3], vpn_gateway_id=VGW, replace_existing=True)
    assert result["changed"] is True
    plans = dict((item["route_table_id"], item) for item in result["tables"])
    assert plans[RT1]["create"] == [NODE, POD] and plans[RT1]["replace"] == []
    assert plans[RT2]["unchanged"] == [NODE]
    assert plans[RT2]["replace"] == [{"cidr": POD, "from": "NetworkInterfaceId=eni-0bb", "state": "active"}]
    assert plans[RT3]["unchanged"] == [NODE, POD] and plans[RT3]["results"] == []
    assert [r["operation"] for r in plans[RT1]["results"]] == ["CreateRoute", "CreateRoute"]
    assert result["diff"]["before"][RT2] == {NODE: "GatewayId=" + VGW, POD: "NetworkInterfaceId=eni-0bb"}
    assert result["diff"]["after"][RT1] == {NODE: "GatewayId=" + VGW, POD: "GatewayId=" + VGW}
    stubs.verify()


def test_rerun_makes_no_write(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [
        table(RT1, route(NODE, TransitGatewayId="tgw-0aa"), route(POD, TransitGatewayId="tgw-0aa"))]}, describe(RT1))
    result = run(capsys, route_table_ids=[RT1], transit_gateway_id="tgw-0aa")
    assert result["changed"] is False
    assert result["tables"][0]["unchanged"] == [NODE, POD]
    stubs.verify()  # no write queued: any write would have failed the run


def test_blackhole_route_with_the_same_target_is_replaced(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [
        table(RT1, route(NODE, state="blackhole", GatewayId=VGW), route(POD, GatewayId=VGW))]}, describe(RT1))
    stubs.add("ec2", "replace_route", {}, {"RouteTableId": RT1, "GatewayId": VGW, "DestinationCidrBlock": NODE})
    result = run(capsys, route_table_ids=[RT1], vpn_gateway_id=VGW)
    assert result["changed"] is True
    stubs.verify()


def test_an_active_route_that_points_elsewhere_is_not_replaced_silently(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [
        table(RT1, route(NODE, GatewayId=VGW), route(POD, VpcPeeringConnectionId="pcx-0aa"))]}, describe(RT1))
    result = run(capsys, diff=True, route_table_ids=[RT1], vpn_gateway_id=VGW)
    assert result["failed"] is True and "Nothing was changed" in result["msg"]
    assert "%s: %s points at VpcPeeringConnectionId=pcx-0aa (active)" % (RT1, POD) in result["msg"]
    assert "replace_existing" in result["msg"]
    stubs.verify()  # no write queued: any write would have failed the run


def test_check_mode_predicts_without_writing(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [table(RT1, route(POD, GatewayId="vgw-0old"))]}, describe(RT1))
    result = run(capsys, check_mode=True, diff=True, route_table_ids=[RT1], vpn_gateway_id=VGW, replace_existing=True)
    assert result["changed"] is True
    assert result["tables"][0]["create"] == [NODE]
    assert result["tables"][0]["replace"][0]["from"] == "GatewayId=vgw-0old"
    assert result["tables"][0]["results"] == []
    assert result["diff"]["before"] == {RT1: {NODE: None, POD: "GatewayId=vgw-0old"}}
    stubs.verify()


def test_unknown_table_fails_before_any_write_naming_it(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [table(RT1)]}, describe(RT1, RT2))
    result = run(capsys, route_table_ids=[RT1, RT2], vpn_gateway_id=VGW)
    assert result["failed"] is True
    assert RT2 in result["msg"] and RT1 not in result["msg"].split("not found")[0]
    assert "route_table_ids" in result["msg"] and "Nothing was changed" in result["msg"]
    stubs.verify()


def test_propagated_route_does_not_count_and_other_routes_are_untouched(stubs, capsys):
    propagated = {"DestinationCidrBlock": NODE, "GatewayId": VGW, "Origin": "EnableVgwRoutePropagation", "State": "active"}
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [table(RT1, propagated, route(POD, GatewayId=VGW),
                                                                     route("10.202.0.0/16", GatewayId="vgw-other"))]},
              describe(RT1))
    stubs.add("ec2", "create_route", {"Return": True}, {"RouteTableId": RT1, "GatewayId": VGW, "DestinationCidrBlock": NODE})
    result = run(capsys, route_table_ids=[RT1], vpn_gateway_id=VGW)
    assert result["tables"][0]["create"] == [NODE] and result["tables"][0]["unchanged"] == [POD]
    stubs.verify()


def test_input_problems_are_all_reported_without_a_call(stubs, capsys):
    result = run(capsys, route_table_ids=[" "], cidrs=["10.200.0.1/16", "nonsense"], vpn_gateway_id=VGW)
    assert result["failed"] is True
    assert len(result["problems"]) == 3
    assert stubs.stubbers == {}  # no client was even made


def test_exactly_one_target(stubs, capsys):
    result = run(capsys, route_table_ids=[RT1], vpn_gateway_id=VGW, transit_gateway_id="tgw-0aa")
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    result = run(capsys, route_table_ids=[RT1])
    assert result["failed"] is True and "one of the following is required" in result["msg"]


def test_local_route_is_a_problem_naming_the_fix():
    planned = route_plan.plan_tables([table(RT1)], [RT1], ["10.0.0.0/16"], "GatewayId", VGW)
    assert planned["problems"] and "local route" in planned["problems"][0]
    assert "must not overlap the VPC CIDRs" in planned["problems"][0]


def test_ipv6_create_uses_the_ipv6_field(stubs, capsys):
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [table(RT1)]}, describe(RT1))
    stubs.add("ec2", "create_route", {"Return": True},
              {"RouteTableId": RT1, "NetworkInterfaceId": "eni-0aa", "DestinationIpv6CidrBlock": "fd00:200::/56"})
    result = run(capsys, route_table_ids=[RT1], cidrs=["fd00:200::/56"], network_interface_id="eni-0aa")
    assert result["changed"] is True
    stubs.verify()
