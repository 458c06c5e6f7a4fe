# -*- coding: utf-8 -*-
"""vpn_connection_routes through its main(), against botocore's Stubber (calls checked against the EC2 model)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import vpn_connection_routes

ARGS = {"region": "us-west-2", "access_key": "AKIDEXAMPLE", "secret_key": "secret", "endpoint_url": "http://127.0.0.1:1"}
VPN = "vpn-0123456789abcdef0"
VGW = "vgw-0123456789abcdef0"
RT = "rtb-00000000000000001"
TGW_RT = "tgw-rtb-0123456789abcdef0"
TGW_ATT = "tgw-attach-0123456789abcdef0"
NODE = "10.200.0.0/16"
POD = "10.201.0.0/16"


def run(capsys, check_mode=False, diff=False, **options):
    args = dict(ARGS, vpn_connection_id=VPN, **options)
    args.setdefault("cidrs", [NODE, POD])
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            vpn_connection_routes.main()
    return json.loads(capsys.readouterr().out)


def connection(routes=(), static=True, tunnels=("UP", "UP"), **extra):
    telemetry = [{"OutsideIpAddress": "203.0.113.1%d" % index, "Status": status, "StatusMessage": ""}
                 for index, status in enumerate(tunnels)]
    item = {"VpnConnectionId": VPN, "State": "available", "VpnGatewayId": VGW, "Type": "ipsec.1",
            "CustomerGatewayId": "cgw-0aa", "Options": {"StaticRoutesOnly": static}, "VgwTelemetry": telemetry,
            "Routes": [{"DestinationCidrBlock": cidr, "Source": "Static", "State": "available"} for cidr in routes]}
    item.update(extra)
    return {"VpnConnections": [item]}


DESCRIBE = {"VpnConnectionIds": [VPN]}


def test_creates_missing_routes_and_keeps_extras_without_purge(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[POD, "10.99.0.0/16"]), DESCRIBE)
    stubs.add("ec2", "create_vpn_connection_route", {}, {"VpnConnectionId": VPN, "DestinationCidrBlock": NODE})
    result = run(capsys, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == {"static_routes": sorted([POD, "10.99.0.0/16"]), "propagating_route_tables": [],
                                        "transit_gateway_routes": {}}
    assert result["routes"] == {"created": [NODE], "unchanged": [POD], "deleted": [], "extra": ["10.99.0.0/16"]}
    assert result["diff"]["after"]["static_routes"] == sorted([NODE, POD, "10.99.0.0/16"])
    assert result["health"]["tunnels_up"] == 2 and result["health"]["problems"] == []
    stubs.verify()


def test_purge_deletes_routes_not_wanted(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[NODE, POD, "10.99.0.0/16"]), DESCRIBE)
    stubs.add("ec2", "delete_vpn_connection_route", {}, {"VpnConnectionId": VPN, "DestinationCidrBlock": "10.99.0.0/16"})
    result = run(capsys, purge=True)
    assert result["changed"] is True and result["routes"]["deleted"] == ["10.99.0.0/16"]
    stubs.verify()


def test_rerun_makes_no_write(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[NODE, POD]), DESCRIBE)
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [{"RouteTableId": RT, "PropagatingVgws": [{"GatewayId": VGW}]}]},
              {"Filters": [{"Name": "route-table-id", "Values": [RT]}]})
    result = run(capsys, propagate_route_table_ids=[RT])
    assert result["changed"] is False and result["propagation"]["unchanged"] == [RT]
    stubs.verify()


def test_dynamic_connection_is_refused_with_the_fix(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(static=False), DESCRIBE)
    result = run(capsys)
    assert result["failed"] is True
    assert "BGP" in result["msg"] and "StaticRoutesOnly=true" in result["msg"] and VPN in result["msg"]
    stubs.verify()


def test_propagation_enabled_where_missing(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[NODE, POD]), DESCRIBE)
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [{"RouteTableId": RT, "PropagatingVgws": []}]},
              {"Filters": [{"Name": "route-table-id", "Values": [RT]}]})
    stubs.add("ec2", "enable_vgw_route_propagation", {}, {"GatewayId": VGW, "RouteTableId": RT})
    result = run(capsys, propagate_route_table_ids=[RT])
    assert result["changed"] is True and result["propagation"]["enabled"] == [RT]
    stubs.verify()


def test_check_mode_writes_nothing(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(), DESCRIBE)
    stubs.add("ec2", "search_transit_gateway_routes", {"Routes": []},
              {"TransitGatewayRouteTableId": TGW_RT, "Filters": [{"Name": "route-search.exact-match", "Values": [NODE, POD]}]})
    result = run(capsys, check_mode=True, transit_gateway_route_table_id=TGW_RT, transit_gateway_attachment_id=TGW_ATT)
    assert result["changed"] is True
    assert result["routes"]["created"] == [NODE, POD] and result["transit_gateway_routes"]["create"] == [NODE, POD]
    stubs.verify()


def _pod_route_on_another_attachment(stubs):
    """The VPN connection, and a transit gateway route table whose pod route goes to another attachment."""
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[NODE, POD]), DESCRIBE)
    stubs.add("ec2", "search_transit_gateway_routes", {"Routes": [
        {"DestinationCidrBlock": NODE, "State": "active", "Type": "static",
         "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": TGW_ATT}]},
        {"DestinationCidrBlock": POD, "State": "active", "Type": "static",
         "TransitGatewayAttachments": [{"TransitGatewayAttachmentId": "tgw-attach-other"}]}]},
        {"TransitGatewayRouteTableId": TGW_RT, "Filters": [{"Name": "route-search.exact-match", "Values": [NODE, POD]}]})


def test_transit_gateway_routes_created_and_replaced(stubs, capsys):
    _pod_route_on_another_attachment(stubs)
    stubs.add("ec2", "replace_transit_gateway_route", {},
              {"TransitGatewayRouteTableId": TGW_RT, "DestinationCidrBlock": POD, "TransitGatewayAttachmentId": TGW_ATT})
    result = run(capsys, diff=True, transit_gateway_route_table_id=TGW_RT, transit_gateway_attachment_id=TGW_ATT,
                 replace_existing=True)
    assert result["diff"]["before"]["transit_gateway_routes"] == {NODE: [TGW_ATT], POD: ["tgw-attach-other"]}
    assert result["diff"]["after"]["transit_gateway_routes"] == {NODE: [TGW_ATT], POD: [TGW_ATT]}
    assert result["transit_gateway_routes"]["unchanged"] == [NODE]
    assert result["transit_gateway_routes"]["replace"] == [{"cidr": POD, "from": ["tgw-attach-other"], "state": "active"}]
    stubs.verify()


def test_an_active_transit_gateway_route_elsewhere_is_not_replaced_silently(stubs, capsys):
    _pod_route_on_another_attachment(stubs)
    result = run(capsys, transit_gateway_route_table_id=TGW_RT, transit_gateway_attachment_id=TGW_ATT)
    assert result["failed"] is True and "%s points at tgw-attach-other (active)" % POD in result["msg"]
    assert "replace_existing" in result["msg"]
    stubs.verify()  # no write queued: any write would have failed the run


@pytest.mark.parametrize("mode", ["fail", "warn", "ignore"])
def test_a_down_tunnel(stubs, capsys, mode):
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[NODE, POD], tunnels=("UP", "DOWN")), DESCRIBE)
    result = run(capsys, tunnel_down=mode)
    assert result["health"]["tunnels_up"] == 1
    assert "203.0.113.11" in result["health"]["problems"][0]
    if mode == "fail":
        assert result["failed"] is True and "203.0.113.11" in result["msg"]
    else:
        assert not result.get("failed")
        warned = [item for item in result.get("warnings", []) if "203.0.113.11" in json.dumps(item)]
        assert len(warned) == (1 if mode == "warn" else 0)


def test_report_only_reads_and_predicts_but_never_writes(stubs, capsys):
    # Only the describe calls are queued: a write would find no stubbed response and fail the test.
    stubs.add("ec2", "describe_vpn_connections", connection(routes=[POD], tunnels=("UP", "DOWN")), DESCRIBE)
    stubs.add("ec2", "describe_route_tables", {"RouteTables": [{"RouteTableId": RT, "PropagatingVgws": []}]},
              {"Filters": [{"Name": "route-table-id", "Values": [RT]}]})
    result = run(capsys, diff=True, report_only=True, tunnel_down="ignore", propagate_route_table_ids=[RT])
    assert result["changed"] is False and "diff" not in result
    assert result["routes"]["created"] == [NODE] and result["propagation"]["enabled"] == [RT]
    assert result["health"]["vpn_connection_id"] == VPN and result["health"]["static_routes_only"] is True
    assert [tunnel["status"] for tunnel in result["health"]["tunnels"]] == ["UP", "DOWN"]
    assert result["health"]["tunnels_up"] == 1
    stubs.verify()


def test_report_only_needs_no_cidrs_and_reports_a_bgp_connection(stubs, capsys):
    stubs.add("ec2", "describe_vpn_connections", connection(static=False), DESCRIBE)
    args = dict(ARGS, vpn_connection_id=VPN, report_only=True, _ansible_check_mode=False, _ansible_diff=False)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            vpn_connection_routes.main()
    result = json.loads(capsys.readouterr().out)
    assert not result.get("failed"), result
    assert result["changed"] is False and result["health"]["static_routes_only"] is False
    assert result["health"]["tunnels_up"] == 2
    stubs.verify()


def test_cidrs_are_required_without_report_only(stubs, capsys):
    args = dict(ARGS, vpn_connection_id=VPN, _ansible_check_mode=False, _ansible_diff=False)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            vpn_connection_routes.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "cidrs" in result["msg"]
