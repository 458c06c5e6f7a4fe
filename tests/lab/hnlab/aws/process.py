"""Start, stop and report the lab's AWS emulator process (hnlab.aws.server).

The PID is recorded in cfg.state_dir/aws/moto.pid so that stop() ends exactly
that process; its output goes to cfg.state_dir/aws/moto.log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..config import LabConfig

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.1
LAB_ROOT = Path(__file__).resolve().parents[2]  # tests/lab, holding the hnlab package


def state_dir(cfg: LabConfig) -> Path:
    return cfg.state_dir / "aws"


def pid_file(cfg: LabConfig) -> Path:
    return state_dir(cfg) / "moto.pid"


def log_file(cfg: LabConfig) -> Path:
    return state_dir(cfg) / "moto.log"


def _recorded_pid(cfg: LabConfig) -> int | None:
    """The recorded PID if that process is still our server, else None."""
    try:
        pid = int(pid_file(cfg).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"hnlab.aws.server" in cmdline else None


def healthy(cfg: LabConfig) -> bool:
    try:
        with urllib.request.urlopen(f"{cfg.moto_endpoint}/_lab/health", timeout=1) as resp:
            return json.load(resp).get("ok") is True
    except (OSError, ValueError, urllib.error.URLError):
        return False


def start(cfg: LabConfig) -> None:
    """Start the emulator on 127.0.0.1:cfg.moto_port and wait (bounded) until it answers."""
    if _recorded_pid(cfg) and healthy(cfg):
        return
    stop(cfg)
    state_dir(cfg).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LAB_ROOT), env.get("PYTHONPATH")]))
    with open(log_file(cfg), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hnlab.aws.server", "--host", "127.0.0.1",
             "--port", str(cfg.moto_port), "--account-id", cfg.account_id],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
    pid_file(cfg).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file(cfg).read_text(errors="replace")[-2000:]
            pid_file(cfg).unlink(missing_ok=True)
            raise RuntimeError(f"AWS emulator exited with {proc.returncode}:\n{tail}")
        if healthy(cfg):
            return
        time.sleep(POLL_INTERVAL_S)
    stop(cfg)
    raise RuntimeError(f"AWS emulator not ready on {cfg.moto_endpoint} after {READY_TIMEOUT_S} s")


def stop(cfg: LabConfig) -> None:
    """End the recorded emulator process, if any (idempotent)."""
    pid = _recorded_pid(cfg)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            _reap(pid)
            time.sleep(POLL_INTERVAL_S)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
    pid_file(cfg).unlink(missing_ok=True)


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (no zombie left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status(cfg: LabConfig) -> dict[str, Any]:
    pid = _recorded_pid(cfg)
    return {"running": pid is not None, "pid": pid, "endpoint": cfg.moto_endpoint,
            "healthy": pid is not None and healthy(cfg), "log": str(log_file(cfg))}
