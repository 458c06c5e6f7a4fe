# -*- coding: utf-8 -*-
"""k8s_unapplied: which documents of a manifest an apply would change, so a converged cluster gets no write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.filter.k8s_manifest import LAST_APPLIED, FilterModule

unapplied = FilterModule().filters()["k8s_unapplied"]

ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cilium"},
        "rules": [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]}]}
DAEMONSET = {
    "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "cilium", "namespace": "kube-system",
                                                               "labels": {"k8s-app": "cilium"}},
    "spec": {"selector": {"matchLabels": {"k8s-app": "cilium"}},
             "template": {"metadata": {"labels": {"k8s-app": "cilium"}, "creationTimestamp": None},
                          "spec": {"tolerations": [{"operator": "Exists"}],
                                   "containers": [{"name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.17.6",
                                                   "ports": [{"containerPort": "4240"}], "resources": {}}]}}},
}


def live(doc, **changes):
    """The object as the API server returns it after kubernetes.core applied doc: the last-applied annotation,
    server fields and defaults added, empty fields dropped; then changes applied (dotted paths)."""
    obj = copy.deepcopy(doc)
    meta = obj["metadata"]
    meta.setdefault("annotations", {})[LAST_APPLIED] = json.dumps(doc, separators=(",", ":"), sort_keys=True)
    meta.update(uid="b1c2", resourceVersion="42", creationTimestamp="2026-12-04T16:00:00Z")
    if obj["kind"] == "ClusterRole":
        meta.pop("namespace", None)
    if obj["kind"] == "DaemonSet":
        template = obj["spec"]["template"]
        del template["metadata"]["creationTimestamp"]
        container = template["spec"]["containers"][0]
        del container["resources"]
        container["ports"][0]["containerPort"] = 4240
        container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
        template["spec"]["restartPolicy"] = "Always"
        obj["status"] = {"numberReady": 0}
    for path, value in changes.items():
        target = obj
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return obj


def test_a_converged_cluster_needs_no_apply():
    assert unapplied([ROLE, DAEMONSET], [live(DAEMONSET), live(ROLE)]) == []


def test_an_absent_object_is_applied():
    assert unapplied([ROLE, DAEMONSET], [live(ROLE)]) == [DAEMONSET]


def test_an_object_changed_out_of_band_is_applied():
    changed = live(DAEMONSET)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/cilium/cilium:v0.0.1"
    assert unapplied([ROLE, DAEMONSET], [live(ROLE), changed]) == [DAEMONSET]


def test_a_list_item_removed_out_of_band_is_applied():
    changed = live(ROLE)
    changed["rules"][0]["verbs"] = ["get"]
    assert unapplied([ROLE], [changed]) == [ROLE]


def test_a_field_removed_from_the_manifest_is_applied():
    """The live object still has the field (so it contains the new document), but its last-applied does not match."""
    new = copy.deepcopy(DAEMONSET)
    del new["metadata"]["labels"]
    assert unapplied([new], [live(DAEMONSET)]) == [new]


def test_an_object_applied_by_something_else_is_applied():
    obj = live(ROLE)
    del obj["metadata"]["annotations"][LAST_APPLIED]
    assert unapplied([ROLE], [obj]) == [ROLE]


def test_a_boolean_is_not_its_text():
    doc = copy.deepcopy(ROLE)
    doc["metadata"]["labels"] = {"managed": True}
    obj = live(doc)
    obj["metadata"]["labels"]["managed"] = "true"
    assert unapplied([doc], [obj]) == [doc]


def test_the_same_name_in_another_namespace_is_another_object():
    other = copy.deepcopy(DAEMONSET)
    other["metadata"]["namespace"] = "default"
    assert unapplied([other], [live(DAEMONSET)]) == [other]


@pytest.mark.parametrize("docs, objs, expected", [
    ({"kind": "x"}, [], "must both be lists"),
    ([ROLE], None, "must both be lists"),
    ([{"kind": "ClusterRole", "metadata": {}}], [], "document 0 has no kind or metadata.name"),
])
def test_bad_input_names_what_is_wrong(docs, objs, expected):
    with pytest.raises(AnsibleFilterError, match=expected):
        unapplied(docs, objs)
