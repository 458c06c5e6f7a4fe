# -*- coding: utf-8 -*-
"""static_route through its main(): `ip` answers recorded from a lab host; the persistent file in a temp dir."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.module_utils import routes as rt
from ansible_collections.hybridnodes.eks.plugins.modules import static_route

GW = "10.200.0.254"
BASE = [{"dst": "default", "gateway": "10.200.0.1", "dev": "eth0", "protocol": "static", "flags": ["onlink"]},
        {"dst": "10.200.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "10.200.0.12"}]
WITH_ROUTE = BASE + [{"dst": "10.100.0.0/16", "gateway": GW, "dev": "eth0", "protocol": "static"}]


class FakeIp:
    """Plays `ip -j` (route show, route get) and records route changes: the kernel is out of reach in unit tests."""

    def __init__(self, routes):
        self.routes = routes
        self.changes = []

    def run_command(self, args, **kwargs):
        assert isinstance(args, list)
        if args[1:3] == ["-j", "-4"] and args[3:5] == ["route", "show"]:
            return 0, json.dumps(self.routes), ""
        if args[1:3] == ["-j", "-4"] and args[3:5] == ["route", "get"]:
            target = args[5]
            if target.startswith("10.200.0."):
                return 0, json.dumps([{"dst": target, "dev": "eth0", "prefsrc": "10.200.0.12"}]), ""
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
    monkeypatch.setattr(rt, "persistent_path", lambda stack, nic, network_file=None: str(path))
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
