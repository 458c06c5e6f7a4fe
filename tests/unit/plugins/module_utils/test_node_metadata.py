# -*- coding: utf-8 -*-
"""The labels and taints of a joined Node through the API: set what differs, remove only what the collection set."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import node_metadata as nm


def node(labels=None, taints=None, managed=None):
    metadata = {"name": "mi-0123", "labels": dict({"kubernetes.io/hostname": "mi-0123"}, **(labels or {}))}
    if managed is not None:
        metadata["annotations"] = {nm.MANAGED: json.dumps(managed, sort_keys=True)}
    return {"metadata": metadata, "spec": {"taints": taints} if taints else {}}


def apply(obj, patch):
    """What a JSON merge patch does to the Node (for the round trip)."""
    out = json.loads(json.dumps(obj))
    for key, value in (patch.get("metadata", {}).get("labels") or {}).items():
        if value is None:
            out["metadata"]["labels"].pop(key, None)
        else:
            out["metadata"]["labels"][key] = value
    out["metadata"].setdefault("annotations", {}).update(patch.get("metadata", {}).get("annotations") or {})
    if "spec" in patch:
        out.setdefault("spec", {})["taints"] = patch["spec"]["taints"]
    return out


def test_a_node_that_registered_with_the_flags_needs_no_write():
    registered = node({"pool": "a"}, [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}])
    assert nm.plan_patch(registered, {"pool": "a"}, ["dedicated=edge:NoSchedule"]) is None


def test_a_change_records_what_the_collection_set_so_that_it_can_remove_it_later():
    registered = node({"pool": "a"})
    patch = nm.plan_patch(registered, {"pool": "a", "tier": "gold"}, [])
    assert patch["metadata"]["labels"] == {"tier": "gold"}
    assert json.loads(patch["metadata"]["annotations"][nm.MANAGED]) == {"labels": ["pool", "tier"], "taints": []}
    after = apply(registered, patch)
    assert nm.plan_patch(after, {"pool": "a", "tier": "gold"}, []) is None
    assert nm.plan_patch(after, {"pool": "a"}, [])["metadata"]["labels"] == {"tier": None}


def test_a_changed_label_and_taint_reach_the_node_and_the_old_ones_go():
    before = node({"pool": "a", "zone": "x", "team": "ops"}, [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"},
                                                              {"key": "other", "effect": "NoExecute"}],
                  managed={"labels": ["pool", "zone"], "taints": ["dedicated:NoSchedule"]})
    patch = nm.plan_patch(before, {"pool": "b"}, ["gpu=true:NoSchedule"])
    assert patch["metadata"]["labels"] == {"pool": "b", "zone": None}  # "team" was never the collection's
    after = apply(before, patch)
    assert after["metadata"]["labels"]["team"] == "ops" and "zone" not in after["metadata"]["labels"]
    assert sorted(t["key"] for t in after["spec"]["taints"]) == ["gpu", "other"]  # "other" was never the collection's
    assert nm.plan_patch(after, {"pool": "b"}, ["gpu=true:NoSchedule"]) is None


def test_nothing_wanted_and_nothing_recorded_is_no_write():
    assert nm.plan_patch(node({"team": "ops"}), {}, []) is None


def test_parse_taint():
    assert nm.parse_taint("dedicated=edge:NoSchedule") == {"key": "dedicated", "value": "edge", "effect": "NoSchedule"}
    assert nm.parse_taint("gpu:NoExecute") == {"key": "gpu", "effect": "NoExecute"}
