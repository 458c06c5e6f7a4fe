# -*- coding: utf-8 -*-
"""static_route through its main(): `ip` answers recorded from a lab host; the persistent file in a temp dir."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import routes as rt
from ansible_collections.hybridnodes.eks.plugins.modules import static_route

GW = "10.200.0.254"
BASE = [{"dst": "default", "gateway": "10.200.0.1", "dev": "eth0", "protocol": "static", "flags": ["onlink"]},
        {"dst": "10.200.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "10.200.0.12"}]
WITH_ROUTE = BASE + [{"dst": "10.100.0.0/16", "gateway": GW, "dev": "eth0", "protocol": "static"}]


class FakeIp:
    """Plays `ip -j` (route show, route get) and records route changes: the kernel is out of reach in unit tests."""

    def __init__(self, routes, links=None):
        self.routes = routes
        self.links = links or {"10.200.0.": "eth0"}
        self.changes = []

    def run_command(self, args, **kwargs):
        assert isinstance(args, list)
        if args[1:3] == ["-j", "-4"] and args[3:5] == ["route", "show"]:
            return 0, json.dumps(self.routes), ""
        if args[1:3] == ["-j", "-4"] and args[3:5] == ["route", "get"]:
            target = args[5]
            for prefix, dev in self.links.items():
                if target.startswith(prefix):
                    return 0, json.dumps([{"dst": target, "dev": dev, "prefsrc": "10.200.0.254"}]), ""
            return 0, json.dumps([{"dst": target, "gateway": "10.200.0.1", "dev": "eth0"}]), ""
        if args[1:3] == ["-4", "route"]:
            self.changes.append(args[3:])
            return 0, "", ""
        if args[-1] == "reload":
            self.changes.append(["networkctl", "reload"])
            return 0, "", ""
        return 1, "", "unexpected %s" % args


@pytest.fixture
def host(tmp_path, monkeypatch):
    path = tmp_path / "10-eth0.network.d" / "hybridnodes-eks-routes.conf"
    monkeypatch.setattr(rt, "persistent_path", lambda stack, nic, network_file=None, route_set="vpc": str(
        path if route_set == "vpc" else path.parent / ("hybridnodes-eks-routes-%s.conf" % route_set)))
    monkeypatch.setattr(static_route, "gather_stack_facts", lambda module, nic: {
        "nic": nic, "networkd_active": True,
        "networkd_files": {"/etc/systemd/network/10-eth0.network": "[Match]\nName=eth0\n"}})
    monkeypatch.setattr(static_route, "_systemctl_active", lambda module, unit: False)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/sbin/" + name)
    return path


def run(capsys, monkeypatch, ip, check_mode=False, **options):
    monkeypatch.setattr(AnsibleModule, "run_command", ip.run_command)
    args = dict(options, _ansible_check_mode=check_mode, _ansible_diff=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            static_route.main()
    return json.loads(capsys.readouterr().out)


def test_adds_route_and_drop_in_then_converges(capsys, monkeypatch, host):
    ip = FakeIp(BASE)
    result = run(capsys, monkeypatch, ip, destinations=["10.100.0.0/16"], gateway=GW)
    assert result["changed"] is True and result["network_stack"] == "networkd"
    assert ip.changes == [["replace", "10.100.0.0/16", "via", GW, "dev", "eth0", "proto", "static"]]
    assert host.read_text() == rt.HEADER + "\n[Route]\nDestination=10.100.0.0/16\nGateway=10.200.0.254\n"
    assert result["diff"][0]["before"] == "" and result["diff"][0]["after"] == "10.100.0.0/16 via 10.200.0.254\n"
    again = FakeIp(WITH_ROUTE)
    result = run(capsys, monkeypatch, again, destinations=["10.100.0.0/16"], gateway=GW)
    assert result["changed"] is False and again.changes == []


def test_check_mode_predicts_and_changes_nothing(capsys, monkeypatch, host):
    ip = FakeIp(BASE)
    result = run(capsys, monkeypatch, ip, check_mode=True, destinations=["10.100.0.0/16"], gateway=GW)
    assert result["changed"] is True and result["file_changed"] is True
    assert result["plan"]["replace"][0]["dst"] == "10.100.0.0/16"
    assert ip.changes == [] and not host.exists()


def test_not_on_link_next_hop_is_refused_before_any_change(capsys, monkeypatch, host):
    ip = FakeIp(BASE)
    result = run(capsys, monkeypatch, ip, destinations=["10.100.0.0/16", "bogus"], gateway="10.99.0.1")
    assert result["failed"] is True
    assert len(result["problems"]) == 1 and "'bogus'" in result["msg"]
    result = run(capsys, monkeypatch, ip, destinations=["10.100.0.0/16"], gateway="10.99.0.1")
    assert "not on-link" in result["msg"] and ip.changes == [] and not host.exists()


def test_moving_and_removing_touch_only_managed_routes(capsys, monkeypatch, host):
    run(capsys, monkeypatch, FakeIp(BASE), destinations=["10.100.0.0/16"], gateway=GW)
    ip = FakeIp(WITH_ROUTE)
    result = run(capsys, monkeypatch, ip, destinations=["10.100.0.0/16"], gateway="10.200.0.1")
    assert ip.changes == [["replace", "10.100.0.0/16", "via", "10.200.0.1", "dev", "eth0", "proto", "static"]]
    assert "Gateway=10.200.0.1\n" in host.read_text()
    moved = FakeIp(BASE + [{"dst": "10.100.0.0/16", "gateway": "10.200.0.1", "dev": "eth0"},
                           {"dst": "10.50.0.0/16", "gateway": GW, "dev": "eth0"}])
    result = run(capsys, monkeypatch, moved, state="absent")
    assert result["changed"] is True
    assert moved.changes == [["del", "10.100.0.0/16", "via", "10.200.0.1", "dev", "eth0"]]
    assert not host.exists() and not host.parent.exists()
    result = run(capsys, monkeypatch, FakeIp(BASE), state="absent")
    assert result["changed"] is False


# A Linux VPN gateway: the pod CIDR of every hybrid node via the node's InternalIP, route set "pods".
POD = "10.201.0.0/16"
NODES = [{"destination": "10.201.0.0/25", "next_hop": "10.200.0.11", "node": "edge01"},
         {"destination": "10.201.0.128/25", "next_hop": "10.200.0.12", "node": "edge02"},
         {"destination": "10.201.1.0/25", "next_hop": "10.200.0.13", "node": "edge03"}]
POD_KERNEL = [{"dst": n["destination"], "gateway": n["next_hop"], "dev": "eth0", "protocol": "static"} for n in NODES]


def pods_file(host):
    return host.parent / "hybridnodes-eks-routes-pods.conf"


def test_pod_routes_in_one_execution_beside_the_vpc_set_then_converge(capsys, monkeypatch, host):
    host.parent.mkdir(parents=True)
    host.write_text(rt.HEADER + "\n[Route]\nDestination=10.100.0.0/16\nGateway=10.200.0.254\n")
    ip = FakeIp(BASE + [{"dst": "10.100.0.0/16", "gateway": GW, "dev": "eth0"}])
    result = run(capsys, monkeypatch, ip, routes=NODES, route_set="pods", purge_within=[POD])
    assert result["changed"] is True and result["route_set"] == "pods"
    assert ip.changes == [["replace", n["destination"], "via", n["next_hop"], "dev", "eth0", "proto", "static"]
                          for n in NODES]
    text = pods_file(host).read_text()
    assert text.startswith(rt.header("pods")) and text.count("[Route]") == 3
    assert "Destination=10.201.0.128/25\nGateway=10.200.0.12\n" in text
    assert host.read_text().count("[Route]") == 1  # the VPC set's file is not touched
    assert result["diff"][0]["after"] == "".join("%s via %s\n" % (n["destination"], n["next_hop"]) for n in NODES)
    again = FakeIp(BASE + POD_KERNEL)
    result = run(capsys, monkeypatch, again, routes=NODES, route_set="pods", purge_within=[POD])
    assert result["changed"] is False and again.changes == []
    assert result["diff"][0]["before"] == result["diff"][0]["after"]


def test_departed_node_loses_its_route_only_and_check_mode_predicts_it(capsys, monkeypatch, host):
    run(capsys, monkeypatch, FakeIp(BASE), routes=NODES, route_set="pods", purge_within=[POD])
    before = pods_file(host).read_text()
    ip = FakeIp(BASE + POD_KERNEL)
    remaining = [NODES[0], NODES[2]]
    result = run(capsys, monkeypatch, ip, check_mode=True, routes=remaining, route_set="pods", purge_within=[POD])
    assert result["changed"] is True
    assert result["plan"]["delete"] == [{"dst": "10.201.0.128/25", "gateway": "10.200.0.12", "dev": "eth0"}]
    assert ip.changes == [] and pods_file(host).read_text() == before
    result = run(capsys, monkeypatch, ip, routes=remaining, route_set="pods", purge_within=[POD])
    assert ip.changes == [["del", "10.201.0.128/25", "via", "10.200.0.12", "dev", "eth0"]]
    assert "10.201.0.128/25" not in pods_file(host).read_text()
    assert pods_file(host).read_text().count("[Route]") == 2
    # No node left (or a read that found none): refused by default, nothing changes.
    gone = FakeIp(BASE + [POD_KERNEL[0], POD_KERNEL[2]])
    result = run(capsys, monkeypatch, gone, routes=[], route_set="pods", purge_within=[POD])
    assert result["failed"] is True and "removes 2 of the 2 routes" in result["msg"], result
    assert gone.changes == [] and pods_file(host).read_text().count("[Route]") == 2
    # Allowed explicitly: the set's routes go, and its file with them.
    result = run(capsys, monkeypatch, gone, routes=[], route_set="pods", purge_within=[POD], allow_mass_removal=True)
    assert result["changed"] is True and len(gone.changes) == 2 and not pods_file(host).exists()


def test_pod_route_problems_are_refused_at_once_before_any_change(capsys, monkeypatch, host):
    ip = FakeIp(BASE, links={"10.200.0.1": "eth0", "10.100.0.": "eth1"})
    bad = NODES[:2] + [{"destination": "10.100.5.0/25", "next_hop": "10.100.0.30", "node": "cloud"}]
    result = run(capsys, monkeypatch, ip, routes=bad, route_set="pods", purge_within=[POD, "10.100.5.0/24"])
    assert result["failed"] is True and ip.changes == []
    assert "on different interfaces (eth0: 10.200.0.11, 10.200.0.12; eth1: 10.100.0.30)" in result["msg"]
    far = run(capsys, monkeypatch, FakeIp(BASE), routes=[dict(NODES[0], next_hop="10.77.0.5")], route_set="pods")
    assert "next hop 10.77.0.5 is not on-link" in far["msg"] and "the node's InternalIP must be on" in far["msg"]
    outside = run(capsys, monkeypatch, FakeIp(BASE), routes=bad, route_set="pods", purge_within=[POD])
    assert "10.100.5.0/25 (node cloud) lies outside purge_within" in outside["msg"]
    both = run(capsys, monkeypatch, FakeIp(BASE), routes=NODES, destinations=["10.100.0.0/16"])
    assert both["failed"] is True and "mutually exclusive" in both["msg"]
    assert not pods_file(host).exists()


def test_a_file_of_another_route_set_is_never_taken_over(capsys, monkeypatch, host):
    host.parent.mkdir(parents=True)
    pods_file(host).write_text(rt.HEADER + "\n[Route]\nDestination=10.201.0.0/25\nGateway=10.200.0.11\n")
    ip = FakeIp(BASE)
    result = run(capsys, monkeypatch, ip, routes=NODES, route_set="pods")
    assert result["failed"] is True and "is not the file of route set pods" in result["msg"] and ip.changes == []


def test_a_bad_interface_name_is_refused_before_any_read_or_change(capsys, monkeypatch, host):
    # A name that could inject a networkd directive or an option of ip never reaches the host.
    ip = FakeIp(BASE)
    result = run(capsys, monkeypatch, ip, destinations=["10.100.0.0/16"], gateway=GW, nic="eth0\nGateway=1.2.3.4")
    assert result["failed"] is True and "is not an interface name" in result["msg"]
    assert ip.changes == [] and not host.exists()
