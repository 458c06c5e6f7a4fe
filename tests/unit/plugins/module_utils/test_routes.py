# -*- coding: utf-8 -*-
"""Edge static routes: input checks, the plan, stack detection, renderers and their parsers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import routes as rt

GW = "10.200.0.254"
VPC = "10.100.0.0/16"

# `ip -j -4 route show table main` on a lab edge host, after the route is in place.
KERNEL_JSON = [
    {"dst": "default", "gateway": "10.200.0.1", "dev": "eth0", "protocol": "static", "flags": ["onlink"]},
    {"dst": "10.100.0.0/16", "gateway": "10.200.0.254", "dev": "eth0", "protocol": "static", "flags": []},
    {"dst": "10.200.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "10.200.0.12", "flags": []},
    {"type": "blackhole", "dst": "10.99.0.0/16", "flags": []},
]


def test_parse_ip_routes_normalises_and_skips_non_unicast():
    routes = rt.parse_ip_routes(KERNEL_JSON)
    assert [r["dst"] for r in routes] == ["0.0.0.0/0", "10.100.0.0/16", "10.200.0.0/24"]
    assert routes[1]["gateway"] == GW and routes[1]["dev"] == "eth0"
    assert rt.parse_ip_routes([{"dst": "10.1.2.3", "gateway": GW, "dev": "eth0"}])[0]["dst"] == "10.1.2.3/32"


def test_input_problems_reports_everything_at_once():
    problems = rt.input_problems(["10.100.0.0/16", "not-a-cidr", "fd00::/8", "10.200.0.0/16"], "10.200.0.254", "present")
    assert len(problems) == 3
    assert "'not-a-cidr'" in problems[0] and "hybrid_vpc_cidrs" in problems[0]
    assert "'fd00::/8'" in problems[1]
    assert "inside destination 10.200.0.0/16" in problems[2]
    assert rt.input_problems([], None, "present") == [
        "destinations is empty: give the EKS VPC CIDRs (hybrid_vpc_cidrs), or use state=absent.",
        "gateway is missing: give the VPN server IP (hybrid_vpn_server_ip), or use state=absent."]
    assert rt.input_problems([], None, "absent") == []
    assert "not an IPv4 address" in rt.input_problems([VPC], "vpn.example", "present")[0]


def test_desired_routes_dedupes_and_sorts():
    assert rt.desired_routes(["10.101.0.0/16", "10.100.0.5/16", VPC], GW, "eth0") == [
        {"dst": "10.100.0.0/16", "gateway": GW, "dev": "eth0"},
        {"dst": "10.101.0.0/16", "gateway": GW, "dev": "eth0"}]


@pytest.mark.parametrize("route_get,nic,fragment", [
    (None, None, "unreachable"),
    ([{"dst": "10.99.0.1", "gateway": "10.200.0.1", "dev": "eth0"}], None, "not on-link: this host reaches it through 10.200.0.1"),
    ([{"type": "blackhole", "dst": "10.99.0.1"}], None, "is blackhole"),
    ([{"dst": GW, "dev": "eth1", "prefsrc": "10.200.0.12"}], "eth0", "on-link on eth1, not on eth0"),
])
def test_next_hop_problems(route_get, nic, fragment):
    assert fragment in rt.next_hop_problem("10.99.0.1" if route_get and "gateway" in route_get[0] else GW, route_get, nic)


def test_next_hop_on_link_is_fine():
    assert rt.next_hop_problem(GW, [{"dst": GW, "dev": "eth0", "prefsrc": "10.200.0.12"}], "eth0") is None


def test_plan_adds_missing_and_keeps_present():
    kernel = rt.parse_ip_routes(KERNEL_JSON)
    desired = rt.desired_routes([VPC, "10.101.0.0/16"], GW, "eth0")
    result = rt.plan(desired, kernel, [])
    assert result["replace"] == [desired[1]]
    assert result["keep"] == [desired[0]]
    assert result["delete"] == []


def test_plan_moves_a_route_to_a_new_gateway():
    kernel = rt.parse_ip_routes(KERNEL_JSON)
    desired = rt.desired_routes([VPC], "10.200.0.253", "eth0")
    result = rt.plan(desired, kernel, [{"dst": VPC, "gateway": GW}])
    assert result == {"replace": desired, "delete": [], "keep": [], "retain": []}


def test_plan_removes_only_managed_routes():
    kernel = rt.parse_ip_routes(KERNEL_JSON + [{"dst": "10.102.0.0/16", "gateway": "10.200.0.9", "dev": "eth0"}])
    managed = [{"dst": VPC, "gateway": GW}, {"dst": "10.102.0.0/16", "gateway": GW}]
    result = rt.plan([], kernel, managed)
    # 10.102.0.0/16 goes through another gateway than the one recorded: someone else's route, left alone.
    assert result["delete"] == [{"dst": VPC, "gateway": GW, "dev": "eth0"}]
    assert result["replace"] == [] and result["keep"] == []


def test_plan_is_empty_when_converged():
    kernel = rt.parse_ip_routes(KERNEL_JSON)
    desired = rt.desired_routes([VPC], GW, "eth0")
    assert rt.plan(desired, kernel, [{"dst": VPC, "gateway": GW}]) == {"replace": [], "delete": [], "keep": desired,
                                                                       "retain": []}


def test_route_argv_is_a_list():
    route = {"dst": VPC, "gateway": GW, "dev": "eth0"}
    assert rt.route_argv("/usr/sbin/ip", "replace", route) == [
        "/usr/sbin/ip", "-4", "route", "replace", VPC, "via", GW, "dev", "eth0", "proto", "static"]
    assert rt.route_argv("ip", "del", route) == ["ip", "-4", "route", "del", VPC, "via", GW, "dev", "eth0"]


NETWORK_FILES = {
    "/etc/systemd/network/10-eth0.network": "[Match]\nName=eth0\n\n[Network]\nAddress=10.200.0.12/24\n",
    "/usr/lib/systemd/network/99-default.network": "[Match]\nName=*\n\n[Network]\nDHCP=yes\n",
    "/usr/lib/systemd/network/10-eth0.network": "[Match]\nName=eth0\n",
    "/etc/systemd/network/05-other.network": "[Match]\nName=eth1 !eth0\n",
}


def test_networkd_file_selection_follows_networkd_order():
    assert rt.networkd_network_file(NETWORK_FILES, "eth0") == "/etc/systemd/network/10-eth0.network"
    assert rt.networkd_network_file(NETWORK_FILES, "eth1") == "/etc/systemd/network/05-other.network"
    assert rt.networkd_network_file(NETWORK_FILES, "ens3") == "/usr/lib/systemd/network/99-default.network"
    assert rt.networkd_network_file({"/etc/systemd/network/a.network": "[Network]\nDHCP=yes\n"}, "eth0") is None


@pytest.mark.parametrize("facts,stack", [
    ({"nic": "eth0", "networkd_active": True, "networkd_files": NETWORK_FILES}, "networkd"),
    ({"nic": "eth0", "netplan_files": ["/etc/netplan/50-cloud-init.yaml"], "networkd_active": True,
      "networkd_files": NETWORK_FILES}, "netplan"),
    ({"nic": "eth0", "netplan_files": ["/etc/netplan/90-hybridnodes-eks-routes.yaml"], "networkd_active": True,
      "networkd_files": NETWORK_FILES}, "networkd"),
    ({"nic": "eth0", "networkmanager_active": True, "networkmanager_manages_nic": True}, "networkmanager"),
    ({"nic": "eth0", "networkmanager_active": True, "networkmanager_manages_nic": False,
      "ifupdown_nics": ["lo", "eth0"]}, "ifupdown"),
    ({"nic": "eth0", "ifcfg_nics": ["eth0"]}, "ifcfg"),
    ({"nic": "eth0", "networkd_active": False, "networkd_files": NETWORK_FILES}, None),
])
def test_detect_stack(facts, stack):
    found, reason = rt.detect_stack(facts)
    assert found == stack
    assert reason


ROUTES = [{"dst": "10.101.0.0/16", "gateway": GW}, {"dst": VPC, "gateway": GW}]


@pytest.mark.parametrize("stack", rt.STACKS)
def test_render_then_parse_round_trips(stack):
    text = rt.render(stack, "eth0", ROUTES)
    assert rt.MARKER in text
    assert rt.parse_persistent(stack, text) == sorted(ROUTES, key=lambda r: r["dst"])
    assert rt.render(stack, "eth0", []) is None


def test_networkd_drop_in_shape():
    assert rt.render("networkd", "eth0", ROUTES[1:]) == rt.HEADER + "\n[Route]\nDestination=10.100.0.0/16\nGateway=10.200.0.254\n"
    assert rt.persistent_path("networkd", "eth0", "/etc/systemd/network/10-eth0.network") == \
        "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
    # A .network shipped in /usr/lib gets its drop-in under /etc.
    assert rt.persistent_path("networkd", "eth0", "/usr/lib/systemd/network/99-default.network").startswith(
        "/etc/systemd/network/99-default.network.d/")


def test_hooks_only_act_on_their_interface():
    nm = rt.render("networkmanager", "eth0", ROUTES[1:])
    assert nm.startswith("#!/bin/sh\n")
    assert '[ "$1" = "eth0" ] || exit 0' in nm and 'case "$2" in up' in nm
    assert "ip -4 route replace 10.100.0.0/16 via 10.200.0.254 dev eth0 proto static" in nm
    assert '[ "$IFACE" = "eth0" ] || exit 0' in rt.render("ifupdown", "eth0", ROUTES[1:])
    assert rt.file_mode("networkmanager") == 0o700 and rt.file_mode("ifupdown") == 0o755


def test_netplan_file_merges_into_the_nic():
    text = rt.render("netplan", "ens3", ROUTES[1:])
    assert "ethernets:\n    ens3:\n      routes:\n        - to: 10.100.0.0/16\n          via: 10.200.0.254\n" in text


def test_files_of_others_list_no_managed_routes():
    assert rt.parse_persistent("ifcfg", "10.100.0.0/16 via 10.200.0.254 dev eth0\n") == []
    assert rt.parse_persistent("networkd", None) == []


def test_unknown_stack_is_refused():
    with pytest.raises(rt.RouteInputError):
        rt.persistent_path("wicked", "eth0")
    with pytest.raises(rt.RouteInputError):
        rt.persistent_path("networkd", "eth0")


# --------------------------------------------------------------------------
# Route sets with a next hop per destination (pod CIDRs on a Linux VPN gateway)

POD = "10.201.0.0/16"
POD_ROUTES = [{"destination": "10.201.0.128/25", "next_hop": "10.200.0.12", "node": "edge02"},
              {"destination": "10.201.0.0/25", "next_hop": "10.200.0.11", "node": "edge01"}]


def test_routes_give_one_sorted_route_per_destination_with_its_own_next_hop():
    assert rt.desired_from_routes(POD_ROUTES, "eth0") == [
        {"dst": "10.201.0.0/25", "gateway": "10.200.0.11", "dev": "eth0"},
        {"dst": "10.201.0.128/25", "gateway": "10.200.0.12", "dev": "eth0"}]
    assert rt.routes_problems(POD_ROUTES, [POD]) == []


def test_routes_problems_are_all_reported_at_once():
    problems = rt.routes_problems([
        {"destination": "10.201.0.0/25", "next_hop": "10.200.0.11", "node": "a"},
        {"destination": "10.201.0.0/25", "next_hop": "10.200.0.12", "node": "b"},
        {"destination": "10.201.1.0/25", "next_hop": "10.201.1.1", "node": "c"},
        {"destination": "172.16.0.0/25", "next_hop": "10.200.0.13", "node": "d"},
        {"destination": "nope", "next_hop": "10.200.0.14"},
        {"destination": "10.201.2.0/25", "next_hop": "fd00::1"},
    ], [POD, "bogus"])
    assert len(problems) == 6, problems
    assert "purge_within 'bogus'" in problems[0]
    assert "10.201.0.0/25 is given twice, via 10.200.0.11 and via 10.200.0.12 (node b)" in problems[1]
    assert "next hop 10.201.1.1 of 10.201.1.0/25 (node c) lies inside the destination" in problems[2]
    assert "172.16.0.0/25 (node d) lies outside purge_within (10.201.0.0/16)" in problems[3]
    assert "'nope'" in problems[4] and "'fd00::1'" in problems[5]


def test_plan_deletes_departed_routes_only_inside_purge_within():
    kernel = rt.parse_ip_routes(KERNEL_JSON + [
        {"dst": "10.201.0.0/25", "gateway": "10.200.0.11", "dev": "eth0"},
        {"dst": "10.201.0.128/25", "gateway": "10.200.0.12", "dev": "eth0"},
        {"dst": "10.77.0.0/24", "gateway": "10.200.0.13", "dev": "eth0"}])
    managed = [{"dst": "10.201.0.0/25", "gateway": "10.200.0.11"}, {"dst": "10.201.0.128/25", "gateway": "10.200.0.12"},
               {"dst": "10.77.0.0/24", "gateway": "10.200.0.13"}]
    desired = rt.desired_from_routes(POD_ROUTES[1:], "eth0")
    result = rt.plan(desired, kernel, managed, [POD])
    # edge02 left: its pod route goes; 10.77.0.0/24 is outside the pod networks: left alone and kept on record.
    assert result == {"replace": [], "keep": desired,
                      "delete": [{"dst": "10.201.0.128/25", "gateway": "10.200.0.12", "dev": "eth0"}],
                      "retain": [{"dst": "10.77.0.0/24", "gateway": "10.200.0.13"}]}
    # Without purge_within every managed route no longer wanted goes.
    assert len(rt.plan(desired, kernel, managed)["delete"]) == 2


def test_route_sets_have_their_own_file_and_header():
    assert rt.persistent_path("networkd", "eth0", "/etc/systemd/network/10-eth0.network", "pods") == \
        "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes-pods.conf"
    assert rt.persistent_path("netplan", "eth0", None, "pods") == "/etc/netplan/90-hybridnodes-eks-routes-pods.yaml"
    assert rt.persistent_path("networkd", "eth0", "/etc/systemd/network/10-eth0.network") == \
        "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
    pods = rt.render("networkd", "eth0", [{"dst": "10.201.0.0/25", "gateway": "10.200.0.11"}], "pods")
    assert pods.startswith("# Managed by hybridnodes.eks (static_route, route set pods).")
    assert rt.owned(pods, "pods") and not rt.owned(pods, "vpc")
    vpc = rt.render("ifcfg", "eth0", ROUTES[1:])
    assert rt.owned(vpc, "vpc") and not rt.owned(vpc, "pods")
    assert rt.parse_persistent("networkd", pods) == [{"dst": "10.201.0.0/25", "gateway": "10.200.0.11"}]
    hook = rt.render("ifupdown", "eth0", [{"dst": "10.201.0.0/25", "gateway": "10.200.0.11"}], "pods")
    assert rt.owned(hook, "pods") and "ip -4 route replace 10.201.0.0/25 via 10.200.0.11 dev eth0" in hook
    assert rt.route_set_problem("pods") is None and "route_set 'Pods/x'" in rt.route_set_problem("Pods/x")


def test_netplan_detection_ignores_every_route_set_file():
    facts = {"nic": "eth0", "netplan_files": ["/etc/netplan/90-hybridnodes-eks-routes.yaml",
                                              "/etc/netplan/90-hybridnodes-eks-routes-pods.yaml"]}
    assert rt.detect_stack(facts)[0] is None


@pytest.mark.parametrize("nic", ["eth0", "ens192", "enp0s31f6", "vlan.100", "br-edge", "wg0", "auto", "a" * 15])
def test_interface_names_the_kernel_takes(nic):
    assert rt.interface_problem(nic) is None


@pytest.mark.parametrize("nic", ["", "a" * 16, "eth0 eth1", "eth0\nAddress=1.2.3.4", "../etc", "eth0:1", ".", "..",
                                 "-c", "--help"])
def test_interface_names_refused(nic):
    problem = rt.interface_problem(nic)
    assert problem and "is not an interface name" in problem and "hybrid_nic" in problem


def _managed(*pairs):
    return [{"dst": dst, "gateway": gw} for dst, gw in pairs]


def test_mass_removal_guard_refuses_all_or_more_than_the_share():
    managed = _managed(("192.168.0.0/25", "10.200.0.11"), ("192.168.0.128/25", "10.200.0.12"),
                       ("192.168.1.0/25", "10.200.0.13"))
    kernel = [dict(r, dev="eth0") for r in managed]
    # an empty read: every route would go
    change = rt.plan([], kernel, managed, ["192.168.0.0/16"])
    problem = rt.mass_removal_problem(managed, change, 50)
    assert problem and "removes 3 of the 3 routes" in problem and "allow_mass_removal" in problem
    # one node departed of three: 33 % is within 50 %
    keep = [dict(r, dev="eth0") for r in managed[:2]]
    assert rt.mass_removal_problem(managed, rt.plan(keep, kernel, managed, ["192.168.0.0/16"]), 50) is None
    # two of three gone: 66 % is more than 50 %, but within 70 %
    change = rt.plan(keep[:1], kernel, managed, ["192.168.0.0/16"])
    assert "removes 2 of the 3" in rt.mass_removal_problem(managed, change, 50)
    assert rt.mass_removal_problem(managed, change, 70) is None
    # another cluster: the same destinations via other next hops count as removed
    other = [{"dst": r["dst"], "gateway": "10.200.0.9%d" % i, "dev": "eth0"} for i, r in enumerate(managed)]
    assert "removes 3 of the 3" in rt.mass_removal_problem(managed, rt.plan(other, kernel, managed, ["192.168.0.0/16"]), 50)
    # nothing held yet (a first run), or routes outside purge_within only: nothing to guard
    assert rt.mass_removal_problem([], rt.plan([], kernel, [], ["192.168.0.0/16"]), 50) is None
    assert rt.mass_removal_problem(managed, rt.plan([], kernel, managed, ["172.16.0.0/12"]), 50) is None
    # the last route of a one-node site is "all": refused unless allowed
    one = managed[:1]
    assert rt.mass_removal_problem(one, rt.plan([], kernel[:1], one, ["192.168.0.0/16"]), 50)
