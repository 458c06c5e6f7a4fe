"""The lab's DNS: the only resolver the edge hosts have, so that no name sends a packet out of the lab.

Debian's dnsmasq (dnsmasq-base) on the edge LAN's gateway address (cfg.edge_gateway_ip, port 53, root namespace):
  - names under amazonaws.com (hybrid-assets, STS, EKS, ECR, SSM, IAM Roles Anywhere, ...) are answered with the
    lab's AWS API address (cfg.aws_api_ip), reached across the VPN path, where the emulator answers over TLS with a lab
    CA the hosts trust (hnlab.awstls), as real components that use the real AWS host names need (the lab's cluster
    endpoint is an address, cfg.eks_endpoint_ip, not a name); the ECR registries' names
    (<account>.dkr.ecr.<region>.amazonaws.com) get cfg.registry_ip, the mirror's registry path behind the same front;
  - names under debian.org (the package archive the hosts' apt uses) are asked of the machine's resolver, and every
    address dnsmasq answers for them goes into the ipset ARCHIVE_SET, the only destinations the edge network's
    egress admits (hnlab.network);
  - every other name is answered NXDOMAIN here, without asking anyone.
Every query is logged (queries.log), and hnlab.network counts what the edge network's egress refuses, so a test can
show that a whole run made no attempt to leave.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

from . import netns as ns
from .network import archive_set

DNSMASQ = "/usr/sbin/dnsmasq"
ARCHIVE_DOMAINS = ("debian.org",)
LAB_DOMAINS = ("amazonaws.com",)


def _dir(cfg) -> Path:
    return cfg.state_dir / "dns"


def _pidfile(cfg) -> Path:
    return _dir(cfg) / "dnsmasq.pid"


def query_log(cfg) -> Path:
    return _dir(cfg) / "queries.log"


def argv(cfg, resolver: str) -> list[str]:
    args = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
            "--user=root", "--group=root", f"--listen-address={cfg.edge_gateway_ip}", "--bind-interfaces",
            "--port=53", "--cache-size=1000", "--log-queries=extra", f"--log-facility={query_log(cfg)}",
            # Everything not named below: NXDOMAIN, asked of no one.
            "--address=/#/"]
    args += [f"--address=/{domain}/{cfg.aws_api_ip}" for domain in LAB_DOMAINS]
    # The ECR registries (a more specific domain wins in dnsmasq): the registry path behind the same TLS front.
    args.append(f"--address=/{registry_domain(cfg)}/{cfg.registry_ip}")
    for domain in ARCHIVE_DOMAINS:
        if resolver:
            args.append(f"--server=/{domain}/{resolver}")
        args.append(f"--ipset=/{domain}/{archive_set(cfg)}")
    return args


def registry_domain(cfg) -> str:
    return f"dkr.ecr.{cfg.region}.amazonaws.com"


def _resolver() -> str:
    for line in Path("/etc/resolv.conf").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            return parts[1]
    return ""


def lookup(server: str, name: str, timeout: float = 2.0) -> tuple[int, list[str]]:
    """(rcode, A records) of NAME asked of SERVER:53 over UDP (one query, bounded)."""
    qid = int(time.monotonic() * 1000) & 0xFFFF
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        data = sock.recv(4096)
    _qid, flags, _qd, ancount, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    pos = 12 + len(question) + 4
    addresses = []
    for _index in range(ancount):
        if data[pos] & 0xC0 == 0xC0:  # compressed name
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += length
    return flags & 0x000F, addresses


def start(cfg, timeout: float = 10) -> dict:
    if ns.pidfile_alive(_pidfile(cfg)):
        return status(cfg)
    if not Path(DNSMASQ).exists():
        raise FileNotFoundError(f"{DNSMASQ} missing: apt-get install dnsmasq-base (make setup installs it)")
    _dir(cfg).mkdir(parents=True, exist_ok=True)
    log = open(_dir(cfg) / "dnsmasq.log", "ab")
    proc = subprocess.Popen(argv(cfg, _resolver()), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    log.close()
    ns.write_pidfile(_pidfile(cfg), proc.pid, component="dns")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with contextlib.suppress(OSError):
            if lookup(cfg.edge_gateway_ip, f"probe.{LAB_DOMAINS[0]}", timeout=0.5)[1] == [cfg.aws_api_ip]:
                return status(cfg)
        time.sleep(0.1)
    stop(cfg)
    tail = (_dir(cfg) / "dnsmasq.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"dnsmasq did not answer on {cfg.edge_gateway_ip}:53 within {timeout:.0f}s:\n{tail}")


def stop(cfg) -> None:
    left = ns.terminate_pidfiles([_pidfile(cfg)], timeout=5)
    if left:
        raise RuntimeError(f"dnsmasq survived SIGKILL: {left}")


def status(cfg) -> dict:
    info = ns.read_pidfile(_pidfile(cfg))
    return {"running": ns.pid_alive(info), "pid": (info or {}).get("pid"),
            "listen": f"{cfg.edge_gateway_ip}:53", "dnsmasq": shutil.which("dnsmasq") or DNSMASQ}
