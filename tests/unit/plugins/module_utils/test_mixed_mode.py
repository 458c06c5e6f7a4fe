# -*- coding: utf-8 -*-
"""Mixed mode clusters (EKS user guide, hybrid-nodes-webhooks): CoreDNS on both kinds of node, webhooks off the hybrid
nodes unless the pod networks are routable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import mixed_mode

HYBRID = {"metadata": {"name": "mi-1", "labels": {"eks.amazonaws.com/compute-type": "hybrid"}}}
CLOUD = {"metadata": {"name": "ip-10-100-0-10", "labels": {}}}


def pod(node):
    return {"spec": {"nodeName": node}}


WEBHOOK = {"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "policy"},
           "webhooks": [{"clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}}},
                        {"clientConfig": {"url": "https://example.com/hook"}}]}


def endpoints(node):
    return {"kyverno/kyverno-svc": {"subsets": [{"addresses": [{"ip": "192.168.0.5", "nodeName": node}]}]}}


def test_coredns_on_both_kinds_and_webhooks_on_cloud_nodes_need_nothing():
    assert mixed_mode.advice([HYBRID, CLOUD], [pod("mi-1"), pod("ip-10-100-0-10")], [WEBHOOK],
                             endpoints("ip-10-100-0-10")) == []


def test_coredns_on_one_kind_only_is_reported_with_the_fix():
    (finding,) = mixed_mode.advice([HYBRID, CLOUD], [pod("ip-10-100-0-10"), pod("ip-10-100-0-10")], [], {})
    assert finding["check"] == "coredns" and "no hybrid node" in finding["message"] and "topology" in finding["fix"]


def test_a_webhook_on_hybrid_nodes_needs_routable_pod_networks():
    (finding,) = mixed_mode.advice([HYBRID, CLOUD], [pod("mi-1"), pod("ip-10-100-0-10")], [WEBHOOK], endpoints("mi-1"))
    assert finding["check"] == "webhook" and "ValidatingWebhookConfiguration/policy" in finding["message"]
    assert "kyverno/kyverno-svc" in finding["message"] and "NotIn" in finding["fix"]
    assert mixed_mode.advice([HYBRID, CLOUD], [pod("mi-1"), pod("ip-10-100-0-10")], [WEBHOOK], endpoints("mi-1"),
                             pod_networks_routable=True) == []


def test_a_cluster_of_one_kind_of_node_is_not_mixed():
    assert mixed_mode.advice([HYBRID], [pod("mi-1")], [WEBHOOK], endpoints("mi-1")) == []
    assert mixed_mode.advice([CLOUD], [], [], {}) == []
