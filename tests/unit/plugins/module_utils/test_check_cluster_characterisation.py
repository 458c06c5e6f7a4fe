# -*- coding: utf-8 -*-
"""check_cluster's problems, byte for byte and in order, for 2,731 cluster dicts recorded before the cluster rules
became a table (CLUSTER_SPEC in module_utils/controller/inventory_rules.py).

The lab's bad-input tests compare these messages, so the table must say exactly what the hand-written checks said.
check_cluster_cases.json holds the inputs and the outputs as data: every cluster variable alone missing, null, "",
[], of each wrong type (int, bool, float, dict, list, str), of a bad and a good form; the pairs whose rules meet (the
two gateways, the provider and its CA path, the nodeadm URL and its override, the route table ids and the service
CIDR, whose problems interleave); and 500 seeded random combinations, from the valid cluster (``good``) or from an
empty one. A case is ``{"good_but": changed values, "unset": removed names}`` over ``good``, or a whole ``cluster``;
``problems`` indexes the problem records at the top of the file.

After an intended change of a message, rewrite the expected records with the new code and review the diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import inventory_rules as rules

with open(os.path.join(os.path.dirname(__file__), "check_cluster_cases.json")) as _handle:
    FIXTURE = json.load(_handle)


def cluster_of(case):
    if "cluster" in case:
        return copy.deepcopy(case["cluster"])
    cluster = copy.deepcopy(FIXTURE["good"])
    for name in case["unset"]:
        del cluster[name]
    cluster.update(copy.deepcopy(case["good_but"]))
    return cluster


def test_the_fixture_covers_every_rule():
    seen = set((found["code"], found["variable"]) for found in FIXTURE["problems"])
    assert len(FIXTURE["cases"]) > 2000
    assert ("conflict", "hybrid_transit_gateway_id") in seen and ("insecure", "hybrid_nodeadm_base_url") in seen
    assert ("missing", "hybrid_iam_ra_ca_certificate_path") in seen
    assert any("unquoted" in found["message"] for found in FIXTURE["problems"])


@pytest.mark.parametrize("start", range(0, len(FIXTURE["cases"]), 250))
def test_check_cluster_says_what_it_said(start):
    for number, case in enumerate(FIXTURE["cases"][start:start + 250], start):
        cluster = cluster_of(case)
        expected = [FIXTURE["problems"][index] for index in case["problems"]]
        # json.dumps compares the key order of each record too: the records are rendered as they are
        assert json.dumps(rules.check_cluster(cluster)) == json.dumps(expected), "case %d: %r" % (number, cluster)
