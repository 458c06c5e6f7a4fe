# -*- coding: utf-8 -*-
"""The mixed mode filters over kubernetes.core.k8s_info loop results, as validate.yml hands them over."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.filter.mixed_mode import FilterModule

FILTERS = FilterModule().filters()
NODES = [{"metadata": {"name": "mi-1", "labels": {"eks.amazonaws.com/compute-type": "hybrid"}}},
         {"metadata": {"name": "ip-10-100-0-10", "labels": {}}}]
READS = [
    {"item": {"kind": "Pod"}, "resources": [{"spec": {"nodeName": "mi-1"}}, {"spec": {"nodeName": "ip-10-100-0-10"}}]},
    {"item": {"kind": "ValidatingWebhookConfiguration"}, "resources": [
        {"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "policy"},
         "webhooks": [{"clientConfig": {"service": {"namespace": "kyverno", "name": "svc"}}}]}]},
    {"item": {"kind": "MutatingWebhookConfiguration"}, "resources": []},
]


def test_the_services_to_read_only_in_a_mixed_cluster():
    assert FILTERS["mixed_mode_webhook_services"](NODES, READS) == [{"namespace": "kyverno", "name": "svc"}]
    assert FILTERS["mixed_mode_webhook_services"](NODES[:1], READS) == []


def test_advice_from_the_loop_results():
    endpoint_reads = [{"item": {"namespace": "kyverno", "name": "svc"},
                       "resources": [{"subsets": [{"addresses": [{"nodeName": "mi-1"}]}]}]}]
    (finding,) = FILTERS["mixed_mode_advice"](NODES, READS, endpoint_reads)
    assert finding["check"] == "webhook" and "kyverno/svc" in finding["message"]
    assert FILTERS["mixed_mode_advice"](NODES, READS, endpoint_reads, True) == []
    assert FILTERS["mixed_mode_advice"](NODES, READS, []) == []
