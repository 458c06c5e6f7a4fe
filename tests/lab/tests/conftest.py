"""Shared fixtures of the lab tests: one lab per test session.

The tests of the lab itself are in lab/, the tests of the collection on the lab in collection/; one session runs
both (the files in the order of their names, see pytest_collection_modifyitems). The `lab` fixture reuses a running
lab, or brings one up (HNLAB_TEST_HOSTS edge hosts, default 3) and takes it down at the end of the session. It never
starts a second lab beside a running one. zz/test_zz_lab_down.py runs last and downs the lab this session started
(or any, with HNLAB_TEST_DOWN=1) and checks that nothing is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parents[1]

# hnlab is the lab's package, installed editable into the venv by `make setup` (tests/lab/pyproject.toml), and it
# must be this checkout's; the collection's own code (ansible_collections.hybridnodes.eks) is on the path by
# `pythonpath` in that file's pytest settings.
try:
    import hnlab
except ModuleNotFoundError as exc:
    raise ImportError("the lab package hnlab is not installed in this venv: run `make setup` "
                      "(scripts/setup.sh installs tests/lab editable)") from exc
hnlab.require_checkout(LAB_DIR)

from hnlab import config as lab_config, labctl  # noqa: E402

LABCTL = LAB_DIR / "labctl.py"
HOSTS = int(os.environ.get("HNLAB_TEST_HOSTS", "3"))
# The profile of the lab this session brings up (docs/lab.md): real (the real nodeadm, kubelet and containerd) unless
# HNLAB_TEST_PROFILE says light, as the 50-host scale test does (50 kubelets would not fit 2 cores).
PROFILE = os.environ.get("HNLAB_TEST_PROFILE", "real")

session_state = {"started": False}


RELIABILITY_CATEGORIES = ("bad_input", "fault", "secrets", "check_mode", "concurrency")


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: needs root and the lab's caches; brings the lab up or reuses a running one")
    config.addinivalue_line(
        "markers", "reliability(category): a reliability case (" + ", ".join(RELIABILITY_CATEGORIES)
        + "); the session's summary counts them per category")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in item.iter_markers("reliability"):
            if not mark.args or mark.args[0] not in RELIABILITY_CATEGORIES:
                raise pytest.UsageError(f"{item.nodeid}: reliability marker needs one of {RELIABILITY_CATEGORIES}")
    # One session over lab/ (the lab's own tests) and collection/ (the collection's, on the lab), in the order of the
    # files' names across both, as when they shared one folder: they share the running lab and each file leaves it
    # as the next one found it. zz/test_zz_lab_down.py is last by its name as well as by its folder. A stable sort,
    # so the tests of a file keep their order.
    items.sort(key=lambda item: item.path.name)


def pytest_terminal_summary(terminalreporter):
    """Reliability cases per category: how many ran and how many passed."""
    counts = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup") or (outcome == "passed" and report.when != "call"):
                continue
            for category in getattr(report, "reliability", ()):
                counts.setdefault(category, {}).setdefault(outcome, 0)
                counts[category][outcome] += 1
    if counts:
        terminalreporter.section("reliability cases per category")
        for category in RELIABILITY_CATEGORIES:
            if category in counts:
                summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts[category].items()))
                terminalreporter.write_line(f"{category:12} {summary}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().reliability = tuple(m.args[0] for m in item.iter_markers("reliability"))


def labctl_run(*args, timeout=900):
    return subprocess.run([sys.executable, str(LABCTL), *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def lab():
    cfg = lab_config.load()
    state = labctl.read_lab(cfg)
    if state and state.get("status") == "up":
        dead = labctl.health(cfg)
        if not dead:
            if not cfg.inventory_path.exists():
                # Brought up when its inventory was a file in the source tree (inventories/lab/hosts.yml).
                labctl.write_inventory(cfg)
            yield cfg
            return
        # Marked up, but its processes were ended from outside (a stopped session, a reboot): unusable, so it is
        # taken down and a new one brought up instead of failing every test against it.
        print("a lab is marked up but is not alive (" + "; ".join(dead[:10]) + "): taking it down")
        r = labctl_run("down")
        if r.returncode != 0:
            pytest.fail(f"labctl down of the dead lab failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    present = labctl.is_running(cfg)
    if present:
        pytest.fail("a half-built lab is present; run `labctl down`:\n" + "\n".join(present[:20]))
    t0 = time.monotonic()
    r = labctl_run("up", "--hosts", str(HOSTS), "--profile", PROFILE)
    print(r.stdout[-3000:], r.stderr[-3000:])
    state = labctl.read_lab(cfg)
    if not state or state.get("status") != "up":
        labctl_run("down")
        pytest.fail(f"labctl up failed rc={r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    if r.returncode != 0:
        labctl_run("down")
        pytest.fail(f"labctl up: components failed: {state.get('errors')}\n{r.stderr[-2000:]}")
    session_state["up_seconds"] = time.monotonic() - t0
    session_state["hosts"] = HOSTS
    print(f"lab up in {session_state['up_seconds']:.1f}s")
    session_state["started"] = True
    try:
        yield cfg
    finally:
        if session_state["started"] and labctl.read_lab(cfg):
            labctl_run("down")


@pytest.fixture(scope="session")
def lab_session():
    """{'started': bool, 'up_seconds': float}: whether this session brought the lab up
    (and so may take it down), and how long `labctl up` took."""
    return session_state


@pytest.fixture(scope="session")
def labctl_cli():
    """Run `labctl.py ARGS...` and return the CompletedProcess."""
    return labctl_run
