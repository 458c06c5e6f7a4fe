# -*- coding: utf-8 -*-
"""The inventory_problems filter: what it gathers from hostvars, and the problems it passes on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleUndefinedVariable

from ansible_collections.hybridnodes.eks.plugins.filter.inventory_problems import FilterModule

CLUSTER = {
    "hybrid_cluster_name": "hybrid-example", "hybrid_region": "us-west-2", "hybrid_kubernetes_version": "1.31",
    "hybrid_vpc_cidrs": ["10.100.0.0/16"], "hybrid_remote_node_cidrs": ["10.200.0.0/16"],
    "hybrid_remote_pod_cidrs": ["192.168.0.0/16"], "hybrid_nodeadm_version": "v1.0.20",
    "hybrid_validate_vpc_targets": ["10.100.0.10"],
    "unrelated": "ignored",
}


class Vars(dict):
    """A host's variables whose templates may fail on access, as HostVarsVars do."""

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        if value == "{{ undefined }}":
            raise AnsibleUndefinedVariable("'undefined' is undefined")
        return value


def hostvars(**hosts):
    result = {"localhost": Vars(CLUSTER)}
    for name, values in hosts.items():
        result[name] = Vars(CLUSTER, **values)
    return result


SPECS = {"nodeadm": {"argument_specs": {"main": {"options": {"nodeadm_retries": {"type": "int", "description": "x"}}}}}}


def test_registered():
    assert list(FilterModule().filters()) == ["inventory_problems"]


def test_valid_inventory():
    problems = FilterModule().filters()["inventory_problems"](
        hostvars(edge01={"ansible_host": "10.200.0.11", "nodeadm_retries": 2}),
        {"hybrid_nodes": ["edge01"], "all": ["edge01"]}, role_specs=SPECS)
    assert problems == []


def test_problems_of_the_hosts_of_the_group_only():
    groups = {"hybrid_nodes": ["edge01"], "vpn_gateways": ["vpngw"]}
    problems = FilterModule().filters()["inventory_problems"](
        hostvars(edge01={"ansible_host": "10.9.0.11", "nodeadm_retries": "many", "hybrid_nic": "{{ undefined }}"},
                 vpngw={"ansible_host": "172.16.0.1"}),
        groups, role_specs=SPECS)
    assert sorted((item["code"], item.get("host"), item.get("variable")) for item in problems) == [
        ("address-outside", "edge01", "ansible_host"), ("role-input", "edge01", "nodeadm_retries"),
        ("template", "edge01", "hybrid_nic")]
