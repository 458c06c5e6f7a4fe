# -*- coding: utf-8 -*-
"""A node IP outside the remote node networks is refused by nodeadm init (aws/eks-hybrid v1.0.19
internal/node/hybrid/hybrid.go registers node-ip-validation; internal/network/interface.go fails it with
ValidateIPInRemoteNodeNetwork). The collection's texts must not say that nodeadm accepts such an IP or only warns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import cidr
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig
from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm_config

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
# Where the collection documents itself.
DOC_GLOBS = ("plugins/**/*.py", "plugins/**/*.yml", "roles/*/meta/*.yml", "roles/*/defaults/*.yml",
             "roles/*/tasks/*.yml", "playbooks/**/*.yml", "inventories/example/**/*.yml", "README.md", "docs/*.md")
WRONG = re.compile(r"nodeadm (still )?accepts it|nodeadm only (warns|shows)|remote node networks? joins|"
                   r"outside the remote node networks joins", re.IGNORECASE)


def doc_files():
    found = set()
    for pattern in DOC_GLOBS:
        found.update(glob.glob(os.path.join(ROOT, pattern), recursive=True))
    return sorted(found)


def test_the_doc_files_are_found():
    names = [os.path.relpath(path, ROOT) for path in doc_files()]
    assert "plugins/modules/nodeadm_config.py" in names and "plugins/filter/node_address_problems.yml" in names
    assert "roles/nodeadm/meta/argument_specs.yml" in names and "inventories/example/group_vars/all.yml" in names
    assert "README.md" in names and "docs/troubleshooting.md" in names


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: os.path.relpath(path, ROOT))
def test_no_text_says_nodeadm_accepts_a_node_ip_outside_the_networks(path):
    with open(path, encoding="utf-8") as handle:
        text = " ".join(handle.read().split())  # sentences wrap across lines
    assert not WRONG.search(text), WRONG.search(text).group(0)


def test_nodeadm_config_documents_that_nodeadm_init_refuses_it():
    description = " ".join(yaml.safe_load(nodeadm_config.DOCUMENTATION)["description"])
    assert "nodeadm init) refuses it" in description and "node-ip-validation" in description


def test_the_problem_messages_say_nodeadm_init_refuses_it():
    message = cidr.check_node_address("edge01", "10.201.0.1", ["10.200.0.0/16"])[0]["message"]
    assert "nodeadm init refuses it (node-ip-validation)" in message
    doc = nodeconfig.render(cluster_name="c", region="us-west-2", credential_provider="ssm",
                            ssm={"activationId": "6f1f9d2e-0c1b-4e8a-9a39-1f0c7b1d2a3c",
                                 "activationCode": "Zq8hiddenActivationCode1"}, node_ip="10.9.0.5")
    found = [item for item in nodeconfig.problems(doc, ["10.200.0.0/24"]) if item["field"] == "node_ip"]
    assert len(found) == 1 and "nodeadm init refuses it (node-ip-validation)" in found[0]["message"]
