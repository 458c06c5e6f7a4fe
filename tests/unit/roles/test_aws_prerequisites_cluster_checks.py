# -*- coding: utf-8 -*-
"""roles/aws_prerequisites' cluster checks, rendered by Ansible's own templating from the role's task files: a
Kubernetes version the control plane does not allow, and a security group that does not admit TCP 443 from the
remote networks, become problems of validate.yml (refused before any AWS write); the rules are added only on
opt-in (aws_prerequisites_authorize_cluster_security_group, default false)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "aws_prerequisites")


def tasks(name):
    return DataLoader().load_from_file(os.path.join(ROLE, "tasks", name), trusted_as_template=True)


def task(name, title):
    found = [item for item in tasks(name) if item.get("name", "").startswith(title)]
    assert len(found) == 1, title
    return found[0]


def templar(variables):
    return Templar(loader=DataLoader(), variables=variables)


SKEW = {"name": "kubelet-version-skew", "ok": False, "message": "The hybrid nodes' Kubernetes version 1.32 is newer",
        "fix": "Set hybrid_kubernetes_version to 1.31 or older"}


@pytest.mark.parametrize("requirements,expected", [
    ([{"name": "cluster-active", "ok": True, "message": "m", "fix": ""}, SKEW], [SKEW]),
    ([dict(SKEW, ok=True, fix="")], []),
    ([{"name": "remote-node-networks", "ok": False, "message": "m", "fix": "f"}], []),  # set later by the role
])
def test_version_problem_stops_the_role_before_any_write(requirements, expected):
    collect = task("validate.yml", "Collect every problem")
    variables = dict(collect["vars"])
    variables["aws_prerequisites_cluster_read"] = {"requirements": requirements}
    assert templar(variables).template(collect["vars"]["_version_problems"]) == expected


PROBLEM = {"message": "The security groups of EKS cluster hybrid-lab (sg-0c1) do not admit TCP 443 from "
                      "10.200.0.0/24 (remote node network)", "fix": "Set aws_prerequisites_authorize_cluster_security_group"}


@pytest.mark.parametrize("read,opt_in,added", [
    ({"problem": PROBLEM, "missing_cidrs": ["10.200.0.0/24"]}, False, True),
    ({"problem": PROBLEM, "missing_cidrs": ["10.200.0.0/24"]}, True, False),   # the role adds the rule later
    ({"problem": None, "missing_cidrs": []}, False, False),
    ({"skipped": True, "changed": False}, False, False),                        # other problems came first
])
def test_missing_rule_is_a_problem_unless_the_role_may_add_it(read, opt_in, added):
    check = task("validate.yml", "Check that the cluster's security groups admit TCP 443")
    assert check["hybridnodes.eks.eks_cluster_security_group"]["authorize"] is False
    add = task("validate.yml", "Add a missing TCP 443 rule to the problems")
    variables = dict(add["vars"], aws_prerequisites_security_group_read=read,
                     aws_prerequisites_authorize_cluster_security_group=opt_in, aws_prerequisites_problems=[])
    rendered = templar(variables)
    assert all(rendered.evaluate_conditional(condition) for condition in add["when"]) is added
    if added:
        assert rendered.template(add["ansible.builtin.set_fact"]["aws_prerequisites_problems"]) == [PROBLEM]


def test_the_check_comes_before_the_stop_and_reads_only():
    names = [item["name"] for item in tasks("validate.yml")]
    check = names.index("Check that the cluster's security groups admit TCP 443 from the remote networks")
    assert check < names.index("Stop on any problem, listing all of them")
    assert names.index("Read the cluster (service CIDR, ARN, account, Kubernetes version)") == 0


def test_rules_are_added_only_on_opt_in():
    main = tasks("main.yml")[0]["block"]
    imported = [item for item in main if item.get("ansible.builtin.import_tasks") == "cluster_security_group.yml"]
    assert len(imported) == 1 and imported[0]["when"] == "aws_prerequisites_authorize_cluster_security_group | bool"
    assert [item.get("ansible.builtin.import_tasks") for item in main].index("cluster_security_group.yml") < \
        [item.get("ansible.builtin.import_tasks") for item in main].index("cluster_requirements.yml")
    add = tasks("cluster_security_group.yml")[0]["hybridnodes.eks.eks_cluster_security_group"]
    assert add["authorize"] is True


def test_new_options_default_off_and_are_documented():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert defaults["aws_prerequisites_authorize_cluster_security_group"] is False
    assert options["aws_prerequisites_authorize_cluster_security_group"]["default"] is False
    assert options["aws_prerequisites_authorize_cluster_security_group"]["type"] == "bool"
    assert "hybrid_kubernetes_version" in defaults["aws_prerequisites_kubernetes_version"]
    assert options["aws_prerequisites_kubernetes_version"]["type"] == "str"


@pytest.mark.parametrize("version,expected", [("1.31", "1.31"), ("", "OMIT")])
def test_kubernetes_version_is_passed_or_omitted(version, expected):
    read = task("validate.yml", "Read the cluster")["hybridnodes.eks.eks_hybrid_cluster_info"]
    rendered = templar({"aws_prerequisites_kubernetes_version": version, "omit": "OMIT"})
    assert rendered.template(read["kubernetes_version"]) == expected
