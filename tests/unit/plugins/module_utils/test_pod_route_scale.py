# -*- coding: utf-8 -*-
"""Planning and validating the pod routes of 10,000 CiliumNodes: correct, and well under a second.

What cilium_pod_routes_info plans (pod_routes.plan_routes) and what static_route then validates and plans on
the VPN gateway (routes.routes_problems, desired_from_routes, plan), end to end on synthetic nodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import pod_routes
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import routes as rt

COUNT = 10000
POOL = ["10.64.0.0/10"]
BOUND_S = 3.0  # generous for a busy CI machine; the benchmark target (benchmarks/bench.py) is 1 s


def cidr_of(index):
    """The index-th /25 of 10.64.0.0/10."""
    base = (10 << 24) | (64 << 16) | (index << 7)
    return "%d.%d.%d.%d/25" % (base >> 24, (base >> 16) & 255, (base >> 8) & 255, base & 255)


def synthetic(count):
    nodes, ips = [], {}
    for index in range(count):
        name = "hybrid-%05d" % index
        cidr = cidr_of(index)
        nodes.append({"metadata": {"name": name}, "spec": {"ipam": {"podCIDRs": [cidr]}}})
        ips[name] = "10.200.%d.%d" % (index // 250, index % 250 + 1)
    return nodes, ips


def plan_and_validate(nodes, ips, kernel):
    planned = pod_routes.plan_routes(nodes, ips, POOL)
    problems = rt.routes_problems(planned["routes"], POOL)
    desired = rt.desired_from_routes(planned["routes"], "eth0")
    return planned, problems, rt.plan(desired, kernel, [], POOL)


def test_ten_thousand_cilium_nodes_plan_and_validate_correctly_and_fast():
    nodes, ips = synthetic(COUNT)
    # the gateway already holds every route; one of them points elsewhere
    kernel = [{"dst": cidr_of(i), "gateway": ips["hybrid-%05d" % i], "dev": "eth0"} for i in range(COUNT)]
    kernel[1234]["gateway"] = "10.200.99.99"
    timings = []
    for _attempt in range(3):
        rt._NETWORKS.clear()  # pylint: disable=protected-access  # each attempt as a fresh module process
        start = time.perf_counter()
        planned, problems, change = plan_and_validate(nodes, ips, kernel)
        timings.append(time.perf_counter() - start)
    assert planned["problems"] == [] and problems == []
    assert len(planned["routes"]) == COUNT
    assert planned["routes"][0] == {"destination": "10.64.0.0/25", "next_hop": "10.200.0.1", "node": "hybrid-00000"}
    assert planned["routes"][-1] == {"destination": "10.83.135.128/25", "next_hop": "10.200.39.250",
                                     "node": "hybrid-09999"}
    assert [r["dst"] for r in change["replace"]] == [cidr_of(1234)] == ["10.66.105.0/25"]
    assert change["replace"][0]["gateway"] == ips["hybrid-01234"]
    assert len(change["keep"]) == COUNT - 1 and change["delete"] == []
    assert min(timings) < BOUND_S, "10,000 CiliumNodes took %.2fs" % min(timings)


def test_ten_thousand_cilium_nodes_with_problems_report_each_of_them():
    nodes, ips = synthetic(COUNT)
    nodes[10]["spec"]["ipam"]["podCIDRs"] = ["10.64.0.0/25"]  # the pod CIDR of hybrid-00000 again
    del ips["hybrid-00020"]
    nodes[30]["spec"]["ipam"]["podCIDRs"] = ["172.16.0.0/25"]
    planned, problems, _change = plan_and_validate(nodes, ips, [])
    assert len(planned["problems"]) == 3, planned["problems"]
    assert any("hybrid-00020 has no InternalIP" in p for p in planned["problems"])
    assert any("172.16.0.0/25 lies outside" in p for p in planned["problems"])
    assert any("overlaps" in p and "hybrid-00010" in p for p in planned["problems"])
    assert len(planned["routes"]) == COUNT - 1
    # static_route refuses the duplicate destination and the one outside the pool
    assert any("10.64.0.0/25 is given twice" in p for p in problems)
    assert any("172.16.0.0/25" in p and "outside purge_within" in p for p in problems)
