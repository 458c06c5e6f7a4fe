# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The labels and taints of an existing Node, as a pure planner.

The kubelet applies --node-labels and --register-with-taints only when it registers its Node (kubernetes
pkg/kubelet/kubelet_node_status.go: initialNode), so a changed pool label or taint never reaches a joined Node through
the NodeConfig. The nodeadm role sets them through the API instead. It removes only what it set before and the
inventory no longer has, recorded in the annotation MANAGED with every change it makes (never what the inventory
merely fails to mention; a label dropped from the pool before the collection ever changed that Node stays, as the
collection cannot know it set it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

MANAGED = "hybridnodes.eks/managed-metadata"


def parse_taint(text):
    """'key=value:Effect' or 'key:Effect' -> {"key", "value"?, "effect"}."""
    head, _sep, effect = str(text).rpartition(":")
    key, sep, value = head.partition("=")
    taint = {"key": key, "effect": effect}
    if sep:
        taint["value"] = value
    return taint


def _taint_id(taint):
    return "%s:%s" % (taint.get("key"), taint.get("effect"))


def _managed(node):
    text = ((node.get("metadata") or {}).get("annotations") or {}).get(MANAGED)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    return set(data.get("labels") or []), set(data.get("taints") or [])


def plan_patch(node, labels, taints):
    """The JSON merge patch that gives NODE (a Node as the API returns it, a dict) the wanted labels and taints, or None
    when it has them already. Removes only the labels and taints recorded as set by the collection before."""
    metadata = node.get("metadata") or {}
    have_labels = metadata.get("labels") or {}
    have_taints = (node.get("spec") or {}).get("taints") or []
    was_labels, was_taints = _managed(node)
    wanted_labels = dict((str(k), str(v)) for k, v in (labels or {}).items())
    wanted_taints = [parse_taint(t) for t in taints or []]
    wanted_ids = set(_taint_id(t) for t in wanted_taints)

    label_patch = {}
    for key, value in wanted_labels.items():
        if have_labels.get(key) != value:
            label_patch[key] = value
    for key in sorted(was_labels - set(wanted_labels)):
        if key in have_labels:
            label_patch[key] = None

    kept = [t for t in have_taints if _taint_id(t) not in wanted_ids and _taint_id(t) not in was_taints]
    new_taints = kept + [dict((k, v) for k, v in t.items()) for t in wanted_taints]

    def comparable(items):
        return sorted((t.get("key"), t.get("value", ""), t.get("effect")) for t in items)

    managed = json.dumps({"labels": sorted(wanted_labels), "taints": sorted(wanted_ids)}, sort_keys=True)
    patch = {}
    if label_patch:
        patch.setdefault("metadata", {})["labels"] = label_patch
    if comparable(new_taints) != comparable(have_taints):
        patch["spec"] = {"taints": new_taints}
    # The record goes with a change only: a Node that registered with the wanted labels and taints (from the kubelet's
    # flags) needs no write, so a join, and check mode, see no change here.
    if patch and (metadata.get("annotations") or {}).get(MANAGED) != managed:
        patch.setdefault("metadata", {})["annotations"] = {MANAGED: managed}
    return patch or None
