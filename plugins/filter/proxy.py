# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The proxy of the edge hosts (documented in proxy_problems.yml and no_proxy.yml); the rules are module_utils.proxy."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import proxy


def proxy_problems(url, name="hybrid_proxy"):
    return proxy.proxy_problems(url, name)


def no_proxy(vpc_cidrs, service_cidr=None, remote_node_cidrs=None, remote_pod_cidrs=None, extra=None):
    return proxy.no_proxy(vpc_cidrs, service_cidr, remote_node_cidrs, remote_pod_cidrs, extra)


class FilterModule:
    """hybridnodes.eks proxy filters."""

    def filters(self):
        return {"proxy_problems": proxy_problems, "no_proxy": no_proxy}
