# -*- coding: utf-8 -*-
"""roles/cilium's check of an operator-supplied manifest, rendered by Ansible's own templating from the role's task
file: the DaemonSets and Deployments whose required node affinity does not keep them on hybrid nodes are named,
and the cilium-config pool is read as the chart writes it (space separated) or as a comma list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "cilium")
HYBRID = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["hybrid"]}]}]}}}


def workload(kind, name, affinity):
    spec = {"containers": [{"name": name, "image": "quay.io/cilium/cilium:v1.17.6"}]}
    if affinity is not None:
        spec["affinity"] = affinity
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"template": {"spec": spec}}}


def config(cidrs):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": "kube-system"},
            "data": {"cluster-pool-ipv4-cidr": cidrs, "cluster-pool-ipv4-mask-size": "25"}}


def render(name, docs):
    loader = DataLoader()
    task = loader.load_from_file(os.path.join(ROLE, "tasks", "manifest.yml"), trusted_as_template=True)[0]
    variables = dict(task["vars"])
    variables["cilium_manifest_docs"] = docs
    return Templar(loader=loader, variables=variables).template(task["vars"][name])


def test_workloads_pinned_to_hybrid_nodes_pass():
    docs = [config("10.201.0.0/16"), workload("DaemonSet", "cilium", HYBRID),
            workload("Deployment", "cilium-operator", HYBRID), {"kind": "ServiceAccount", "metadata": {"name": "x"}}]
    assert render("cilium_manifest_unpinned", docs) == ""


def test_every_unpinned_workload_is_named():
    loose = copy.deepcopy(HYBRID)
    loose["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].append(
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]})
    other = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["hybrid"]}]}]}}}
    docs = [workload("DaemonSet", "cilium", loose), workload("Deployment", "cilium-operator", None),
            workload("DaemonSet", "cilium-envoy", other), workload("Deployment", "hubble", HYBRID)]
    assert render("cilium_manifest_unpinned", docs) == "DaemonSet cilium, Deployment cilium-operator, DaemonSet cilium-envoy"


def test_the_pool_is_read_space_or_comma_separated():
    assert render("cilium_manifest_cidrs", [config("10.201.0.0/16 10.202.0.0/16")]) == ["10.201.0.0/16", "10.202.0.0/16"]
    assert render("cilium_manifest_cidrs", [config("10.201.0.0/16,10.202.0.0/16")]) == ["10.201.0.0/16", "10.202.0.0/16"]
