# -*- coding: utf-8 -*-
"""roles/nodeadm/tasks/config.yml: hybrid_enable_credentials_file reaches the NodeConfig (enableCredentialsFile, for
the EKS Pod Identity Agent), as the same variable gives the nodes' role its permission in aws_prerequisites. Rendered
by Ansible's own templating from the role's task file and defaults."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm_config

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles")


def load(role, *parts):
    return DataLoader().load_from_file(os.path.join(ROOT, role, *parts), trusted_as_template=True)


def rendered(**inventory):
    task = [t for t in load("nodeadm", "tasks", "config.yml") if t["name"] == "Write the NodeConfig"][0]
    variables = dict(load("nodeadm", "defaults", "main.yml"), **inventory)
    return Templar(loader=DataLoader(), variables=variables).template(
        task["hybridnodes.eks.nodeadm_config"]["enable_credentials_file"])


def test_off_by_default_and_on_from_the_inventory():
    assert rendered() is False
    assert rendered(hybrid_enable_credentials_file=True) is True
    assert "enable_credentials_file" in yaml.safe_load(nodeadm_config.DOCUMENTATION)["options"]


def test_the_same_variable_gives_the_role_its_permission():
    defaults = load("aws_prerequisites", "defaults", "main.yml")
    assert "hybrid_enable_credentials_file" in defaults["aws_prerequisites_enable_credentials_file"]
