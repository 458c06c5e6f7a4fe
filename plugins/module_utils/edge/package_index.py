# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The package index of an edge host: which manager, how old, who holds its locks.

nodeadm installs containerd from the distribution ("Unable to locate package
containerd" on a stale apt index), so the index must be fresh first. These
are pure functions over plain data (paths, mtimes, /proc/locks text); the
module package_index does the I/O. Runs on the managed host: standard
library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MANAGERS = ("apt", "dnf", "yum")

# The collection's own stamp, touched after every successful refresh: apt sets
# the mtime of downloaded lists to the server's Last-Modified, so the lists'
# mtimes do not tell when the index was last refreshed.
STAMP = "/var/lib/hybridnodes-eks/package-index.stamp"

# Files whose mtime records a refresh, per manager (globs), besides STAMP.
AGE_SOURCES = {
    "apt": ("/var/lib/apt/periodic/update-success-stamp",),
    "dnf": ("/var/cache/dnf/*/repodata/repomd.xml",),
    "yum": ("/var/cache/yum/*/*/*/repomd.xml", "/var/cache/yum/*/repomd.xml"),
}

# Locks taken with fcntl (apt, dpkg, rpm): held when a POSIX write lock cannot be had.
LOCK_FILES = {
    "apt": ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock", "/var/cache/apt/archives/lock"),
    "dnf": ("/var/lib/rpm/.rpm.lock",),
    "yum": ("/var/lib/rpm/.rpm.lock",),
}
# Locks that are PID files: held while the process they name runs.
PID_LOCKS = {
    "apt": (),
    "dnf": ("/var/cache/dnf/metadata_lock.pid", "/var/cache/dnf/download_lock.pid", "/var/run/dnf.pid"),
    "yum": ("/var/run/yum.pid",),
}


def choose_manager(available):
    """The package manager to use, from the names of the binaries found on the host (apt-get, dnf, yum)."""
    if "apt-get" in available:
        return "apt"
    if "dnf" in available:
        return "dnf"
    if "yum" in available:
        return "yum"
    return None


def index_age(mtimes, now):
    """Seconds since the newest refresh mark (mtimes: a list of epoch floats), or None when there is none."""
    marks = [m for m in mtimes if m is not None]
    if not marks:
        return None
    return max(0, int(now - max(marks)))


def needs_refresh(age, max_age):
    """Refresh when the index was never refreshed, or is older than max_age seconds (0: always)."""
    return age is None or max_age == 0 or age > max_age


def refresh_argv(manager, binary):
    """The command that refreshes the index, as an argument list."""
    if manager == "apt":
        return [binary, "-q", "-y", "update"]
    if manager in ("dnf", "yum"):
        return [binary, "-q", "-y", "makecache"]
    raise ValueError("unknown package manager %r (one of %s)" % (manager, ", ".join(MANAGERS)))


def lock_holders(proc_locks, inode):
    """PIDs holding a lock on ``inode`` (an int) according to /proc/locks text."""
    pids = []
    for line in (proc_locks or "").splitlines():
        fields = line.split()
        # 1: POSIX  ADVISORY  WRITE 1234 08:01:1310730 0 EOF  (blocked waiters have "->" first)
        if len(fields) < 6 or fields[1] == "->":
            continue
        try:
            pid = int(fields[4])
            lock_inode = int(fields[5].rsplit(":", 1)[1])
        except (ValueError, IndexError):
            continue
        if lock_inode == inode and pid not in pids:
            pids.append(pid)
    return pids


def describe_holders(holders):
    """'apt-get (pid 123), unattended-upgr (pid 456)' from [(pid, name), ...]."""
    return ", ".join("%s (pid %s)" % (name or "?", pid) for pid, name in holders) or "an unknown process"


def lock_message(manager, path, holders, waited):
    return ("The %s lock %s is still held by %s after %ss; wait for it to finish (an automatic upgrade, "
            "cloud-init) or raise lock_timeout." % (manager, path, describe_holders(holders), waited))
