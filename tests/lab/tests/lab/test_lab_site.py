"""The lab itself, end to end (root only; `pytest -m lab tests/lab/tests`).

The `lab` fixture (conftest.py) reuses a running lab or brings one up;
test_zz_lab_down.py, last by file order, takes it down and checks that
nothing is left.
"""

from __future__ import annotations

import contextlib
import shlex
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hnlab import edge, labctl, netns
from hnlab.config import REPO_ROOT


pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]


def _edges(cfg):
    return [h for h in edge.load_hosts(cfg) if h["kind"] == "edge"]


def _gw(cfg):
    return next(h for h in edge.load_hosts(cfg) if h["kind"] == "vpngw")


def _ssh(cfg, host, cmd, check=False, timeout=60):
    return edge.ssh(cfg, host["ip"], "sh", "-c", shlex.quote(cmd), check=check, timeout=timeout)


def test_lab_up_within_a_minute(lab, lab_session):
    if not lab_session["started"]:
        pytest.skip("the lab was already running; its start was not timed by this session")
    caches_warm = lab.rootfs_cache.is_dir() and lab.apiserver_binary.exists()
    assert caches_warm
    assert len(_edges(lab)) == lab_session["hosts"]
    # Without the one-time Debian root filesystem (debootstrap, about 2 min on a new machine; 0 once cached), which
    # `up` times on its own.
    one_time = (labctl.read_lab(lab) or {}).get("timings", {}).get("debootstrap", 0)
    assert lab_session["up_seconds"] - one_time < 60, (
        f"labctl up of {lab_session['hosts']} hosts took {lab_session['up_seconds']:.1f}s, "
        f"of which {one_time}s the one-time root filesystem")


def test_lab_ansible_ping(lab):
    ansible = Path(sys.executable).parent / "ansible"
    r = subprocess.run([str(ansible), "-i", str(lab.inventory_path), "hybrid_nodes:vpn_gateways",
                        "-m", "ansible.builtin.ping"], capture_output=True, text=True, timeout=300,
                       cwd=REPO_ROOT, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    names = [h["name"] for h in edge.load_hosts(lab)]
    for name in names:
        assert f"{name} | SUCCESS" in r.stdout, r.stdout
    assert r.stdout.count("pong") == len(names), r.stdout


def test_lab_inventory_matches_running_hosts(lab):
    import yaml

    inv = yaml.safe_load(lab.inventory_path.read_text())
    pools = inv["all"]["children"]["hybrid_nodes"]["children"]
    hosts = {n: v for p in pools.values() for n, v in p["hosts"].items()}
    assert sorted(hosts) == sorted(h["name"] for h in _edges(lab))
    for h in _edges(lab):
        assert hosts[h["name"]]["ansible_host"] == h["ip"]
        assert hosts[h["name"]]["hybrid_vpn_server_ip"] == lab.vpn_gateway_edge_ip
    if len(hosts) >= 3:
        assert set(pools) == {"pool_a", "pool_b"}
    assert list(inv["all"]["children"]["vpn_gateways"]["hosts"]) == ["vpngw"]


def test_lab_systemd_running_everywhere(lab):
    bad = {}
    for host in edge.load_hosts(lab):
        r = _ssh(lab, host, "timeout 60 systemctl is-system-running --wait", timeout=90)
        state = r.stdout.strip()
        if state != "running":
            why = _ssh(lab, host, "systemctl --failed --no-legend --plain").stdout
            bad[host["name"]] = f"{state}: {why}"
    assert not bad, f"hosts not running: {bad}"


def test_lab_host_network_stack(lab):
    host = _edges(lab)[0]
    r = _ssh(lab, host, "systemctl is-active systemd-networkd ssh; ip -4 -o addr show eth0; ip route")
    assert r.returncode == 0, r.stderr
    assert "active\nactive" in r.stdout
    assert f"{host['ip']}/24" in r.stdout
    assert f"default via {lab.edge_gateway_ip}" in r.stdout
    assert lab.vpc_cidr not in r.stdout  # no VPC route until host prep adds one
    # apt works through the gateway's NAT (package index of Debian's archive)
    r = _ssh(lab, host, "apt-get -o Acquire::Retries=2 update >/dev/null 2>&1 && echo APT-OK", timeout=300)
    assert "APT-OK" in r.stdout, r.stdout + r.stderr
    # preflight has something to install
    r = _ssh(lab, host, "for b in jq zstd rsync iptables rsyslogd; do command -v $b || echo missing-$b; done")
    assert r.stdout.count("missing-") == 5, r.stdout


def test_lab_vpc_reachable_only_via_vpn_route(lab):
    host = _edges(lab)[0]
    worker = lab.cloud_worker_ip
    before = _ssh(lab, host, f"ping -c1 -W1 {worker}")
    assert before.returncode != 0, "cloud worker reachable without the VPN route"
    add = _ssh(lab, host, f"ip route add {lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}")
    assert add.returncode == 0, add.stderr
    try:
        after = _ssh(lab, host, f"ping -c1 -W1 {worker}")
        assert after.returncode == 0, after.stdout + after.stderr
        # the EKS endpoint address is inside the VPC as well
        tcp = _ssh(lab, host, "python3 -c 'import socket; socket.create_connection("
                              f"(\"{lab.eks_endpoint_ip}\", {lab.eks_endpoint_port}), 3); print(\"OPEN\")'")
        assert "OPEN" in tcp.stdout, tcp.stdout + tcp.stderr
    finally:
        _ssh(lab, host, f"ip route del {lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}")
    gone = _ssh(lab, host, f"ping -c1 -W1 {worker}")
    assert gone.returncode != 0
    # the machine itself has no route to the VPC either
    assert subprocess.run(["ip", "route", "get", worker], capture_output=True, check=False).returncode != 0


def test_lab_nodes_reach_eks_and_aws_only_through_vpn(lab):
    comps = labctl.status(lab)["components"]
    if not (comps.get("k8s", {}).get("running") and comps.get("aws", {}).get("running")):
        pytest.skip(f"k8s/aws components not running: {comps.get('k8s')} {comps.get('aws')}")
    host = _edges(lab)[0]
    eks = f"https://{lab.eks_endpoint_ip}:{lab.eks_endpoint_port}/readyz"
    aws = f"http://{lab.eks_endpoint_ip}:{lab.aws_endpoint_port}/"
    curl = "curl -sk -m 5 -o /dev/null -w '%{http_code}' "
    assert _ssh(lab, host, curl + eks).stdout.strip() == "000"  # no VPN route yet
    assert _ssh(lab, host, f"ip route add {lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}").returncode == 0
    try:
        code = _ssh(lab, host, curl + eks).stdout.strip()
        assert code in ("200", "401", "403"), code  # kube-apiserver answered through the forwarder
        code = _ssh(lab, host, curl + aws).stdout.strip()
        assert code != "000" and code.isdigit(), code  # moto answered
    finally:
        _ssh(lab, host, f"ip route del {lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}")


def test_lab_dns_answers_aws_names_inside_the_lab_and_nothing_else(lab):
    """The hosts' only resolver is the lab's DNS: AWS names get the lab's AWS API address (TLS, hnlab.awstls), the package
    archive's names their real addresses (which the egress then admits), any other name NXDOMAIN, asked of no one."""
    from hnlab import dns, network

    host = _edges(lab)[0]
    assert _ssh(lab, host, "grep -v '^#' /etc/resolv.conf").stdout.split() == ["nameserver", lab.edge_gateway_ip]
    for name in ("hybrid-assets.eks.amazonaws.com", "sts.us-west-2.amazonaws.com",
                 "ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com"):
        got = _ssh(lab, host, f"getent ahostsv4 {name} | awk '{{print $1}}' | sort -u").stdout.split()
        assert got == [lab.aws_api_ip], (name, got)
    assert _ssh(lab, host, "getent hosts example.com").returncode != 0
    rcode, addresses = dns.lookup(lab.edge_gateway_ip, "github.com")
    assert (rcode, addresses) == (3, [])  # NXDOMAIN, from the lab's DNS itself
    log = dns.query_log(lab).read_text()
    assert "config github.com is NXDOMAIN" in log and "forwarded github.com" not in log
    # The archive: resolved through the machine's resolver, and its addresses are what the egress admits.
    archive = _ssh(lab, host, "getent ahostsv4 deb.debian.org | awk '{print $1}' | sort -u").stdout.split()
    assert archive, "deb.debian.org did not resolve through the lab's DNS"
    members = netns.run(["ipset", "list", network.archive_set(lab)]).stdout
    assert all(address in members for address in archive), (archive, members)


def test_lab_egress_refuses_and_counts_what_is_not_the_archive(lab):
    """What leaves the edge network for the machine's uplink: HTTP(S) to the archive's addresses only; everything
    else is refused in the egress chain, whose counter the whole-run test reads (no packet is sent out here)."""
    from hnlab import network

    rules = netns.run(["iptables", "-w", "-S", f"{lab.prefix}-fwd"]).stdout
    assert f"--match-set {network.archive_set(lab)} dst" in rules
    assert f"-j {network.egress_chain(lab)}" in rules
    assert "--dport 53" not in rules  # the hosts' DNS never leaves: the lab's DNS answers it
    assert isinstance(network.egress_refused(lab), int)


def test_lab_vpn_gateway_routes_pod_cidr_only_when_installed(lab):
    host, gw = _edges(lab)[0], _gw(lab)
    pod_ip = "192.168.0.1"
    block = "192.168.0.0/25"
    setup = _ssh(lab, host, f"ip addr add {pod_ip}/32 dev lo && "
                            f"ip route add {lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}")
    assert setup.returncode == 0, setup.stderr
    try:
        ping = ["ping", "-c1", "-W1", pod_ip]
        assert netns.run(ping, netns=lab.netns_worker, check=False).returncode != 0
        assert _ssh(lab, gw, f"ip route add {block} via {host['ip']}").returncode == 0
        try:
            r = netns.run(ping, netns=lab.netns_worker, check=False)
            assert r.returncode == 0, r.stdout + r.stderr
        finally:
            _ssh(lab, gw, f"ip route del {block} via {host['ip']}")
        assert netns.run(ping, netns=lab.netns_worker, check=False).returncode != 0
    finally:
        _ssh(lab, host, f"ip addr del {pod_ip}/32 dev lo; ip route del {lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}")


def test_lab_socket_in_netns_serves_the_edge_lan(lab):
    port = 18081
    sock = netns.socket_in_netns(lab.netns_mirror, lab.mirror_ip, port)
    got = {}

    def accept():
        sock.settimeout(20)
        with contextlib.suppress(OSError):
            conn, peer = sock.accept()
            got["peer"] = peer[0]
            conn.sendall(b"hello-from-mirror-netns\n")
            conn.close()

    t = threading.Thread(target=accept)
    t.start()
    try:
        host = _edges(lab)[0]
        r = _ssh(lab, host, f"python3 -c 'import socket; s=socket.create_connection((\"{lab.mirror_ip}\",{port}),5);"
                            "print(s.recv(100).decode())'")
        t.join(25)
        assert "hello-from-mirror-netns" in r.stdout, r.stdout + r.stderr
        assert got.get("peer") == host["ip"]
    finally:
        sock.close()
    # the calling thread is back in the root namespace: the mirror address is not local here
    with pytest.raises(OSError):
        socket.socket().bind((lab.mirror_ip, port))


def test_lab_refuses_second_lab(lab, labctl_cli):
    r = labctl_cli("up", "--hosts", "1", timeout=120)
    assert r.returncode != 0
    assert "already running" in r.stderr or "lock held" in r.stderr, r.stderr
    with pytest.raises(labctl.LabError):
        labctl.up(lab, lab.max_hosts + 1)


def test_lab_restart_keeps_overlay(lab, labctl_cli):
    host = _edges(lab)[-1]
    stamp = f"hnlab-{time.time_ns()}"
    assert _ssh(lab, host, f"echo {stamp} > /root/restart-marker").returncode == 0
    boot_before = _ssh(lab, host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    pid_before = netns.read_pidfile(lab.state_dir / "pids" / f"host-{host['name']}.pid")["pid"]
    t0 = time.monotonic()
    r = labctl_cli("restart", "--host", host["name"], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"restart took {time.monotonic() - t0:.1f}s")
    pid_after = netns.read_pidfile(lab.state_dir / "pids" / f"host-{host['name']}.pid")["pid"]
    assert pid_after != pid_before
    boot_after = _ssh(lab, host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    assert boot_after and boot_after != boot_before
    assert _ssh(lab, host, "cat /root/restart-marker").stdout.strip() == stamp
    assert _ssh(lab, host, "timeout 60 systemctl is-system-running --wait").stdout.strip() == "running"
