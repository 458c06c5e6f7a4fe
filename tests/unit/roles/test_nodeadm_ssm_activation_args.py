# -*- coding: utf-8 -*-
"""The arguments roles/nodeadm hands to hybridnodes.eks.ssm_activation (tasks/credentials.yml), rendered by Ansible's
own templating from the role's task file and defaults, and checked against the module's documented options and the
role's argument specs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.hybridnodes.eks.plugins.modules import ssm_activation

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "nodeadm")
INVENTORY = {"hybrid_cluster_name": "hybrid-lab", "hybrid_region": "us-west-2", "hybrid_kubernetes_version": "1.31",
             "hybrid_remote_node_cidrs": ["10.200.0.0/16"]}


def activation_task():
    loader = DataLoader()
    tasks = loader.load_from_file(os.path.join(ROLE, "tasks", "credentials.yml"), trusted_as_template=True)
    found = [task for task in tasks if "hybridnodes.eks.ssm_activation" in task]
    assert len(found) == 1
    return loader, found[0]


def render(**inventory):
    loader, task = activation_task()
    defaults = loader.load_from_file(os.path.join(ROLE, "defaults", "main.yml"), trusted_as_template=True)
    variables = dict(defaults)
    variables.update(INVENTORY, **inventory)
    variables["nodeadm_unregistered_hosts"] = 3
    return Templar(loader=loader, variables=variables).template(task["hybridnodes.eks.ssm_activation"])


def main_options():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_the_activation_lives_24_hours_by_default_as_ssms_own_default():
    args = render()
    assert int(args["expiration_hours"]) == 24
    assert main_options()["nodeadm_ssm_activation_expiration_hours"]["default"] == 24


def test_the_inventory_sets_the_expiry():
    assert int(render(hybrid_ssm_activation_expiration_hours=72)["expiration_hours"]) == 72
    assert int(render(nodeadm_ssm_activation_expiration_hours=720)["expiration_hours"]) == 720


def test_every_argument_is_a_documented_option_of_ssm_activation():
    options = yaml.safe_load(ssm_activation.DOCUMENTATION)["options"]
    args = render()
    assert set(args) <= set(options), set(args) - set(options)
    assert args["cluster_name"] == "hybrid-lab" and args["iam_role"] == "hybrid-lab-hybrid-nodes"


def test_the_role_option_is_an_int_next_to_the_credentials_options():
    options = main_options()
    spec = options["nodeadm_ssm_activation_expiration_hours"]
    assert spec["type"] == "int"
    text = " ".join(spec["description"])
    assert "720" in text and "1,000" in text and "advanced-instances tier" in text
    names = list(options)
    assert names.index("nodeadm_ssm_activation_expiration_hours") == names.index("nodeadm_iam_role_name") + 1


def test_validate_inventory_checks_the_inventory_variable_against_the_role_option():
    from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import inventory_rules

    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    specs = {"nodeadm": main_options()}
    inputs = inventory_rules.role_inputs(specs, {"nodeadm": defaults})
    assert [option for _role, option, _spec in inputs["hybrid_ssm_activation_expiration_hours"]] == [
        "nodeadm_ssm_activation_expiration_hours"]
    problems = inventory_rules.check_role_inputs({"hybrid_ssm_activation_expiration_hours": "a day"}, {}, specs,
                                                 {"nodeadm": defaults})
    assert [item["variable"] for item in problems] == ["hybrid_ssm_activation_expiration_hours"]
    assert inventory_rules.check_role_inputs({"hybrid_ssm_activation_expiration_hours": 48}, {}, specs,
                                             {"nodeadm": defaults}) == []
