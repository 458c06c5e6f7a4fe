"""Last by file order: take the session's lab down and check that nothing is left."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from hnlab import labctl, netns

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]


def test_lab_down_leaves_nothing(lab, lab_session, labctl_cli):
    if not lab_session["started"] and os.environ.get("HNLAB_TEST_DOWN") != "1":
        pytest.skip("the lab was already running before this session; set HNLAB_TEST_DOWN=1 to down it")
    t0 = time.monotonic()
    r = labctl_cli("down", timeout=300)
    print(f"down took {time.monotonic() - t0:.1f}s")
    assert r.returncode == 0, r.stdout + r.stderr
    lab_session["started"] = False
    p = lab.prefix
    assert [n for n in netns.list_netns() if n.startswith(p)] == []
    assert [n.name for n in Path("/sys/class/net").iterdir() if n.name.startswith(p)] == []
    assert str(lab.state_dir) not in Path("/proc/self/mountinfo").read_text()
    assert p not in subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    nspawns = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
                if "systemd-nspawn" in cmd or "hnlab.nsforward" in cmd:
                    nspawns.append(f"{proc.name}: {cmd[:100]}")
    assert nspawns == []
    assert labctl.leftovers(lab) == []
    assert not lab.inventory_path.exists()
    assert not os.path.lexists(lab.inventory_link)  # inventories/lab/hosts.yml, not even dangling
