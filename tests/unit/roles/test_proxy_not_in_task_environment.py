# -*- coding: utf-8 -*-
"""No task hands the proxy to a module through the task's `environment`: Ansible shows a task's environment at -vvv (it
prefixes the remote command line) and the host's process list shows it while the module runs, with whatever
user:password the proxy URL holds. The collection's modules take it as a no_log option (nodeadm, package_index)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def tasks(items):
    for item in items or []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from tasks(item.get(key))


def task_files():
    for pattern in ("roles/*/tasks/**/*.yml", "roles/*/handlers/*.yml", "playbooks/**/*.yml"):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            with open(path) as handle:
                yield os.path.relpath(path, ROOT), yaml.safe_load(handle)


def test_no_task_environment_carries_the_proxy():
    found = {}
    scanned = 0
    for path, content in task_files():
        for task in tasks(content if isinstance(content, list) else []):
            scanned += 1
            if "proxy" in str(task.get("environment", "")).lower():
                found[(path, task.get("name"))] = str(task["environment"])
    assert scanned > 100  # the scan reads the task files
    # No exception: a builtin module with no proxy option gets a module of the collection that takes it (the Palette
    # agent installer's download and run: hybridnodes.eks.palette_agent_install).
    assert not found, "give the proxy as a no_log module option instead: %s" % found


def test_the_nodeadm_and_package_index_tasks_give_the_proxy_as_module_options():
    with open(os.path.join(ROOT, "roles", "nodeadm", "tasks", "join.yml")) as handle:
        (join,) = yaml.safe_load(handle)
    assert "environment" not in join
    assert join["hybridnodes.eks.nodeadm"]["proxy"] == "{{ nodeadm_proxy | default(omit, true) }}"
    assert "nodeadm_no_proxy" in join["hybridnodes.eks.nodeadm"]["no_proxy"]
    with open(os.path.join(ROOT, "roles", "host_prep", "tasks", "package_index.yml")) as handle:
        content = yaml.safe_load(handle)
    (index,) = [i for i, task in enumerate(content) if "hybridnodes.eks.package_index" in task]
    refresh = content[index]
    assert "environment" not in refresh
    # The role's own check of the URL runs first, with its message (module_utils/rules/proxy.py).
    assert any(task.get("ansible.builtin.import_tasks") == "proxy_check.yml" for task in content[:index])
    assert refresh["hybridnodes.eks.package_index"]["proxy"] == "{{ host_prep_proxy | default(omit, true) }}"


def test_the_palette_agent_download_and_run_give_the_proxy_as_module_options():
    with open(os.path.join(ROOT, "roles", "palette_artifacts", "tasks", "agent_install.yml")) as handle:
        content = yaml.safe_load(handle)
    named = {task.get("name"): task for task in tasks(content)}
    for name, state in (("Download and verify palette-agent-install.sh", "downloaded"),
                        ("Run the Palette agent installer", "installed")):
        task = named[name]
        assert "environment" not in task, name
        options = task["hybridnodes.eks.palette_agent_install"]
        assert options["state"] == state
        assert options["proxy"] == "{{ palette_artifacts_proxy | default(omit, true) }}"
