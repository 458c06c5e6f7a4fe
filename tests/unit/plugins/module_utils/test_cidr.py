# -*- coding: utf-8 -*-
"""The EKS Hybrid Nodes CIDR rules: every rule passing and failing, several at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import cidr

GOOD = dict(
    vpc_cidrs=["10.100.0.0/16"],
    service_cidr="172.20.0.0/16",
    remote_node_cidrs=["10.200.0.0/16"],
    remote_pod_cidrs=["192.168.0.0/16"],
)


def plan(**changes):
    args = dict(GOOD)
    args.update(changes)
    return cidr.check_network_plan(**args)


def codes(problems):
    return sorted(item["code"] for item in problems)


def test_documented_example_passes():
    assert plan() == []


def test_several_remote_networks_pass():
    assert plan(remote_node_cidrs=["10.200.0.0/16", "10.201.0.0/16"],
                remote_pod_cidrs=["192.168.0.0/17", "192.168.128.0/17", "172.16.0.0/16"]) == []


def test_pod_networks_are_optional():
    assert plan(remote_pod_cidrs=[]) == []


def test_node_networks_are_required():
    problems = plan(remote_node_cidrs=[])
    assert codes(problems) == ["missing"]
    assert problems[0]["variable"] == "hybrid_remote_node_cidrs"


@pytest.mark.parametrize("value", ["8.8.0.0/16", "100.64.0.0/16", "172.32.0.0/16", "192.169.0.0/16", "11.0.0.0/8"])
def test_public_or_non_rfc1918_remote_network_fails(value):
    problems = plan(remote_pod_cidrs=[value])
    assert codes(problems) == ["not-rfc1918"]
    assert problems[0]["cidrs"] == [value]
    assert problems[0]["variable"] == "hybrid_remote_pod_cidrs"
    assert "RFC 1918" in problems[0]["message"]


@pytest.mark.parametrize("value", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "10.1.2.3/32", "172.31.255.0/24"])
def test_rfc1918_edges_pass(value):
    assert plan(remote_node_cidrs=[value], vpc_cidrs=["100.64.0.0/16"], remote_pod_cidrs=[],
                service_cidr="100.65.0.0/16") == []


def test_prefix_shorter_than_8_fails_and_is_not_private():
    problems = plan(remote_node_cidrs=["10.0.0.0/7"], vpc_cidrs=["100.64.0.0/16"])
    # 10.0.0.0/7 covers 11.0.0.0/8 too: both rules are broken, both are said.
    assert codes(problems) == ["not-rfc1918", "prefix-too-short"]


def test_ipv6_fails():
    problems = plan(remote_pod_cidrs=["fd00:10::/64"])
    assert codes(problems) == ["ipv6"]


@pytest.mark.parametrize("value", ["10.200.0.0", "banana", "10.200.0.0/33", "300.1.0.0/16", ""])
def test_malformed_fails(value):
    problems = plan(remote_node_cidrs=[value])
    assert codes(problems) in (["not-cidr"], ["invalid"])
    assert problems[0]["variable"] == "hybrid_remote_node_cidrs"


def test_host_bits_fail_with_the_network_to_write():
    problems = plan(remote_node_cidrs=["10.200.0.5/16"])
    assert codes(problems) == ["host-bits"]
    assert "10.200.0.0/16" in problems[0]["fix"]


@pytest.mark.parametrize("group,value,other", [
    ("remote_node_cidrs", ["10.100.128.0/24"], "hybrid_vpc_cidrs"),
    ("remote_pod_cidrs", ["10.100.0.0/15"], "hybrid_vpc_cidrs"),
    ("remote_pod_cidrs", ["172.20.5.0/24"], "hybrid_service_cidr"),
    ("remote_pod_cidrs", ["10.200.0.0/24"], "hybrid_remote_node_cidrs"),
    ("remote_node_cidrs", ["192.168.10.0/24"], "hybrid_remote_pod_cidrs"),
])
def test_overlaps_fail_naming_both_sides(group, value, other):
    problems = plan(**{group: value})
    overlap = [item for item in problems if item["code"] == "overlap"]
    assert len(overlap) == 1
    assert other in overlap[0]["message"] or other in overlap[0]["fix"]
    assert len(overlap[0]["cidrs"]) == 2


def test_service_cidr_overlapping_vpc_fails():
    problems = plan(service_cidr="10.100.0.0/20")
    assert codes(problems) == ["overlap"]
    assert set(problems[0]["cidrs"]) == {"10.100.0.0/16", "10.100.0.0/20"}


def test_overlap_inside_one_remote_group_fails():
    problems = plan(remote_node_cidrs=["10.200.0.0/16", "10.200.4.0/24"])
    assert codes(problems) == ["overlap"]
    assert "hybrid_remote_node_cidrs" in problems[0]["message"]


def test_every_problem_is_reported_at_once():
    problems = cidr.check_network_plan(
        vpc_cidrs=["10.100.0.0/16"],
        service_cidr="10.100.0.0/24",            # overlaps the VPC
        remote_node_cidrs=["8.8.8.0/24", "10.0.0.0/7"],  # public; too short + public
        remote_pod_cidrs=["fd00::/64", "10.100.5.0/24", "nope"],  # ipv6, overlaps VPC and the /7, invalid
    )
    assert codes(problems) == sorted([
        "overlap",                 # service vs VPC
        "not-rfc1918",             # 8.8.8.0/24
        "not-rfc1918", "prefix-too-short",  # 10.0.0.0/7
        "ipv6", "not-cidr",
        "overlap",                 # VPC vs 10.0.0.0/7
        "overlap",                 # VPC vs 10.100.5.0/24
        "overlap",                 # service vs 10.0.0.0/7
        "overlap",                 # 10.0.0.0/7 vs 10.100.5.0/24
    ])
    for item in problems:
        assert item["message"] and item["fix"]


def test_custom_names_appear_in_messages():
    problems = cidr.check_network_plan(vpc_cidrs=["10.0.0.0/16"], remote_node_cidrs=["10.0.1.0/24"],
                                       names={"node": "remote_node_cidrs", "vpc": "vpc_cidrs"})
    assert "remote_node_cidrs" in problems[0]["message"]
    assert "vpc_cidrs" in problems[0]["message"]


@pytest.mark.parametrize("address,ok", [
    ("10.200.3.4", True), ("10.200.3.4/24", True), ("10.201.0.1", False),
])
def test_node_address(address, ok):
    problems = cidr.check_node_address("edge01", address, ["10.200.0.0/16"])
    assert (problems == []) is ok
    if not ok:
        assert problems[0]["code"] == "address-outside"
        assert problems[0]["host"] == "edge01"
        assert "Pending" in problems[0]["message"]


@pytest.mark.parametrize("address", ["edge01.example", None, "fd00::1"])
def test_node_address_not_ipv4(address):
    problems = cidr.check_node_address("edge01", address, ["10.200.0.0/16"])
    assert [item["code"] for item in problems] == ["address-invalid"]


def test_same_cidr_sets_ignores_order_and_spelling():
    assert cidr.same_cidr_sets(["192.168.0.0/16", "10.1.0.0/16"], ["10.1.0.0/16", "192.168.0.0/16"])
    assert not cidr.same_cidr_sets(["192.168.0.0/16"], ["192.168.0.0/17"])
    assert not cidr.same_cidr_sets(["192.168.0.0/16"], ["nope"])


def test_format_problems_has_one_line_per_problem_with_fix():
    problems = plan(remote_node_cidrs=["8.8.8.0/24"], remote_pod_cidrs=["10.100.0.0/24"])
    text = cidr.format_problems(problems)
    assert len(text.splitlines()) == len(problems) == 2
    assert all("Fix:" in line for line in text.splitlines())


# Property-based: the overlap rule agrees with the standard library on any pair.
PRIVATE_BLOCKS = [ipaddress.ip_network(block) for block in cidr.RFC1918_CIDRS]


@st.composite
def private_networks(draw):
    block = draw(st.sampled_from(PRIVATE_BLOCKS))
    prefix = draw(st.integers(min_value=block.prefixlen, max_value=30))
    offset = draw(st.integers(min_value=0, max_value=2 ** (prefix - block.prefixlen) - 1))
    return ipaddress.ip_network((int(block.network_address) + (offset << (32 - prefix)), prefix))


@settings(max_examples=300, deadline=None)
@given(private_networks(), private_networks())
def test_node_and_pod_overlap_matches_stdlib(node, pod):
    problems = cidr.check_network_plan(vpc_cidrs=[], remote_node_cidrs=[str(node)], remote_pod_cidrs=[str(pod)])
    assert (codes(problems) == ["overlap"]) is node.overlaps(pod)
    assert codes(problems) in ([], ["overlap"])


@settings(max_examples=200, deadline=None)
@given(private_networks(), st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_node_address_membership_matches_stdlib(network, value):
    address = ipaddress.ip_address(value)
    assert cidr.address_in_networks(str(address), [str(network)]) is (address in network)
