# -*- coding: utf-8 -*-
"""The network filters, through Ansible's own templating as a playbook uses them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.filter.network import FilterModule


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"cidr_problems", "node_address_problems"}


def test_cidr_problems_filter():
    cidr_problems = FilterModule().filters()["cidr_problems"]
    assert cidr_problems(["10.100.0.0/16"], service_cidr="172.20.0.0/16", remote_node_cidrs=["10.200.0.0/16"],
                         remote_pod_cidrs=["192.168.0.0/16"]) == []
    problems = cidr_problems(["10.100.0.0/16"], remote_node_cidrs=["10.100.1.0/24"], remote_pod_cidrs=["8.8.8.0/24"],
                             names={"node": "nodes"})
    assert sorted(item["code"] for item in problems) == ["not-rfc1918", "overlap"]
    assert any("nodes" in item["message"] for item in problems)


def test_node_address_problems_filter():
    node_address_problems = FilterModule().filters()["node_address_problems"]
    assert node_address_problems("10.200.0.11", ["10.200.0.0/24"], host="edge01") == []
    problems = node_address_problems("10.9.0.11", ["10.200.0.0/24"], host="edge01")
    assert problems[0]["host"] == "edge01" and problems[0]["code"] == "address-outside"
