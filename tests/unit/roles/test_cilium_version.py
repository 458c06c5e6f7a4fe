# -*- coding: utf-8 -*-
"""One Cilium version for the deployment and the preflight: roles/cilium's cilium_chart_version (hybrid_cilium_version,
else the pinned default) is what playbooks/preflight.yml hands to hybrid_preflight as cilium_version, and the role
refuses a version outside the minors EKS Hybrid Nodes support. Rendered by Ansible's own templating."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import preflight as pf
from ansible_collections.hybridnodes.eks.plugins.modules import hybrid_preflight

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
ROLE = os.path.join(REPO, "roles", "cilium")


def load(*path):
    return DataLoader().load_from_file(os.path.join(*path), trusted_as_template=True)


def template(value, **variables):
    defaults = dict(load(ROLE, "defaults", "main.yml"))
    defaults.update(variables)
    if isinstance(value, str):
        value = trust_as_template(value)
    return Templar(loader=DataLoader(), variables=defaults).template(value)


def preflight_tasks():
    # The first play is the boilerplate every operation playbook imports (playbooks/_boilerplate.yml).
    return next(play for play in load(REPO, "playbooks", "preflight.yml") if "tasks" in play)["tasks"]


def test_the_pin_is_the_newest_documented_aws_build_and_the_inventory_overrides_it():
    assert template("{{ cilium_chart_version }}") == "1.18.3-0"
    assert template("{{ cilium_chart_version }}", hybrid_cilium_version="1.17.9-0") == "1.17.9-0"
    spec = yaml.safe_load(open(os.path.join(ROLE, "meta", "argument_specs.yml")).read())
    assert spec["argument_specs"]["main"]["options"]["cilium_chart_version"]["default"] == "1.18.3-0"


@pytest.mark.parametrize("version,ok", [("1.18.3-0", True), ("1.17.9-0", True), ("1.17.6", True), ("1.16.5-0", False),
                                        ("1.19.0-0", False), ("", False), ("latest", False)])
def test_the_role_refuses_a_version_eks_does_not_support(version, ok):
    task = load(ROLE, "tasks", "version.yml")[0]["ansible.builtin.assert"]
    assert template("{{ %s }}" % task["that"], hybrid_cilium_version=version) is ok


def test_the_preflight_reads_the_version_the_role_deploys():
    tasks = preflight_tasks()
    include = tasks[0]["ansible.builtin.include_role"]
    assert include == {"name": "hybridnodes.eks.cilium", "tasks_from": "version.yml", "public": True}
    args = tasks[1]["hybridnodes.eks.hybrid_preflight"]
    assert args["cilium_version"] == "{{ cilium_chart_version }}"
    # The module itself has no Cilium version default of its own to disagree with the role's.
    assert "default" not in yaml.safe_load(hybrid_preflight.DOCUMENTATION)["options"]["cilium_version"]
    # 1.18.3-0 needs kernel 5.10, 1.17.9-0 5.4: the minimum follows the variable.
    assert pf.minimum_kernel(template("{{ cilium_chart_version }}")) == (5, 10)
    assert pf.minimum_kernel(template("{{ cilium_chart_version }}", hybrid_cilium_version="1.17.9-0")) == (5, 4)


@pytest.mark.parametrize("variables,agent_mode,skip_cni", [
    ({}, False, False),
    ({"hybrid_palette_token": "t"}, True, False),
    ({"hybrid_palette_token": "t", "hybrid_palette_agent_mode": False}, False, False),
    ({"hybrid_palette_agent_mode": True, "nodeadm_skip_phases": ["cni-validation"]}, True, True),
])
def test_the_preflight_knows_palette_agent_mode_and_a_skipped_cni_validation(variables, agent_mode, skip_cni):
    args = preflight_tasks()[1]["hybridnodes.eks.hybrid_preflight"]
    assert template(args["palette_agent_mode"], **variables) is agent_mode
    assert template(args["skip_cni_validation"], **variables) is skip_cni
