# -*- coding: utf-8 -*-
"""The Cilium pod-route planner: next hops, containment, overlaps, and its speed on 10,000 nodes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import pod_routes

POD = ["10.201.0.0/16"]


def cilium_node(name, *cidrs, cilium_ip=None):
    spec = {"ipam": {"podCIDRs": list(cidrs)}}
    if cilium_ip:
        spec["addresses"] = [{"type": "InternalIP", "ip": "10.200.9.9"}, {"type": "CiliumInternalIP", "ip": cilium_ip}]
    return {"metadata": {"name": name}, "spec": spec}


def node(name, ip):
    return {"metadata": {"name": name},
            "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]}}


def test_routes_via_the_internal_ip_of_each_node():
    ips = pod_routes.node_internal_ips([node("edge02", "10.200.0.12"), node("edge01", "10.200.0.11")])
    planned = pod_routes.plan_routes([cilium_node("edge02", "10.201.0.128/25"), cilium_node("edge01", "10.201.0.0/25")],
                                     ips, POD)
    assert planned == {"problems": [], "routes": [
        {"destination": "10.201.0.0/25", "next_hop": "10.200.0.11", "node": "edge01"},
        {"destination": "10.201.0.128/25", "next_hop": "10.200.0.12", "node": "edge02"}]}


def test_cilium_internal_ip_when_asked():
    planned = pod_routes.plan_routes([cilium_node("edge01", "10.201.0.0/25", cilium_ip="10.201.0.5")], {}, POD,
                                     next_hop="cilium_internal_ip")
    assert planned["routes"] == [{"destination": "10.201.0.0/25", "next_hop": "10.201.0.5", "node": "edge01"}]


def test_every_problem_is_reported():
    nodes = [cilium_node("a", "10.201.0.0/24"), cilium_node("b", "10.201.0.128/25"), cilium_node("c", "10.99.0.0/24"),
             cilium_node("d"), cilium_node("e", "10.201.1.0/24"), cilium_node("f", "10.201.2.1/24")]
    ips = {"a": "10.200.0.1", "b": "10.200.0.2", "c": "10.200.0.3", "d": "10.200.0.4", "f": "10.200.0.6"}
    planned = pod_routes.plan_routes(nodes, ips, POD + ["bad"])
    text = "\n".join(planned["problems"])
    assert "'bad' is not a network" in text
    assert "10.201.0.128/25 of b overlaps 10.201.0.0/24 of a" in text
    assert "10.99.0.0/24 lies outside the remote pod networks 10.201.0.0/16" in text
    assert "CiliumNode d has no pod CIDR" in text
    assert "node e has no InternalIP" in text
    assert "pod CIDR '10.201.2.1/24' is not a network" in text
    assert len(planned["problems"]) == 6
    assert [route["node"] for route in planned["routes"]] == ["a", "b", "c"]


def test_overlap_hidden_behind_a_wide_cidr_is_found():
    nodes = [cilium_node("a", "10.201.0.0/22"), cilium_node("b", "10.201.1.0/24"), cilium_node("c", "10.201.3.0/24")]
    problems = pod_routes.plan_routes(nodes, {"a": "1.1.1.1", "b": "1.1.1.2", "c": "1.1.1.3"}, POD)["problems"]
    assert len(problems) == 2 and all("of a" in problem for problem in problems)


def test_unknown_next_hop_kind():
    with pytest.raises(ValueError):
        pod_routes.plan_routes([], {}, POD, next_hop="external_ip")


def test_ten_thousand_nodes_plan_in_under_a_second():
    count = 10000
    nodes = [cilium_node("edge%05d" % index, "10.%d.%d.0/24" % (64 + index // 256, index % 256)) for index in range(count)]
    ips = dict(("edge%05d" % index, "192.168.%d.%d" % (index // 250, index % 250 + 1)) for index in range(count))
    nodes.append(cilium_node("clash", "10.64.0.128/25"))
    ips["clash"] = "192.168.200.1"
    # The best of three runs: a wall-clock bound that a busy CI neighbour cannot
    # break once by chance, yet fails whenever the planner itself is too slow.
    timings = []
    for _attempt in range(3):
        start = time.perf_counter()
        planned = pod_routes.plan_routes(nodes, ips, ["10.64.0.0/10"])
        timings.append(time.perf_counter() - start)
    elapsed = min(timings)
    assert len(planned["routes"]) == count + 1
    assert planned["problems"] == ["pod CIDR 10.64.0.128/25 of clash overlaps 10.64.0.0/24 of edge00000; Cilium's IPAM "
                                   "must give each node its own pod CIDR: check for a second IPAM pool or a CiliumNode "
                                   "edited by hand."]
    assert elapsed < 1.0, "planning %d nodes took %.2fs" % (count, elapsed)
