# -*- coding: utf-8 -*-
"""The playbooks' shared parts are written once (issue 19): every operation playbook imports playbooks/_boilerplate.yml
first; the AWS module defaults of the playbooks' plays are one variable; the controller's connection is one host_vars
file, not a stanza per play or task; the drain is the role hybridnodes.eks.drain alone; and the roles' concerns are
tags (site.yml --tags proxy lists the proxy task and none of the other concerns)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
# Not operations: the boilerplate itself, and the inventory check it imports (which also runs on its own).
NOT_OPERATIONS = {"_boilerplate.yml", "validate_inventory.yml"}
OPERATIONS = sorted(os.path.basename(path) for path in glob.glob(os.path.join(PLAYBOOKS, "*.yml"))
                    if os.path.basename(path) not in NOT_OPERATIONS)


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def text(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def yaml_files(*patterns):
    return sorted(path for pattern in patterns for path in glob.glob(os.path.join(ROOT, pattern), recursive=True))


def test_the_operation_playbooks_are_found():
    assert {"site.yml", "join.yml", "upgrade.yml", "decommission.yml", "repave.yml", "routes.yml"} <= set(OPERATIONS)


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_playbook_imports_the_boilerplate_first(name):
    first = load(os.path.join(PLAYBOOKS, name))[0]
    assert first.get("ansible.builtin.import_playbook") == "_boilerplate.yml", (name, first)


def test_site_runs_the_inventory_check_as_its_stage_1():
    first = load(os.path.join(PLAYBOOKS, "site.yml"))[0]
    assert first["vars"] == {"hybrid_validate_inventory": True} and first["tags"] == ["validate_inventory"]


def test_the_boilerplate_checks_the_inventory_once_and_matches_no_host_when_all_is_well():
    plays = load(os.path.join(PLAYBOOKS, "_boilerplate.yml"))
    version, inventory = plays
    # Templated hosts: no host (so nothing in the recap) unless there is something to do.
    assert "'all:!all'" in version["hosts"] and "'all:!all'" in inventory["vars"]["validate_inventory_hosts"]
    assert inventory["ansible.builtin.import_playbook"] == "validate_inventory.yml"
    assert "validate_inventory_problems'] is not defined" in inventory["vars"]["validate_inventory_hosts"]
    assert load(os.path.join(PLAYBOOKS, "validate_inventory.yml"))[0]["hosts"].startswith("{{ validate_inventory_hosts")
    runtime = load(os.path.join(ROOT, "meta", "runtime.yml"))["requires_ansible"]
    assert runtime == ">=" + version["vars"]["boilerplate_requires_ansible"]


def test_the_aws_module_defaults_of_the_playbooks_are_written_once():
    files = yaml_files("playbooks/*.yml", "playbooks/tasks/*.yml")
    region_defaults = [path for path in files if re.search(r"^\s+region: .*\n\s+endpoint_url: ", text(path), re.M)]
    assert region_defaults == [], region_defaults
    defaults = load(os.path.join(PLAYBOOKS, "group_vars", "all.yml"))["hybridnodes_eks_aws_defaults"]
    assert set(defaults) == {"region", "endpoint_url"}
    for path in files:
        for play in load(path) or []:
            module_defaults = play.get("module_defaults") or {}
            for group in ("group/hybridnodes.eks.aws", "group/amazon.aws.aws"):
                if group in module_defaults:
                    assert module_defaults[group] == "{{ hybridnodes_eks_aws_defaults }}", (path, play["name"])


def test_the_controller_connection_is_written_once():
    files = yaml_files("playbooks/*.yml", "playbooks/tasks/*.yml", "roles/drain/**/*.yml")
    repeated = [path for path in files if re.search(r"ansible_connection: local|^\s+connection: local|"
                                                    r"ansible_python_interpreter:", text(path), re.M)]
    assert repeated == [], repeated
    assert load(os.path.join(PLAYBOOKS, "host_vars", "localhost.yml")) == {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}


def test_the_drain_is_in_one_place():
    files = yaml_files("playbooks/**/*.yml", "roles/**/*.yml")
    drains = [os.path.relpath(path, ROOT) for path in files if "kubernetes.core.k8s_drain" in text(path)]
    assert drains == ["roles/drain/tasks/drain.yml", "roles/drain/tasks/uncordon.yml"]
    drain = load(os.path.join(ROOT, "roles", "drain", "tasks", "drain.yml"))[0]["kubernetes.core.k8s_drain"]
    assert drain["delete_options"] == {"ignore_daemonsets": True, "delete_emptydir_data": True,
                                       "wait_timeout": "{{ drain_timeout }}"}
    assert load(os.path.join(ROOT, "roles", "drain", "defaults", "main.yml"))["drain_timeout"] == \
        "{{ hybrid_drain_timeout | default(300) }}"
    for name in ("upgrade.yml", "tasks/decommission_node.yml"):
        assert "name: hybridnodes.eks.drain" in text(os.path.join(PLAYBOOKS, name)), name


def test_the_drain_role_documents_each_entry_point():
    specs = load(os.path.join(ROOT, "roles", "drain", "meta", "argument_specs.yml"))["argument_specs"]
    assert set(specs) == {"main", "node", "drain", "uncordon"}
    defaults = load(os.path.join(ROOT, "roles", "drain", "defaults", "main.yml"))
    assert set(defaults) == set(specs["main"]["options"])


def test_the_host_prep_switches_are_documented():
    specs = load(os.path.join(ROOT, "roles", "host_prep", "meta", "argument_specs.yml"))["argument_specs"]["main"]
    defaults = load(os.path.join(ROOT, "roles", "host_prep", "defaults", "main.yml"))
    for switch in ("host_prep_proxy_enabled", "host_prep_time_enabled"):
        assert specs["options"][switch]["type"] == "bool" and defaults[switch] is True
        assert switch in text(os.path.join(ROOT, "roles", "host_prep", "tasks", "main.yml"))


def test_site_tags_proxy_lists_the_proxy_task_alone_of_the_concerns():
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    # The collection as ansible-test lays it out (ROOT is .../ansible_collections/hybridnodes/eks), or make setup's.
    parts = ROOT.split(os.sep)
    collections = (os.sep.join(parts[:-3]) if parts[-3:-2] == ["ansible_collections"]
                   else os.path.join(ROOT, ".collections"))
    if not os.path.exists(playbook) or not os.path.isdir(collections):
        pytest.skip("needs ansible-playbook next to the Python that runs the tests, and the collection installed")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_PATTERN_MISMATCH="ignore",
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([collections, os.path.dirname(os.path.dirname(
                   os.path.dirname(yaml.__file__)))]))
    proc = subprocess.run([playbook, "-i", os.path.join(ROOT, "inventories", "example"),
                           os.path.join(PLAYBOOKS, "site.yml"), "--tags", "proxy", "--list-tasks"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = [line.strip() for line in proc.stdout.splitlines() if "TAGS: [" in line and "play #" not in line]
    assert "hybridnodes.eks.host_prep : Configure the proxy\tTAGS: [host_prep, proxy]" in tasks, tasks
    # Every other task listed is one that runs for all (always): no other concern of any role.
    assert all("always" in task or "proxy" in task for task in tasks), tasks
