# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters over the EKS Hybrid Nodes CIDR rules (documented in cidr_problems.yml and node_address_problems.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import cidr


def cidr_problems(vpc_cidrs, service_cidr=None, remote_node_cidrs=None, remote_pod_cidrs=None, names=None):
    """Every problem of a network plan (see module_utils.cidr.check_network_plan)."""
    try:
        return cidr.check_network_plan(vpc_cidrs=vpc_cidrs, service_cidr=service_cidr,
                                       remote_node_cidrs=remote_node_cidrs, remote_pod_cidrs=remote_pod_cidrs,
                                       names=names)
    except cidr.MissingNetaddr as exc:
        raise AnsibleFilterError(str(exc)) from exc


def node_address_problems(address, remote_node_cidrs, host="host", variable="ansible_host"):
    """The problems of one node address against the remote node networks (an empty list when fine)."""
    try:
        return cidr.check_node_address(host, address, remote_node_cidrs, variable=variable)
    except cidr.MissingNetaddr as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """hybridnodes.eks network filters."""

    def filters(self):
        return {
            "cidr_problems": cidr_problems,
            "node_address_problems": node_address_problems,
        }
