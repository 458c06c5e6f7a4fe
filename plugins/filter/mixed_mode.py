# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Advice for clusters with cloud and hybrid nodes (documented in mixed_mode_advice.yml); the rules are
module_utils.mixed_mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import mixed_mode


def _resources(results):
    return [obj for result in results or [] for obj in (result.get("resources") or [])]


def mixed_mode_advice(nodes, reads=None, endpoint_reads=None, pod_networks_routable=False):
    """reads: the results of the k8s_info loop over CoreDNS's pods (first) and the webhook configurations (then);
    endpoint_reads: the results of the k8s_info loop over the webhooks' services (item: {namespace, name})."""
    reads = list(reads or [])
    coredns = reads[0].get("resources") or [] if reads else []
    configurations = _resources(reads[1:])
    endpoints = {}
    for result in endpoint_reads or []:
        item = result.get("item") or {}
        found = result.get("resources") or []
        if found:
            endpoints["%s/%s" % (item.get("namespace") or "default", item.get("name"))] = found[0]
    return mixed_mode.advice(nodes, coredns, configurations, endpoints, pod_networks_routable)


def mixed_mode_webhook_services(nodes, reads=None):
    """The services the webhooks call ({namespace, name}), to read their Endpoints; none when the cluster is not
    mixed. reads as for mixed_mode_advice."""
    return mixed_mode.webhook_services(nodes, _resources(list(reads or [])[1:]))


class FilterModule:
    """hybridnodes.eks mixed mode filters."""

    def filters(self):
        return {"mixed_mode_advice": mixed_mode_advice, "mixed_mode_webhook_services": mixed_mode_webhook_services}
