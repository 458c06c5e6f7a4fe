# -*- coding: utf-8 -*-
"""host_prep's NTP per OS family, from the role's own vars files and tasks: chrony on RHEL (base RHEL ships chrony, not
systemd-timesyncd), systemd-timesyncd on Debian and Ubuntu, and the time task file rendered by Ansible's templating."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "host_prep")


def family_vars(family):
    """The role's variables on a host of ``family``: its vars/main.yml rendered over roles/os_vars/vars/FAMILY.yml."""
    os_vars = DataLoader().load_from_file(os.path.join(ROLE, "..", "os_vars", "vars", family + ".yml"))
    mapping = DataLoader().load_from_file(os.path.join(ROLE, "vars", "main.yml"), trusted_as_template=True)
    templar = Templar(loader=DataLoader(), variables=dict(os_vars, **mapping))
    names = [name for name in mapping if name.startswith(("host_prep_time", "host_prep_timesyncd"))]
    return dict((name, templar.template(mapping[name])) for name in names)


def time_tasks():
    return DataLoader().load_from_file(os.path.join(ROLE, "tasks", "time.yml"), trusted_as_template=True)


def test_each_family_names_its_time_service_and_package():
    assert (family_vars("RedHat")["host_prep_time_service"], family_vars("RedHat")["host_prep_timesyncd_package"]) == \
        ("chronyd", "chrony")
    assert (family_vars("Debian")["host_prep_time_service"], family_vars("Debian")["host_prep_timesyncd_package"]) == \
        ("systemd-timesyncd", "systemd-timesyncd")


def test_chrony_gets_one_server_line_per_ntp_server_on_redhat_only():
    loader = DataLoader()
    variables = dict(family_vars("RedHat"), host_prep_ntp_servers=["10.200.0.1", "ntp.example.com"])
    templar = Templar(loader=loader, variables=variables)
    tasks = {task["name"]: task for task in time_tasks()}
    chrony = tasks["Point chrony at the pool's NTP servers"]
    assert templar.template(chrony["ansible.builtin.blockinfile"]["block"]) == \
        "server 10.200.0.1 iburst\nserver ntp.example.com iburst\n"
    assert templar.evaluate_conditional(chrony["when"])
    assert not templar.evaluate_conditional(tasks["Point systemd-timesyncd at the pool's NTP servers"]["when"])
    start = tasks["Enable and start the time service"]["ansible.builtin.systemd_service"]
    assert templar.template(start["name"]) == "chronyd"
    debian = Templar(loader=loader, variables=dict(family_vars("Debian"), host_prep_ntp_servers=["10.200.0.1"]))
    assert debian.evaluate_conditional(tasks["Point systemd-timesyncd at the pool's NTP servers"]["when"])
    assert not debian.evaluate_conditional(chrony["when"])
