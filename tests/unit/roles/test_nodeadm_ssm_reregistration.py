# -*- coding: utf-8 -*-
"""roles/nodeadm/tasks/credentials.yml: a registered host that nodeadm is going to uninstall (which deregisters it from
SSM and deletes its registration) needs a new activation, decided from the nodeadm module's own predicted plan; and the
NodeConfig then carries that activation (tasks/config.yml). Rendered with Ansible's own templating."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "nodeadm")


def task(file_name, name):
    found = DataLoader().load_from_file(os.path.join(ROLE, "tasks", file_name), trusted_as_template=True)
    return [t for t in found if t["name"] == name][0]


def needs_activation(registered, prediction=None):
    record = task("credentials.yml", "Record whether the host needs an activation (not registered, or registered "
                                     "until nodeadm uninstalls it)")
    variables = {"nodeadm_registration": {"stat": {"exists": registered}}}
    if prediction is not None:
        variables["nodeadm_prediction"] = prediction
    templar = Templar(loader=DataLoader(), variables=variables)
    return str(templar.template(record["ansible.builtin.set_fact"]["nodeadm_needs_activation"])).strip() == "True"


def test_a_host_nodeadm_will_uninstall_needs_a_new_activation():
    assert needs_activation(True, {"actions": ["uninstall", "install", "init"]})
    assert not needs_activation(True, {"actions": ["init"]})
    assert not needs_activation(True, {"skipped": True})  # no prediction without allow_disruptive
    assert needs_activation(False)


def test_the_prediction_runs_only_with_allow_disruptive_and_in_check_mode():
    predict = task("credentials.yml", "Predict whether nodeadm will uninstall a registered host (with allow_disruptive only)")
    assert predict["check_mode"] is True
    assert "nodeadm_allow_disruptive" in predict["when"] and "nodeadm_registration.stat.exists" in predict["when"]
    assert predict["hybridnodes.eks.nodeadm"]["allow_disruptive"] is True


def test_the_nodeconfig_takes_the_activation_of_such_a_host():
    write = task("config.yml", "Write the NodeConfig")["hybridnodes.eks.nodeadm_config"]
    variables = {"nodeadm_credential_provider": "ssm", "nodeadm_needs_activation": True,
                 "nodeadm_activation": {"activation_id": "8d4c6b1e-3f2a-4b5c-9d7e-0123456789ab",
                                        "activation_code": "c" * 24}}
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(write["ssm_activation_id"]).strip() == "8d4c6b1e-3f2a-4b5c-9d7e-0123456789ab"
