# -*- coding: utf-8 -*-
"""roles/nodeadm and roles/aws_prerequisites: one site.yml run joins IAM Roles Anywhere hosts. The AWS stage hands the
trust anchor, profile and role ARNs it made to the join as a fact of the controller; the inventory's ARNs win; without
either, the join's check refuses, naming the variables, before any change. Rendered by Ansible's own templating."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
ARNS = ("nodeadm_iam_ra_trust_anchor_arn", "nodeadm_iam_ra_profile_arn", "nodeadm_iam_ra_role_arn")
HANDED = {"trust_anchor_arn": "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/t-from-stage",
          "profile_arn": "arn:aws:rolesanywhere:us-west-2:123456789012:profile/p-from-stage",
          "role_arn": "arn:aws:iam::123456789012:role/hybrid-example-hybrid-nodes"}


def load(*parts):
    return DataLoader().load_from_file(os.path.join(ROOT, *parts), trusted_as_template=True)


def render(names, **variables):
    values = dict(load("roles", "nodeadm", "defaults", "main.yml"))
    values.update(variables)
    templar = Templar(loader=DataLoader(), variables=values)
    return [templar.template(values[name]).strip() for name in names]


def test_the_join_takes_the_arns_the_aws_stage_handed_over():
    hostvars = {"localhost": {"aws_prerequisites_iam_ra_arns": HANDED}}
    assert render(ARNS, hostvars=hostvars) == [HANDED["trust_anchor_arn"], HANDED["profile_arn"], HANDED["role_arn"]]


def test_the_inventory_arns_win_over_the_handed_ones():
    hostvars = {"localhost": {"aws_prerequisites_iam_ra_arns": HANDED}}
    mine = "arn:aws:rolesanywhere:us-west-2:123456789012:trust-anchor/mine"
    assert render(ARNS[:1], hostvars=hostvars, hybrid_iam_ra_trust_anchor_arn=mine) == [mine]


def test_without_either_the_arns_are_empty_and_the_check_names_them():
    assert render(ARNS, hostvars={"localhost": {}}) == ["", "", ""]
    (check,) = [t for t in load("roles", "nodeadm", "tasks", "iam_ra_ca.yml") if "ansible.builtin.fail" in t][:1]
    arns_rule = [line for line in check["vars"]["nodeadm_iam_ra_ca_problems"].split("+ ([]")
                 if "nodeadm_iam_ra_trust_anchor_arn and" in line]
    assert len(arns_rule) == 1
    problems = Templar(loader=DataLoader(), variables={
        "nodeadm_iam_ra_trust_anchor_arn": "", "nodeadm_iam_ra_profile_arn": "x", "nodeadm_iam_ra_role_arn": "y",
        "nodeadm_iam_ra_arns_pending": False},
    ).template(trust_as_template("{{ [] + ([]" + arns_rule[0].rstrip().rstrip("}").rstrip() + " }}"))
    assert len(problems) == 1 and problems[0].startswith("hybrid_iam_ra_trust_anchor_arn, hybrid_iam_ra_profile_arn")
    assert "site.yml hands their ARNs from its AWS stage to the join; set them when join.yml runs alone" in problems[0]


def test_the_aws_stage_hands_over_what_it_made():
    tasks = load("roles", "aws_prerequisites", "tasks", "rolesanywhere_profile.yml")
    (handoff,) = [t for t in tasks if "ansible.builtin.set_fact" in t]
    fact = handoff["ansible.builtin.set_fact"]["aws_prerequisites_iam_ra_arns"]
    registered = {"aws_prerequisites_trust_anchor": {"trust_anchor": {"trust_anchor_arn": HANDED["trust_anchor_arn"]}},
                  "aws_prerequisites_profile": {"profile": {"profile_arn": HANDED["profile_arn"]}},
                  "aws_prerequisites_role_arn": HANDED["role_arn"]}
    templar = Templar(loader=DataLoader(), variables=dict(registered, ansible_check_mode=False))
    assert {key: templar.template(value) for key, value in fact.items() if key != "predicted"} == HANDED
    # Predicted in check mode, a trust anchor that does not exist yet has no ARN: empty, not "None".
    templar = Templar(loader=DataLoader(), variables=dict(registered, aws_prerequisites_trust_anchor={
        "trust_anchor": {"trust_anchor_arn": None}}))
    assert templar.template(fact["trust_anchor_arn"]) == ""


def _pending(**variables):
    values = dict(load("roles", "nodeadm", "defaults", "main.yml"))
    values.update(load("roles", "nodeadm", "vars", "main.yml"))
    values.update({"hybrid_credential_provider": "iam-ra"}, **variables)
    return str(Templar(loader=DataLoader(), variables=values).template(values["nodeadm_iam_ra_arns_pending"])).strip()


def test_check_mode_of_a_first_run_leaves_the_join_unpredicted_and_nothing_else():
    predicted = {"localhost": {"aws_prerequisites_iam_ra_arns": dict(HANDED, trust_anchor_arn="", profile_arn="",
                                                                     predicted=True)}}
    assert _pending(hostvars=predicted, ansible_check_mode=True) == "True"
    # A real run, an AWS stage that found them, or the inventory's ARNs: the join runs (and checks) as always.
    assert _pending(hostvars=predicted, ansible_check_mode=False) == "False"
    found = {"localhost": {"aws_prerequisites_iam_ra_arns": dict(HANDED, predicted=False)}}
    assert _pending(hostvars=found, ansible_check_mode=True) == "False"
    assert _pending(hostvars=predicted, ansible_check_mode=True, hybrid_iam_ra_trust_anchor_arn="a",
                    hybrid_iam_ra_profile_arn="b", hybrid_iam_ra_role_arn="c") == "False"
    assert _pending(hostvars={"localhost": {}}, ansible_check_mode=True) == "False"


def test_the_handoff_says_when_the_arns_are_only_predicted():
    tasks = load("roles", "aws_prerequisites", "tasks", "rolesanywhere_profile.yml")
    (handoff,) = [t for t in tasks if "ansible.builtin.set_fact" in t]
    rule = handoff["ansible.builtin.set_fact"]["aws_prerequisites_iam_ra_arns"]["predicted"]

    def predicted(check_mode, anchor_arn):
        return Templar(loader=DataLoader(), variables={
            "ansible_check_mode": check_mode,
            "aws_prerequisites_trust_anchor": {"trust_anchor": {"trust_anchor_arn": anchor_arn}},
            "aws_prerequisites_profile": {"profile": {"profile_arn": HANDED["profile_arn"]}}}).template(rule)

    assert [predicted(True, None), predicted(True, "arn:x"), predicted(False, None)] == [True, False, False]
