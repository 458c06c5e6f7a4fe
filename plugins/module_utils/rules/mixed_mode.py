# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Advice for clusters with cloud and hybrid nodes (EKS user guide, hybrid-nodes-webhooks: "Mixed mode clusters"), as
a pure planner over what the API server returns.

- CoreDNS: with nodes of both kinds, run CoreDNS replicas on both, so that name resolution keeps working for the pods
  of each side when the VPN is down or slow.
- Webhooks: the control plane calls a webhook's service; when its pods run on hybrid nodes, the control plane must
  reach the pod addresses, which it can only when the remote pod networks are routable (remotePodNetworks and routes
  or BGP on premises). Otherwise keep webhook add-ons off the hybrid nodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

HYBRID_LABEL = "eks.amazonaws.com/compute-type"


def _is_hybrid(node):
    return ((node.get("metadata") or {}).get("labels") or {}).get(HYBRID_LABEL) == "hybrid"


def _node_of(pod):
    return (pod.get("spec") or {}).get("nodeName")


def _webhook_services(configurations):
    """[(kind/name, namespace, service)] of the service-based webhooks."""
    found = []
    for config in configurations or []:
        label = "%s/%s" % (config.get("kind") or "WebhookConfiguration", (config.get("metadata") or {}).get("name"))
        for hook in config.get("webhooks") or []:
            service = (hook.get("clientConfig") or {}).get("service") or {}
            if service.get("name"):
                entry = (label, service.get("namespace") or "default", service["name"])
                if entry not in found:
                    found.append(entry)
    return found


def is_mixed(nodes):
    """Whether the cluster has both hybrid and other (cloud) nodes."""
    kinds = set(_is_hybrid(n) for n in nodes or [])
    return kinds == {True, False}


def webhook_services(nodes, configurations):
    """[{"namespace", "name"}] of the services the webhooks call, to read their Endpoints; none when not mixed."""
    if not is_mixed(nodes):
        return []
    return [{"namespace": namespace, "name": name} for _label, namespace, name in _webhook_services(configurations)]


def advice(nodes, coredns_pods, webhook_configurations, endpoints, pod_networks_routable=False):
    """Every change a mixed cluster needs, as {"check", "message", "fix"}; empty when there is none (or when the
    cluster has nodes of one kind only). endpoints maps "NAMESPACE/NAME" to the service's Endpoints object."""
    hybrid = set((n.get("metadata") or {}).get("name") for n in nodes or [] if _is_hybrid(n))
    cloud = set((n.get("metadata") or {}).get("name") for n in nodes or [] if not _is_hybrid(n))
    found = []
    if not hybrid or not cloud:
        return found
    on = set(_node_of(p) for p in coredns_pods or [] if _node_of(p))
    missing = [kind for kind, names in (("hybrid", hybrid), ("cloud", cloud)) if coredns_pods and not on & names]
    if missing:
        found.append({
            "check": "coredns",
            "message": "CoreDNS runs on no %s node (%d replica(s), on %s)." % (
                " and no ".join(missing), len(coredns_pods), ", ".join(sorted(on)) or "no node"),
            "fix": "Run CoreDNS replicas on both cloud and hybrid nodes: raise its replicas and spread them over "
                   "eks.amazonaws.com/compute-type (a topology spread constraint or pod anti-affinity), as the EKS "
                   "user guide's hybrid-nodes-webhooks page describes for mixed mode clusters."})
    if not pod_networks_routable:
        for label, namespace, service in _webhook_services(webhook_configurations):
            obj = (endpoints or {}).get("%s/%s" % (namespace, service)) or {}
            nodes_of_service = set(
                address.get("nodeName") for subset in obj.get("subsets") or []
                for address in (subset.get("addresses") or []) + (subset.get("notReadyAddresses") or [])
                if address.get("nodeName"))
            on_hybrid = sorted(nodes_of_service & hybrid)
            if on_hybrid:
                found.append({
                    "check": "webhook",
                    "message": "%s is served by service %s/%s with pods on hybrid nodes (%s), but the remote pod "
                               "networks are not routable: the control plane cannot call it." % (
                                   label, namespace, service, ", ".join(on_hybrid)),
                    "fix": "Keep that add-on off the hybrid nodes (node affinity eks.amazonaws.com/compute-type NotIn "
                           "hybrid), or make the pod networks routable (remote pod networks on the cluster and routes "
                           "or BGP on premises) and set hybrid_remote_pod_networks_routable: true."})
    return found
