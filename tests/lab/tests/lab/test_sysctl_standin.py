"""The sysctl stand-in (tests/lab/sysctl_standin) held to the real sysctl on the same files (root only).

Both run on a lab host with the same sysctl.d files and arguments. They must agree, in exit code, output and errors,
everywhere but the one documented place: `--system` where every error is a `permission denied` on a key the
container cannot write and the value asked for has the kernel's form. There the real program exits 1 (nspawn's
read-only /proc/sys) and the stand-in exits 0 and records the keys, as the real program would exit on a real host.
"""

from __future__ import annotations

import pytest

from hnlab import edge, realnode
from hnlab.testing import ssh

pytestmark = pytest.mark.lab

STANDIN = "/usr/local/sbin/hnlab-sysctl-contract"
EXTRA = "/etc/sysctl.d/97-hnlab-contract.conf"


@pytest.fixture(scope="module")
def host(lab):
    spec = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"][0]
    path = edge.host_root(lab, spec["name"]) / STANDIN.lstrip("/")
    path.write_bytes(realnode.sysctl_standin_program())
    path.chmod(0o755)
    yield spec
    ssh(lab, spec, f"rm -f {STANDIN} {EXTRA}; {realnode.remove_sysctl_standin_command()}")


def both(lab, host, args: str, extra: str | None):
    setup = f"printf '%s\\n' '{extra}' > {EXTRA}" if extra else f"rm -f {EXTRA}"
    ssh(lab, host, f"{setup}; rm -rf {realnode.SYSCTL_RECORD}")
    real = ssh(lab, host, f"/usr/sbin/sysctl {args}")
    standin = ssh(lab, host, f"{STANDIN} {args}")
    record = ssh(lab, host, f"cat {realnode.SYSCTL_RECORD}/denied 2>/dev/null").stdout
    return real, standin, record


@pytest.mark.parametrize("args, extra", [
    ("-n kernel.pid_max", None),
    ("-w kernel.panic=10", None),
    ("-p /nonexistent.conf", None),
    ("--system", "kernel.panic = ten"),
    ("--system", "net.ipv4.ip_forward = 1 2"),
    # A bad value that a later line sets right still fails on a real host, where each line is written in turn.
    ("--system", "kernel.panic = ten\nkernel.panic = 10"),
], ids=["read", "write-one", "missing-file", "bad-value", "bad-form", "bad-then-good"])
def test_where_the_stand_in_is_the_real_sysctl(lab, host, args, extra):
    real, standin, record = both(lab, host, args, extra)
    assert (standin.returncode, standin.stdout, standin.stderr) == (real.returncode, real.stdout, real.stderr)
    assert record == ""


def test_the_one_difference_read_only_keys_under_system(lab, host):
    real, standin, record = both(lab, host, "--system", "kernel.panic = 10\nvm.overcommit_memory = 1")
    assert real.returncode == 1, real.stderr
    denied = [line.split('"')[1] for line in real.stderr.splitlines() if "permission denied on key" in line]
    assert "kernel.panic" in denied and "vm.overcommit_memory" in denied, real.stderr
    assert (standin.returncode, standin.stdout, standin.stderr) == (0, real.stdout, "")
    # Every key the real program could not write, with the value the files ask for.
    assert [line.split(" = ")[0] for line in record.splitlines()] == denied
    assert "kernel.panic = 10" in record.splitlines() and "vm.overcommit_memory = 1" in record.splitlines()
