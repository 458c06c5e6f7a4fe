# -*- coding: utf-8 -*-
"""roles/aws_prerequisites and the trust anchor's CRL, rendered by Ansible's own templating from the role's task files
and defaults: no CRL task without hybrid_iam_ra_crl_path (and never a removal then), the import with it, the removal
only with hybrid_iam_ra_crl_state=absent, and a file that is not the CA's CRL a problem of validate.yml (refused
before any AWS write)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.hybridnodes.eks.tests.unit.plugins.filter.test_private_ca_filters import write_ca, write_crl

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "aws_prerequisites")
MODULE = "hybridnodes.eks.rolesanywhere_crl"
INVENTORY = {"hybrid_cluster_name": "hybrid-lab", "hybrid_credential_provider": "iam-ra",
             "aws_prerequisites_cluster_arn": "arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab"}


def load(*parts):
    return DataLoader().load_from_file(os.path.join(ROLE, *parts), trusted_as_template=True)


def variables(**inventory):
    found = dict(load("defaults", "main.yml"))
    found.update(INVENTORY, **inventory)
    return found


def crl_tasks():
    return [task for task in load("tasks", "rolesanywhere_trust_anchor.yml") if MODULE in task]


def runs(task, **inventory):
    rendered = Templar(loader=DataLoader(), variables=variables(**inventory))
    conditions = task["when"] if isinstance(task["when"], list) else [task["when"]]
    return all(rendered.evaluate_conditional(condition) for condition in conditions)


def test_no_crl_task_runs_without_the_variable():
    assert [runs(task) for task in crl_tasks()] == [False, False]


def test_the_crl_is_imported_into_the_role_s_trust_anchor_when_set():
    present, absent = crl_tasks()
    assert runs(present, hybrid_iam_ra_crl_path="/pki/ca.crl") and not runs(absent, hybrid_iam_ra_crl_path="/pki/ca.crl")
    args = Templar(loader=DataLoader(), variables=variables(hybrid_iam_ra_crl_path="/pki/ca.crl")).template(present[MODULE])
    assert args["crl_path"] == "/pki/ca.crl" and args["enabled"] is True
    assert args["name"] == args["trust_anchor_name"] == "hybrid-lab-hybrid-nodes"
    assert args["tags"] == {"EKSClusterARN": INVENTORY["aws_prerequisites_cluster_arn"]}
    assert args.get("state", "present") == "present"


@pytest.mark.parametrize("path", ["", "/pki/ca.crl"])
def test_only_the_explicit_state_removes_it(path):
    present, absent = crl_tasks()
    assert absent[MODULE]["state"] == "absent"
    assert runs(absent, hybrid_iam_ra_crl_state="absent", hybrid_iam_ra_crl_path=path)
    assert not runs(present, hybrid_iam_ra_crl_state="absent", hybrid_iam_ra_crl_path=path)


def test_the_options_are_documented_with_the_defaults():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert options["aws_prerequisites_iam_ra_crl_path"]["default"] == ""
    assert options["aws_prerequisites_iam_ra_crl_state"]["choices"] == ["present", "absent"]
    assert options["aws_prerequisites_iam_ra_crl_state"]["default"] == "present"
    assert "aws_prerequisites_iam_ra_crl_name" in options


def write_ca_and_crl(tmp_path, signer=None):
    """The lab CA (PEM) and a DER CRL with its name, signed by its key or by the key of ``signer`` (another CA)."""
    ca, key = write_ca(tmp_path)
    return ca, write_crl(tmp_path, signer or key)


def iam_ra_problems(**inventory):
    collect = [task for task in load("tasks", "validate.yml") if task["name"] == "Collect every problem of the inputs"][0]
    found = variables(**inventory)
    found.update(collect["vars"], aws_prerequisites_cluster_read={"cluster": {"arn": INVENTORY["aws_prerequisites_cluster_arn"]}})
    return Templar(loader=DataLoader(), variables=found).template(collect["vars"]["_iam_ra_problems"])


def test_the_ca_s_crl_is_no_problem_and_another_key_s_is(tmp_path):
    ca, crl = write_ca_and_crl(tmp_path)
    assert iam_ra_problems(hybrid_iam_ra_ca_certificate_path=ca, hybrid_iam_ra_crl_path=crl) == []
    other = tmp_path / "other"
    other.mkdir()
    ca, crl = write_ca_and_crl(tmp_path, signer=write_ca(other)[1])
    found = iam_ra_problems(hybrid_iam_ra_ca_certificate_path=ca, hybrid_iam_ra_crl_path=crl)
    assert len(found) == 1 and "not signed by the trust anchor's CA CN=lab CA" in found[0]["message"]
    assert found[0]["fix"].startswith("Set hybrid_iam_ra_crl_path to the CRL")


def test_a_crl_path_that_is_the_certificate_is_a_problem_but_not_when_removing(tmp_path):
    ca, _crl = write_ca_and_crl(tmp_path)
    found = iam_ra_problems(hybrid_iam_ra_ca_certificate_path=ca, hybrid_iam_ra_crl_path=ca)
    assert len(found) == 1 and "holds PEM CERTIFICATE, not a CRL" in found[0]["message"]
    assert iam_ra_problems(hybrid_iam_ra_ca_certificate_path=ca, hybrid_iam_ra_crl_path=ca,
                           hybrid_iam_ra_crl_state="absent") == []
