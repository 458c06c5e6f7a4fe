# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Per-host task and module-execution counts of one playbook run, for benchmarks/bench.py only.

Not part of the collection (it lives under benchmarks/, not plugins/): bench.py enables it with
ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins and ANSIBLE_CALLBACKS_ENABLED=bench_stats, and it
writes its JSON to the path in HNBENCH_STATS_OUT at the end of the run.

Definitions (what bench.py reports):
  tasks              task results the host received: ok, changed, failed, skipped or unreachable (a loop is one).
  module executions  runs of a real module: results that were not skipped, of an action that is not a
                     controller-side action plugin without a module (CONTROLLER_ACTIONS); a loop counts
                     each item that was not skipped. A task delegated to the controller counts for the
                     host it ran for.
  changed            results with changed=true.
  slowest            the tasks that took longest: from the task's start to its last host result (wall seconds).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bench_stats
type: aggregate
short_description: counts tasks and module executions per host, for benchmarks/bench.py
description:
  - Writes per-host counts of tasks, module executions and changed results to the JSON file named by the
    environment variable E(HNBENCH_STATS_OUT).
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=bench_stats
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

# Actions that run on the controller only, without shipping a module to a host.
CONTROLLER_ACTIONS = frozenset((
    "set_fact", "assert", "debug", "fail", "meta", "include_tasks", "import_tasks", "include_role",
    "import_role", "include_vars", "add_host", "group_by", "pause", "set_stats", "validate_argument_spec",
    "import_playbook", "include", "wait_for_connection", "noop",
))


def short_action(action):
    """The action's last name: ansible.builtin.set_fact and set_fact both give set_fact."""
    return str(action or "").rsplit(".", 1)[-1]


def is_module(action):
    return short_action(action) not in CONTROLLER_ACTIONS


def count_executions(action, result, looped=False):
    """How many module runs a (non-skipped) result stands for: one, or for a loop its items not skipped."""
    if not is_module(action):
        return 0
    items = result.get("results") if looped and isinstance(result, dict) else None
    if isinstance(items, list):
        return sum(1 for item in items if not (isinstance(item, dict) and item.get("skipped")))
    return 1


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_stats"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.hosts = {}
        self.actions = {}
        self.started = {}
        self.durations = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started[task._uuid] = time.monotonic()

    def v2_playbook_on_handler_task_start(self, task):
        self.started[task._uuid] = time.monotonic()

    def _timing(self, task):
        start = self.started.get(task._uuid)
        if start is None:
            return
        entry = self.durations.setdefault(task._uuid, {"task": task.get_name(), "seconds": 0.0})
        entry["seconds"] = round(max(entry["seconds"], time.monotonic() - start), 3)

    def _host(self, name):
        return self.hosts.setdefault(name, {"tasks": 0, "module_executions": 0, "changed": 0, "skipped": 0,
                                            "failed": 0, "unreachable": 0})

    def _record(self, result, status):
        task = result._task
        action = getattr(task, "resolved_action", None) or task.action
        host = self._host(result._host.get_name())
        host["tasks"] += 1
        self._timing(task)
        data = result._result if isinstance(result._result, dict) else {}
        if status == "skipped":
            host["skipped"] += 1
            return
        if status in ("failed", "unreachable"):
            host[status] += 1
        if data.get("changed"):
            host["changed"] += 1
        looped = getattr(task, "loop", None) is not None or bool(getattr(task, "loop_with", None))
        runs = count_executions(action, data, looped) if status != "unreachable" else 0
        host["module_executions"] += runs
        if runs:
            self.actions[short_action(action)] = self.actions.get(short_action(action), 0) + runs

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("HNBENCH_STATS_OUT")
        if not path:
            return
        with open(path, "w") as handle:
            slowest = sorted(self.durations.values(), key=lambda entry: -entry["seconds"])[:25]
            json.dump({"hosts": self.hosts, "actions": self.actions, "slowest": slowest}, handle, indent=1,
                      sort_keys=True)
