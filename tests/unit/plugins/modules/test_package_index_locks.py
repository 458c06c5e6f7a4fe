# -*- coding: utf-8 -*-
"""package_index's lock probing against a real fcntl lock held by another process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import sys

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import package_index as pi
from ansible_collections.hybridnodes.eks.plugins.modules import package_index

HOLD = "import fcntl, sys, time\nf = open(sys.argv[1], 'r+')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n"


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, **kwargs):
        raise Failed(kwargs)


@pytest.fixture
def lock_file(tmp_path, monkeypatch):
    path = tmp_path / "lock-frontend"
    path.write_text("")
    monkeypatch.setitem(pi.LOCK_FILES, "apt", (str(tmp_path / "absent-lock"), str(path)))
    return path


def test_free_lock_is_not_held_and_not_left_taken(lock_file):
    assert package_index.held_lock("apt") is None
    assert package_index.held_lock("apt") is None


def test_held_lock_names_the_holder_and_the_wait_is_bounded(lock_file):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_file)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        path, holders = package_index.held_lock("apt")
        assert path == str(lock_file)
        assert [pid for pid, _name in holders] == [holder.pid]
        sleeps = []
        ticks = iter([0.0, 0.5, 1.0, 2.5])
        with pytest.raises(Failed) as failure:
            package_index.wait_for_locks(FakeModule(), "apt", 2, sleep=sleeps.append, clock=lambda: next(ticks))
        details = failure.value.args[0]
        assert "(pid %d) after 2s" % holder.pid in details["msg"]
        assert details["holders"][0]["pid"] == holder.pid
        assert sleeps == [1, 1]
    finally:
        holder.kill()
        holder.wait()
    assert package_index.wait_for_locks(FakeModule(), "apt", 2, sleep=lambda _s: None) == 0.0
