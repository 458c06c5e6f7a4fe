# -*- coding: utf-8 -*-
"""The agent-mode user-data of roles/palette_artifacts, rendered by Ansible's own templating from the role's template
and defaults: written on the controller it keeps the guide's reboot: true; placed on a host by the role's agent install
it says reboot: false (Ansible reboots); it passes hybridnodes.eks.palette_user_data_problems. (The installer gets the
site proxy from hybridnodes.eks.palette_agent_install, whose tests hold it.)"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.hybridnodes.eks.plugins.filter.palette import palette_user_data_problems

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "palette_artifacts")


def _variables(**inventory):
    loader = DataLoader()
    variables = dict(loader.load_from_file(os.path.join(ROLE, "defaults", "main.yml"), trusted_as_template=True))
    variables.update(loader.load_from_file(os.path.join(ROLE, "vars", "main.yml"), trusted_as_template=True))
    variables.update(playbook_dir="/pb", hybrid_palette_token="tok-0123456789abcdef")
    variables.update(inventory)
    return loader, variables


def render_user_data(**inventory):
    loader, variables = _variables(**inventory)
    with open(os.path.join(ROLE, "templates", "user-data-agent.yaml.j2")) as fh:
        text = fh.read()
    return Templar(loader=loader, variables=variables).template(trust_as_template(text))


def test_controller_copy_keeps_the_guides_reboot():
    data = yaml.safe_load(render_user_data(hybrid_palette_project_name="Default"))
    assert data == {"reboot": True, "poweroff": False, "skipKubeVip": True, "edgeHostToken": "tok-0123456789abcdef",
                    "projectName": "Default"}
    assert palette_user_data_problems(data, mode="agent") == []


def test_host_copy_leaves_the_reboot_to_ansible_and_carries_users_and_proxy():
    text = render_user_data(palette_artifacts_agent_install=True, hybrid_palette_project_uid="p-1",
                            hybrid_proxy="http://proxy.lan:3128", palette_artifacts_ssh_public_keys=["ssh-ed25519 AAAA k"])
    data = yaml.safe_load(text)
    assert data["reboot"] is False and data["edgeHostToken"] == "tok-0123456789abcdef" and data["projectUid"] == "p-1"
    assert "projectName" not in data
    assert data["stylus"]["site"]["network"] == {"httpProxy": "http://proxy.lan:3128", "httpsProxy": "http://proxy.lan:3128"}
    kairos = data["stages"]["initramfs"][0]["users"]["kairos"]
    assert kairos == {"groups": ["sudo"], "ssh_authorized_keys": ["ssh-ed25519 AAAA k"]}
    assert palette_user_data_problems(text, mode="agent") == []


def test_installer_path_follows_the_agent_dir():
    loader, variables = _variables(palette_artifacts_agent_dir="/srv/palette")
    path = Templar(loader=loader, variables=variables).template(variables["palette_artifacts_agent_installer_path"])
    assert path == "/srv/palette/palette-agent-install.sh"
