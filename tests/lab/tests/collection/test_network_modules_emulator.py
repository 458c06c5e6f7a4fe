"""vpc_hybrid_routes and vpn_connection_routes run by ansible-playbook against the lab's AWS emulator:
the first run writes, the re-run makes no write call (labapi counts); a DOWN tunnel warns or fails
as tunnel_down says.

Starts its own emulator on a free loopback port with a temporary state dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hnlab import aws
from hnlab.aws.clients import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, client
from hnlab.aws.labapi import LabApi
from hnlab.config import isolated
from hnlab.testing import LOCAL, play

NODE, POD = "10.200.0.0/16", "10.201.0.0/16"

PLAYBOOK = """
- name: Hybrid routes against the lab's emulator
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/hybridnodes.eks.aws:
      region: {region}
      endpoint_url: {endpoint}
      access_key: {access_key}
      secret_key: {secret_key}
  tasks:
    - name: Route the hybrid CIDRs to the VPN gateway
      hybridnodes.eks.vpc_hybrid_routes:
        route_table_ids: {route_table_ids}
        cidrs: ["{node}", "{pod}"]
        vpn_gateway_id: {vgw}
      register: vpc

    - name: Static routes on the VPN, propagation and the transit gateway
      hybridnodes.eks.vpn_connection_routes:
        vpn_connection_id: {vpn}
        cidrs: ["{node}", "{pod}"]
        propagate_route_table_ids: {route_table_ids}
        transit_gateway_route_table_id: {tgw_rt}
        transit_gateway_attachment_id: {tgw_att}
        tunnel_down: "{{{{ tunnel_down | default('warn') }}}}"
      register: vpn

    - name: Write what the modules returned
      ansible.builtin.copy:
        content: "{{{{ {{'vpc': vpc, 'vpn': vpn}} | to_json }}}}"
        dest: {out}
        mode: "0600"
      changed_when: false  # a test report, not a change to AWS
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cfg = isolated(tmp_path_factory.mktemp("state"), "moto_port")
    aws.start(cfg)
    try:
        ids = aws.seed(cfg, None, "https://10.100.0.20")
        yield cfg, ids
    finally:
        aws.stop(cfg)


def _run(playbook: Path, *extra: str) -> tuple[int, str]:
    return play("localhost,", playbook, *LOCAL, *extra, timeout=300, fake_aws=False)


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), (int(g) for g in match.groups())))


def test_first_run_writes_rerun_writes_nothing_and_a_down_tunnel(lab, tmp_path):
    cfg, ids = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    out = tmp_path / "seen.json"
    playbook = tmp_path / "routes.yml"
    playbook.write_text(PLAYBOOK.format(
        region=cfg.region, endpoint=cfg.moto_endpoint, access_key=FAKE_ACCESS_KEY, secret_key=FAKE_SECRET_KEY,
        route_table_ids=json.dumps(ids["route_table_ids"]), node=NODE, pod=POD, vgw=ids["vpn_gateway_id"],
        vpn=ids["vpn_connection_id"], tgw_rt=ids["transit_gateway_route_table_id"],
        tgw_att=ids["transit_gateway_attachment_id"], out=out))
    tables = len(ids["route_table_ids"])

    api.reset()
    code, output = _run(playbook, "--check")
    assert code == 0, output
    assert _recap(output)["changed"] == 2, output
    assert api.writes() == {}, api.requests()

    api.reset()
    code, output = _run(playbook)
    assert code == 0, output
    assert _recap(output)["changed"] == 2, output
    assert api.writes() == {("ec2", "CreateRoute"): 2 * tables, ("ec2", "CreateVpnConnectionRoute"): 2,
                            ("ec2", "EnableVgwRoutePropagation"): tables, ("ec2", "CreateTransitGatewayRoute"): 2}
    assert api.counts()[("ec2", "DescribeRouteTables")] == 2  # one per module, for all tables
    ec2 = client(cfg, "ec2")
    for table in ec2.describe_route_tables(RouteTableIds=ids["route_table_ids"])["RouteTables"]:
        routes = dict((r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in table["Routes"])
        assert routes[NODE] == routes[POD] == ids["vpn_gateway_id"]
        assert {"GatewayId": ids["vpn_gateway_id"]} in table["PropagatingVgws"]
    vpn = ec2.describe_vpn_connections(VpnConnectionIds=[ids["vpn_connection_id"]])["VpnConnections"][0]
    assert sorted(r["DestinationCidrBlock"] for r in vpn["Routes"]) == [NODE, POD]

    api.reset()
    code, output = _run(playbook)
    assert code == 0, output
    assert _recap(output)["changed"] == 0, output
    assert api.writes() == {}, api.requests()
    seen = json.loads(out.read_text())
    assert seen["vpn"]["health"]["tunnels_up"] == 2

    outside_ip = api.set_tunnel(ids["vpn_connection_id"], "DOWN", tunnel=1, message="IPSEC IS DOWN")
    try:
        code, output = _run(playbook)
        assert code == 0, output
        assert "[WARNING]" in output and outside_ip in output, output
        assert json.loads(out.read_text())["vpn"]["health"]["tunnels_up"] == 1

        api.reset()
        code, output = _run(playbook, "-e", "tunnel_down=fail")
        assert code != 0 and _recap(output)["failed"] == 1, output
        assert f"tunnel {outside_ip} of VPN connection {ids['vpn_connection_id']} is DOWN (IPSEC IS DOWN)" in output
        assert api.writes() == {}, api.requests()
    finally:
        api.set_tunnel(ids["vpn_connection_id"], "UP", tunnel=1)
