# -*- coding: utf-8 -*-
"""Package index: manager choice, age, refresh decision, /proc/locks parsing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import package_index as pi

# /proc/locks with apt-get holding lock-frontend (inode 262311) and a blocked waiter.
PROC_LOCKS = """1: POSIX  ADVISORY  WRITE 4242 00:2d:262311 0 EOF
1: -> POSIX  ADVISORY  WRITE 5151 00:2d:262311 0 EOF
2: FLOCK  ADVISORY  WRITE 77 fd:01:1234 0 EOF
"""


@pytest.mark.parametrize("available,manager", [(["apt-get", "dnf"], "apt"), (["yum", "dnf"], "dnf"),
                                               (["yum"], "yum"), ([], None)])
def test_choose_manager(available, manager):
    assert pi.choose_manager(available) == manager


def test_age_is_from_the_newest_mark():
    assert pi.index_age([100.0, None, 400.0], 1000.0) == 600
    assert pi.index_age([None], 1000.0) is None
    assert pi.index_age([2000.0], 1000.0) == 0


@pytest.mark.parametrize("age,max_age,refresh", [(None, 3600, True), (3601, 3600, True), (3600, 3600, False),
                                                 (10, 0, True), (0, 3600, False)])
def test_needs_refresh(age, max_age, refresh):
    assert pi.needs_refresh(age, max_age) is refresh


def test_refresh_commands_are_lists():
    assert pi.refresh_argv("apt", "/usr/bin/apt-get") == ["/usr/bin/apt-get", "-q", "-y", "update"]
    assert pi.refresh_argv("dnf", "/usr/bin/dnf") == ["/usr/bin/dnf", "-q", "-y", "makecache"]
    with pytest.raises(ValueError):
        pi.refresh_argv("zypper", "/usr/bin/zypper")


def test_lock_holders_skip_waiters_and_other_inodes():
    assert pi.lock_holders(PROC_LOCKS, 262311) == [4242]
    assert pi.lock_holders(PROC_LOCKS, 1234) == [77]
    assert pi.lock_holders(PROC_LOCKS, 9) == []


def test_lock_message_names_holder_and_fix():
    message = pi.lock_message("apt", "/var/lib/dpkg/lock-frontend", [(4242, "unattended-upgr")], 120)
    assert "held by unattended-upgr (pid 4242) after 120s" in message and "lock_timeout" in message
    assert "an unknown process" in pi.lock_message("apt", "/x", [], 1)
