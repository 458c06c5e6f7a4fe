"""Lab test callback: every task result of a playbook run, as JSON lines, for comparing --check with the real run.

Enabled by the lab tests only (ANSIBLE_CALLBACK_PLUGINS=tests/lab/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=hnlab_changes); HNLAB_CHANGES_FILE names the file it writes.
Each line: {"play", "task", "host", "status", "changed"}; no result values (nothing secret).
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: hnlab_changes
    type: aggregate
    short_description: task results of a lab run as JSON lines
    description: The play, task, host, status and changed flag of every task result, in HNLAB_CHANGES_FILE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "hnlab_changes"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("HNLAB_CHANGES_FILE")
        self._play = ""

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name().strip()

    def _write(self, result, status):
        if not self._path:
            return
        line = {"play": self._play, "task": result._task.get_name().strip(), "host": result._host.get_name(),
                "status": status, "changed": bool(result._result.get("changed", False))}
        with open(self._path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")
