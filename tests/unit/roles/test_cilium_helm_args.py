# -*- coding: utf-8 -*-
"""The exact arguments roles/cilium hands to kubernetes.core.helm, rendered by Ansible's own templating from the
role's task file and defaults (no helm binary is run), and checked against kubernetes.core.helm's documented options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.kubernetes.core.plugins.modules import helm as helm_module

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "cilium")
HYBRID_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["hybrid"]}]}]}}}


def render(**inventory):
    loader = DataLoader()
    tasks = loader.load_from_file(os.path.join(ROLE, "tasks", "helm.yml"), trusted_as_template=True)
    defaults = loader.load_from_file(os.path.join(ROLE, "defaults", "main.yml"), trusted_as_template=True)
    assert len(tasks) == 1
    task = tasks[0]
    variables = dict(defaults)
    variables.update(inventory)
    variables.update(task["vars"])
    return Templar(loader=loader, variables=variables).template(task["kubernetes.core.helm"])


def test_the_pinned_chart_with_the_hybrid_values():
    args = render(hybrid_remote_pod_cidrs=["10.201.0.0/16", "10.202.0.0/16"])
    assert args == {
        "name": "cilium",
        "chart_ref": "oci://public.ecr.aws/eks/cilium/cilium",
        "chart_version": "1.18.3-0",
        "release_namespace": "kube-system",
        "release_state": "present",
        "wait": True,
        "wait_timeout": "10m0s",
        "values": {
            "affinity": HYBRID_AFFINITY,
            "ipam": {"mode": "cluster-pool", "operator": {"clusterPoolIPv4MaskSize": 25,
                                                          "clusterPoolIPv4PodCIDRList": ["10.201.0.0/16", "10.202.0.0/16"]}},
            "loadBalancer": {"serviceTopology": True},
            "operator": {"affinity": HYBRID_AFFINITY, "replicas": 1, "unmanagedPodWatcher": {"restart": False},
                         "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"},
                                         {"key": "node.cilium.io/agent-not-ready", "operator": "Exists"}]},
            "envoy": {"enabled": False},
        },
    }


def test_extra_values_merge_under_the_hybrid_values():
    args = render(hybrid_remote_pod_cidrs=["10.201.0.0/16"], hybrid_pod_cidr_mask_size=26,
                  cilium_helm_extra_values={"ipam": {"mode": "kubernetes"}, "hubble": {"enabled": True},
                                            "operator": {"replicas": 2, "prometheus": {"enabled": True}}})
    values = args["values"]
    assert values["ipam"] == {"mode": "cluster-pool", "operator": {"clusterPoolIPv4MaskSize": 26,
                                                                   "clusterPoolIPv4PodCIDRList": ["10.201.0.0/16"]}}
    assert values["hubble"] == {"enabled": True}
    assert values["operator"]["replicas"] == 1 and values["operator"]["prometheus"] == {"enabled": True}


def test_every_argument_is_a_documented_option_of_kubernetes_core_helm():
    options = yaml.safe_load(helm_module.DOCUMENTATION)["options"]
    names = set(options)
    for option in options.values():
        names.update(option.get("aliases") or [])
    args = render(hybrid_remote_pod_cidrs=["10.201.0.0/16"])
    assert set(args) <= names, set(args) - names
    assert options["wait_timeout"]["type"] == "str" and options["chart_version"]["type"] == "str"
