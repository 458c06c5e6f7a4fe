"""Low-level primitives of the lab: entering named network namespaces,
running commands, and PID files that let ``stop()`` end exactly the
processes the lab started.

Python 3.11 has no ``os.setns``, so :func:`entered` calls setns(2) through
ctypes. setns on a network namespace changes only the calling thread, so the
context manager saves the thread's own namespace (``/proc/thread-self/ns/net``)
and always returns to it. A socket keeps the namespace it was created in, so
a process in the root namespace can listen inside a lab namespace::

    from hnlab import netns
    sock = netns.socket_in_netns(cfg.netns_mirror, cfg.mirror_ip, cfg.mirror_port)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, Sequence

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = Path("/run/netns")

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> Path:
    return NETNS_RUN_DIR / name


def netns_exists(name: str) -> bool:
    return netns_path(name).exists()


def list_netns(prefix: str = "") -> list[str]:
    if not NETNS_RUN_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_RUN_DIR.iterdir() if p.name.startswith(prefix))


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside network namespace NAME
    (/run/netns/NAME), then return the thread to the namespace it was in."""
    target = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except BaseException:
        os.close(target)
        raise
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def socket_in_netns(
    netns_name: str,
    host: str,
    port: int,
    *,
    kind: int = socket.SOCK_STREAM,
    backlog: int = 128,
) -> socket.socket:
    """A socket bound to HOST:PORT inside NETNS_NAME (listening when TCP).
    The caller's thread stays in its own namespace."""
    with entered(netns_name):
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
    return sock


def connect_in_netns(netns_name: str, host: str, port: int, timeout: float = 2.0) -> socket.socket:
    """A TCP client socket created inside NETNS_NAME and connected to HOST:PORT."""
    with entered(netns_name):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


# --------------------------------------------------------------------------
# Commands


class CommandError(RuntimeError):
    pass


def run(args: Sequence[str], *, check: bool = True, netns: str | None = None,
        timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command (never through a shell); inside NETNS when given."""
    argv = list(args)
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, check=False)
    if check and proc.returncode != 0:
        raise CommandError(f"{' '.join(argv)} -> rc={proc.returncode}: {proc.stderr.strip()}")
    return proc


# --------------------------------------------------------------------------
# PID files: {"pid": N, "start": <starttime ticks>, "argv0": ...}. The start
# time guards against a recycled PID: a process is "ours" only if both match.


def proc_start_time(pid: int) -> int | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    if fields[0] == "Z":  # zombie: already dead
        return None
    return int(fields[19])


def write_pidfile(path: Path, pid: int, **extra) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"pid": pid, "start": proc_start_time(pid), **extra}))
    tmp.replace(path)


def read_pidfile(path: Path) -> dict | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        data = json.loads(text)
        if isinstance(data, int):
            return {"pid": data, "start": None}
        return data
    except ValueError:
        try:
            return {"pid": int(text.split()[0]), "start": None}
        except (ValueError, IndexError):
            return None


def pid_alive(info: dict | None) -> bool:
    if not info or not info.get("pid"):
        return False
    start = proc_start_time(int(info["pid"]))
    if start is None:
        return False
    return info.get("start") is None or start == info["start"]


def pidfile_alive(path: Path) -> bool:
    return pid_alive(read_pidfile(path))


def terminate_pidfiles(paths: Sequence[Path], *, sig: int = signal.SIGTERM,
                       timeout: float = 15.0) -> list[Path]:
    """Send SIG to every live process recorded in PATHS, wait up to TIMEOUT
    for them to exit, SIGKILL the rest; remove the pid files. Returns the
    paths whose process still lives (should be empty)."""
    live = [(p, read_pidfile(p)) for p in paths]
    live = [(p, i) for p, i in live if pid_alive(i)]
    for _unused, info in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(info["pid"]), sig)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        live = [(p, i) for p, i in live if pid_alive(i)]
        if live:
            time.sleep(0.1)
    for _unused, info in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(info["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while live and time.monotonic() < deadline:
        live = [(p, i) for p, i in live if pid_alive(i)]
        if live:
            time.sleep(0.1)
    for p in paths:
        if not any(p == q for q, _unused in live):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return [p for p, _unused in live]


def wait_tcp(host: str, port: int, timeout: float, netns: str | None = None,
             interval: float = 0.2) -> bool:
    """Poll until HOST:PORT accepts a TCP connection (bounded by TIMEOUT)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if netns:
                s = connect_in_netns(netns, host, port, timeout=1.0)
            else:
                s = socket.create_connection((host, port), timeout=1.0)
            s.close()
            return True
        except OSError:
            time.sleep(interval)
    return False
