# -*- coding: utf-8 -*-
"""The one rule by which the roles load what differs per OS (roles/os_vars), run by ansible-playbook on localhost
with the distribution facts of each case: Debian, Ubuntu, RHEL and Amazon Linux load their family's file; a SUSE host
is refused with the file to add, and that one file (in a copy of the role) makes it accepted. Also: the one package
list per family equals what the preflight asks for, and host_prep and nodeadm read their OS values from it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import preflight

ROLES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles"))
OS_VARS = os.path.join(ROLES, "os_vars")

# inventory name -> the facts Ansible gathers there (distribution, major and full version, OS family).
HOSTS = {
    "debian12": ("Debian", "12", "12.5", "Debian"),
    "ubuntu2204": ("Ubuntu", "22", "22.04", "Debian"),
    "rhel9": ("RedHat", "9", "9.4", "RedHat"),
    "al2023": ("Amazon", "2023", "2023.6", "RedHat"),
    "sles15": ("SLES", "15", "15.5", "Suse"),
}

# The facts are set with set_fact cacheable=true, which puts them into the fact cache, so ansible_facts['os_family']
# reads them as it reads gathered facts; the role runs exactly as in host_prep and nodeadm.
PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: The facts of the case
      ansible.builtin.set_fact:
        distribution: "{{ case[0] }}"
        distribution_major_version: "{{ case[1] }}"
        distribution_version: "{{ case[2] }}"
        os_family: "{{ case[3] }}"
        cacheable: true
    - name: The rule
      block:
        - name: Load the OS variables
          ansible.builtin.include_role:
            name: "{{ os_vars_role }}"
        - name: Record what was loaded
          ansible.builtin.copy:
            content: "{{ {'packages': os_vars_packages, 'time_service': os_vars_time_service} | to_json }}"
            dest: "{{ out }}/{{ inventory_hostname }}.json"
            mode: "0644"
      rescue:
        - name: Record the refusal
          ansible.builtin.copy:
            content: "{{ {'failed': ansible_failed_result.msg} | to_json }}"
            dest: "{{ out }}/{{ inventory_hostname }}.json"
            mode: "0644"
"""


def run_rule(tmp_path, role, hosts):
    """What the role loaded (or the refusal) per host, from one ansible-playbook run over ``hosts``."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (tmp_path / "play.yml").write_text(PLAY)
    inventory = {"all": {"hosts": {name: {"case": list(HOSTS[name])} for name in hosts},
                         "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                  "os_vars_role": str(role), "out": str(out)}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_RETRY_FILES_ENABLED="0")
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run([sys.executable, "-m", "ansible.cli.playbook", "-i", "hosts.yml", "play.yml"],
                            cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: json.loads((out / ("%s.json" % name)).read_text()) for name in hosts}


def test_each_supported_family_loads_its_file_and_an_unknown_family_is_refused_until_one_file_is_added(tmp_path):
    found = run_rule(tmp_path, OS_VARS, sorted(HOSTS))
    assert found["debian12"]["packages"] == found["ubuntu2204"]["packages"] == \
        ["bash", "jq", "zstd", "rsync", "systemd", "iptables", "rsyslog"]
    assert found["rhel9"]["packages"] == found["al2023"]["packages"] == \
        ["bash", "jq", "zstd", "rsync", "systemd", "iptables-nft", "rsyslog"]
    assert (found["debian12"]["time_service"], found["rhel9"]["time_service"]) == ("systemd-timesyncd", "chronyd")
    assert found["sles15"] == {"failed": "unsupported OS family: Suse (SLES 15.5): add roles/os_vars/vars/Suse.yml"}

    # What the message says, in a copy of the role: one new file, nothing else.
    copy = tmp_path / "roles" / "os_vars"
    shutil.copytree(OS_VARS, str(copy))
    before = set(os.listdir(str(copy / "vars")))
    suse = family_file("RedHat")
    suse.update(os_vars_package_query=["rpm", "--query", "--queryformat", "%{NAME} ii %{NAME}.%{ARCH}\n"],
                os_vars_package_proxy_file="/etc/sysconfig/proxy", os_vars_time_package="chrony",
                os_vars_packages=["bash", "jq", "zstd", "rsync", "systemd", "iptables", "rsyslog"])
    (copy / "vars" / "Suse.yml").write_text(yaml.safe_dump(suse))
    assert set(os.listdir(str(copy / "vars"))) - before == {"Suse.yml"}
    accepted = run_rule(tmp_path, copy, ["sles15", "debian12"])
    assert accepted["sles15"]["packages"] == ["bash", "jq", "zstd", "rsync", "systemd", "iptables", "rsyslog"]
    assert accepted["debian12"] == found["debian12"]


def test_a_vars_file_without_one_of_the_variables_is_refused_with_its_name(tmp_path):
    copy = tmp_path / "roles" / "os_vars"
    shutil.copytree(OS_VARS, str(copy))
    incomplete = family_file("Debian")
    del incomplete["os_vars_time_service"]
    (copy / "vars" / "Suse.yml").write_text(yaml.safe_dump(incomplete))
    found = run_rule(tmp_path, copy, ["sles15"])
    assert found["sles15"]["failed"] == \
        "%s lacks os_vars_time_service: set them as roles/os_vars/vars/Debian.yml does." % (copy / "vars" / "Suse.yml")


def family_file(family):
    with open(os.path.join(OS_VARS, "vars", family + ".yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_every_family_file_sets_every_variable_and_only_those():
    names = DataLoader().load_from_file(os.path.join(OS_VARS, "vars", "main.yml"))["os_vars_names"]
    for family in ("Debian", "RedHat"):
        assert sorted(family_file(family)) == sorted(names), family


def test_the_package_list_of_each_family_is_what_the_preflight_asks_for():
    for family in ("Debian", "RedHat"):
        wanted = [preflight.COMMANDS[name][1][family] for name in preflight.BASE_COMMANDS]
        assert family_file(family)["os_vars_packages"] == wanted, family


def role_values(role, family):
    """The role's OS variables (its vars/main.yml) rendered over the family's file, as Ansible templates them."""
    variables = dict(DataLoader().load_from_file(os.path.join(OS_VARS, "vars", family + ".yml"), trusted_as_template=True),
                     ansible_facts={"pkg_mgr": "dnf"})
    mapping = DataLoader().load_from_file(os.path.join(ROLES, role, "vars", "main.yml"), trusted_as_template=True)
    templar = Templar(loader=DataLoader(), variables=dict(variables, **mapping))
    return dict((name, templar.template(value)) for name, value in mapping.items()
                if isinstance(value, str) and "os_vars_" in value)


def test_host_prep_and_nodeadm_read_the_family_file_under_their_own_names():
    assert role_values("host_prep", "Debian")["host_prep_package_proxy_file"] == "/etc/apt/apt.conf.d/proxy.conf"
    assert role_values("host_prep", "RedHat")["host_prep_package_proxy_file"] == "/etc/dnf/dnf.conf"
    assert role_values("host_prep", "RedHat")["host_prep_proxy_ssm_drop_ins"] == \
        ["/etc/systemd/system/amazon-ssm-agent.service.d/http-proxy.conf"]
    assert role_values("nodeadm", "Debian") == {
        "nodeadm_ssm_registration_file": "/var/lib/amazon/ssm/registration", "nodeadm_binary_dir": "/usr/local/bin",
        "nodeadm_iam_ra_crypto_packages": ["python3-cryptography"]}
    # Every OS value is read by a role: none is loaded for nothing.
    read = set()
    for role in ("host_prep", "nodeadm"):
        read.update(value.strip("{} ") for value in DataLoader().load_from_file(
            os.path.join(ROLES, role, "vars", "main.yml")).values() if isinstance(value, str))
    assert read >= set(family_file("Debian"))
