"""The AWS emulator process: start records a PID and answers, stop ends exactly it, twice is fine."""

from __future__ import annotations

from pathlib import Path

from hnlab import aws
from hnlab.aws import process
from hnlab.config import isolated


def test_start_status_stop_is_idempotent(tmp_path):
    cfg = isolated(tmp_path, "moto_port")
    assert aws.status(cfg)["running"] is False
    aws.start(cfg)
    try:
        state = aws.status(cfg)
        assert state["running"] and state["healthy"]
        pid = int(process.pid_file(cfg).read_text())
        assert state["pid"] == pid
        aws.start(cfg)  # already running: same process kept
        assert int(process.pid_file(cfg).read_text()) == pid
    finally:
        aws.stop(cfg)
    assert not Path(f"/proc/{pid}").exists()
    assert not process.pid_file(cfg).exists()
    aws.stop(cfg)
    state = aws.status(cfg)
    assert (state["running"], state["healthy"], state["pid"]) == (False, False, None)
