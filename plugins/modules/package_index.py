#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: package_index
short_description: Refresh the package index of an edge host when it is older than a maximum age
version_added: 0.1.0
description:
  - nodeadm installs containerd and iptables from the distribution; on a stale index that fails with
    C(Unable to locate package containerd). This module refreshes the index with C(apt-get update),
    C(dnf makecache) or C(yum makecache) when it is older than O(max_age), and reports its age.
  - The age is the time since the newest refresh mark (the collection's stamp
    C(/var/lib/hybridnodes-eks/package-index.stamp), touched after every refresh, apt's
    C(update-success-stamp), dnf's or yum's C(repomd.xml)).
  - Before refreshing, waits up to O(lock_timeout) seconds for the package manager's locks (probed with
    C(fcntl), never taken for longer than the probe), then fails naming the process that holds them.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  max_age:
    description:
      - Refresh when the index is older than this many seconds; V(0) refreshes on every run.
    type: int
    default: 3600
  lock_timeout:
    description:
      - How many seconds to wait for the package manager's locks before failing.
    type: int
    default: 300
  manager:
    description:
      - The package manager; V(auto) picks apt-get, then dnf, then yum, whichever the host has.
    type: str
    default: auto
    choices: [auto, apt, dnf, yum]
  proxy:
    description:
      - The HTTP(S) proxy the package manager reaches its repositories through (C(hybrid_proxy)), given to the refresh
        command alone as C(http_proxy) and C(https_proxy).
      - Give it here, not as the task's C(environment), which Ansible shows at C(-vvv) and on the host's process list;
        the module masks it, its password and C(user:password) in everything it returns.
    type: str
attributes:
  check_mode:
    support: full
    details: Predicts whether a refresh would run, and changes nothing.
  diff_mode:
    support: full
    details: When it refreshes, the index age before and C(refreshed) after.
extends_documentation_fragment: [hybridnodes.eks.attributes]
"""

EXAMPLES = r"""
- name: Refresh the package index when older than an hour
  hybridnodes.eks.package_index:
    max_age: 3600
    lock_timeout: 120
    proxy: "{{ hybrid_proxy | default(omit) }}"
"""

RETURN = r"""
manager:
  description: The package manager used.
  returned: always
  type: str
  sample: apt
age_before:
  description: Age of the index in seconds before the run; null when it was never refreshed.
  returned: always
  type: int
  sample: 86400
age:
  description: Age of the index in seconds after the run (0 after a refresh; in check mode, the prediction).
  returned: always
  type: int
  sample: 0
refreshed:
  description: Whether the index was refreshed (in check mode, would be).
  returned: always
  type: bool
  sample: true
lock_wait:
  description: Seconds spent waiting for the package manager's locks.
  returned: always
  type: float
  sample: 0.0
"""

import errno
import fcntl
import glob
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import package_index as pi
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import proxy


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _proc_name(pid):
    try:
        with open("/proc/%d/comm" % pid) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def _pid_alive(pid):
    return os.path.exists("/proc/%d" % pid)


def held_lock(manager):
    """(path, [(pid, name)]) of the first held lock, or None."""
    for path in pi.LOCK_FILES[manager]:
        try:
            handle = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                try:
                    with open("/proc/locks") as locks:
                        text = locks.read()
                except (IOError, OSError):
                    text = ""
                pids = pi.lock_holders(text, os.fstat(handle).st_ino)
                return path, [(pid, _proc_name(pid)) for pid in pids]
            fcntl.lockf(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)
    for path in pi.PID_LOCKS[manager]:
        try:
            with open(path) as handle:
                pid = int(handle.read().strip() or "0")
        except (IOError, OSError, ValueError):
            continue
        if pid > 0 and pid != os.getpid() and _pid_alive(pid):
            return path, [(pid, _proc_name(pid))]
    return None


def wait_for_locks(module, manager, timeout, sleep=time.sleep, clock=time.monotonic):
    start = clock()
    while True:
        held = held_lock(manager)
        waited = round(clock() - start, 1)
        if held is None:
            return waited
        if waited >= timeout:
            module.fail_json(msg=pi.lock_message(manager, held[0], held[1], int(waited)), lock=held[0],
                             holders=[{"pid": pid, "name": name} for pid, name in held[1]])
        sleep(1)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            max_age=dict(type="int", default=3600),
            lock_timeout=dict(type="int", default=300),
            manager=dict(type="str", default="auto", choices=["auto"] + list(pi.MANAGERS)),
            proxy=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    # The whole URL is masked by no_log; apt or dnf may print its password on its own, decoded, or as user:password.
    module.no_log_values.update(proxy.secret_parts(params["proxy"]))
    problems = proxy.proxy_problems(params["proxy"], "proxy")  # never quotes the URL
    if params["max_age"] < 0:
        problems.append("max_age must be 0 or more seconds, not %s." % params["max_age"])
    if params["lock_timeout"] < 0:
        problems.append("lock_timeout must be 0 or more seconds, not %s." % params["lock_timeout"])
    binaries = dict((name, module.get_bin_path(name)) for name in ("apt-get", "dnf", "yum"))
    manager = params["manager"]
    if manager == "auto":
        manager = pi.choose_manager([name for name, path in binaries.items() if path])
    binary = {"apt": binaries["apt-get"], "dnf": binaries["dnf"], "yum": binaries["yum"]}.get(manager)
    if not binary:
        problems.append("No package manager found (%s); this host's OS is not one EKS Hybrid Nodes supports."
                        % (manager if params["manager"] != "auto" else "apt-get, dnf or yum"))
    if problems:
        module.fail_json(msg=" ".join(problems), problems=problems)

    marks = [_mtime(pi.STAMP)]
    for pattern in pi.AGE_SOURCES[manager]:
        marks.extend(_mtime(path) for path in glob.glob(pattern))
    age_before = pi.index_age(marks, time.time())
    refresh = pi.needs_refresh(age_before, params["max_age"])
    result = dict(manager=manager, age_before=age_before, age=age_before, refreshed=refresh, lock_wait=0.0,
                  changed=refresh)
    if refresh and not module.check_mode:
        result["lock_wait"] = wait_for_locks(module, manager, params["lock_timeout"])
        argv = pi.refresh_argv(manager, binary)
        environment = dict(proxy.proxy_environment(params["proxy"], names=("http_proxy", "https_proxy"), no_proxy_names=()),
                           DEBIAN_FRONTEND="noninteractive")
        rc, out, err = module.run_command(argv, environ_update=environment)
        if rc != 0:
            module.fail_json(msg="Refreshing the %s package index failed (rc=%s): %s. Check the repositories and the "
                                 "proxy (hybrid_proxy) of this host." % (manager, rc, (err or out).strip()[-2000:]),
                             cmd=argv, rc=rc, stdout=out, stderr=err, manager=manager, age_before=age_before)
        directory = os.path.dirname(pi.STAMP)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        with open(pi.STAMP, "w") as stamp:
            stamp.write("%d\n" % int(time.time()))
        result["age"] = 0
    elif refresh:
        result["age"] = 0
    if module._diff and refresh:
        before = "never refreshed" if age_before is None else "%ss old" % age_before
        result["diff"] = dict(before="%s package index: %s\n" % (manager, before),
                              after="%s package index: refreshed\n" % manager)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
