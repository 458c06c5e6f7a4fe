"""Edge host preparation on the lab: preflight.yml, prepare_hosts.yml and the VPC route (root only).

Destructive steps run on edge02 and edge03 only; edge01 is only read (its
node CIDR problem is made in an inventory copy). Everything made here is
undone at the end: the listener and the fake docker are removed, and the VPC
route and its networkd drop-in are taken off edge02 and edge03, since other
lab tests expect hosts without the route. Outbound checks target only lab
addresses (the artifact mirror), never real AWS or Palette endpoints.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from hnlab import edge, labctl
from hnlab.testing import REPO, VENV_BIN, play, playbook_env

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

PREFLIGHT = REPO / "playbooks" / "preflight.yml"
PREPARE = REPO / "playbooks" / "prepare_hosts.yml"
DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
TARGETS = ("edge02", "edge03")


def _ssh(cfg, host, cmd, timeout=120):
    return edge.ssh(cfg, host["ip"], "sh", "-c", shlex.quote(cmd), check=False, timeout=timeout)


def _hosts(cfg):
    hosts = {h["name"]: h for h in edge.load_hosts(cfg) if h["kind"] == "edge"}
    missing = [name for name in ("edge01",) + TARGETS if name not in hosts]
    if missing:
        pytest.skip(f"needs edge01..edge03; the lab lacks {missing}")
    return hosts


def _play(playbook, inventory, *extra, timeout=900):
    return play(inventory, playbook, *extra, timeout=timeout, fake_aws=False,
                env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})


def _recap(output):
    found = re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert found, output
    return {name: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, counts)))
            for name, *counts in found}


def _inventory_copy(cfg, tmp_path, name="hosts.yml", **host_changes):
    """The lab inventory with per-host changes: {host: {var: value or None (remove)}}."""
    inv = yaml.safe_load(Path(cfg.inventory_path).read_text())
    inv = copy.deepcopy(inv)
    for pool in inv["all"]["children"]["hybrid_nodes"]["children"].values():
        for host, hostvars in pool["hosts"].items():
            for key, value in host_changes.get(host, {}).items():
                if value is None:
                    hostvars.pop(key, None)
                else:
                    hostvars[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(inv))
    return path


def _lab_endpoints(cfg):
    comps = labctl.status(cfg)["components"]
    if comps.get("mirror", {}).get("running"):
        return ["-e", json.dumps({"hybrid_preflight_endpoints": [f"{cfg.mirror_ip}:{cfg.mirror_port}"]})]
    return ["-e", json.dumps({"hybrid_air_gapped": True})]


def _route(cfg, host):
    return _ssh(cfg, host, f"ip -4 route show {cfg.vpc_cidr}").stdout.strip()


def _remove_route(cfg, host):
    _ssh(cfg, host, f"rm -f {DROP_IN}; rmdir {os.path.dirname(DROP_IN)} 2>/dev/null; "
                    f"ip -4 route del {cfg.vpc_cidr} 2>/dev/null; networkctl reload 2>/dev/null; true")


@pytest.fixture(scope="module")
def hosts(lab):
    found = _hosts(lab)
    for name in TARGETS:
        _remove_route(lab, found[name])
    yield found
    for name in TARGETS:
        _remove_route(lab, found[name])
        assert _route(lab, found[name]) == ""
        assert _ssh(lab, found[name], f"test -e {DROP_IN}").returncode != 0


def test_preflight_reports_each_hosts_problem_and_fix_in_one_run(lab, hosts, tmp_path):
    edge02, edge03 = hosts["edge02"], hosts["edge03"]
    listener = _ssh(lab, edge02, "nohup python3 -c 'import socket, time; s = socket.socket(); "
                                 "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 4240)); "
                                 "s.listen(1); time.sleep(600)' >/dev/null 2>&1 & echo $!")
    pid = int(listener.stdout.strip())
    try:
        assert _ssh(lab, edge03, "printf '#!/bin/sh\\necho fake docker\\n' > /usr/local/bin/docker && "
                                 "chmod 755 /usr/local/bin/docker").returncode == 0
        deadline = time.monotonic() + 10
        while _ssh(lab, edge02, "grep -q ':1090 00000000:0000 0A' /proc/net/tcp").returncode != 0:
            assert time.monotonic() < deadline, "the test listener on 4240 did not come up"
            time.sleep(0.2)
        inventory = _inventory_copy(lab, tmp_path, edge01={"hybrid_remote_node_cidrs": ["10.201.0.0/24"]})
        # Palette agent mode, where Docker present is a failure (a warning otherwise, checked below).
        code, output = _play(PREFLIGHT, inventory, "--limit", "edge01,edge02,edge03",
                             "-e", json.dumps({"hybrid_allow_unsupported_os": True, "hybrid_palette_agent_mode": True}),
                             *_lab_endpoints(lab))
        assert code != 0, output
        recap = _recap(output)
        for name in ("edge01",) + TARGETS:
            assert recap[name]["failed"] == 1 and recap[name]["changed"] == 0, output
        # The table covers every host, before the failures.
        table = output[output.index("Print the preflight table"):]
        for name in ("edge01",) + TARGETS:
            assert re.search(rf"{name}\s+FAILED\s+10\.200\.0\.\d+/24", table), table
        # Each host fails with its own problem and its fix.
        parts = re.split(r"preflight check\(s\) failed on (edge0\d):", output[:output.rindex("PLAY RECAP")])
        failures = {}
        for name, text in zip(parts[1::2], parts[2::2]):
            failures[name] = failures.get(name, "") + text
        assert "[node_network]" in failures["edge01"] and "is outside hybrid_remote_node_cidrs (10.201.0.0/24)" in \
            failures["edge01"] and "Add the host's network to hybrid_remote_node_cidrs" in failures["edge01"]
        assert f"tcp/4240 (Cilium health) is taken by python3 (pid {pid})" in failures["edge02"]
        assert f"Stop or reconfigure python3 (pid {pid})" in failures["edge02"]
        assert "[docker_absent]" in failures["edge03"] and "/usr/local/bin/docker" in failures["edge03"]
        assert "Remove Docker" in failures["edge03"]
        assert "docker" not in failures["edge01"] and "4240" not in failures["edge01"]
        assert "node_network" not in failures["edge02"] and "node_network" not in failures["edge03"]
        # Debian is outside the matrix but allowed: a warning, not a failure.
        assert "outside the EKS Hybrid Nodes support matrix" in output
        # Outside Palette agent mode Docker is no EKS requirement: a warning, and edge03 passes.
        code, output = _play(PREFLIGHT, inventory, "--limit", "edge03",
                             "-e", json.dumps({"hybrid_allow_unsupported_os": True}), *_lab_endpoints(lab))
        assert code == 0, output
        assert "Docker is installed (/usr/local/bin/docker)" in output, output
        # Nothing was changed or "fixed": the listener and the fake docker are still there.
        assert _ssh(lab, edge02, "grep -q ':1090 00000000:0000 0A' /proc/net/tcp").returncode == 0
        assert _ssh(lab, edge03, "test -x /usr/local/bin/docker").returncode == 0
    finally:
        _ssh(lab, edge02, f"kill {pid}")
        _ssh(lab, edge03, "rm -f /usr/local/bin/docker")


def test_prepare_hosts_predicts_converges_and_reruns_with_no_change(lab, hosts):
    edge03 = hosts["edge03"]
    state = ("command -v jq zstd rsync rsyslogd iptables; test -e /etc/modules-load.d/hybridnodes-eks.conf && echo MODULES; "
             f"test -e {DROP_IN} && echo DROP-IN; true")
    before = _ssh(lab, edge03, state).stdout
    code, output = _play(PREPARE, lab.inventory_path, "--limit", "edge03", "--check", "--diff")
    assert code == 0, output
    assert _recap(output)["edge03"]["changed"] >= 1, output
    assert "+Destination=10.100.0.0/16" in output and "+Gateway=10.200.0.254" in output, output
    assert "+10.100.0.0/16 via 10.200.0.254" in output, output
    assert _ssh(lab, edge03, state).stdout == before
    assert _route(lab, edge03) == ""

    code, output = _play(PREPARE, lab.inventory_path, "--limit", ",".join(TARGETS))
    assert code == 0, output
    recap = _recap(output)
    assert all(recap[name]["failed"] == 0 and recap[name]["changed"] >= 1 for name in TARGETS), output
    code, output = _play(PREPARE, lab.inventory_path, "--limit", ",".join(TARGETS))
    assert code == 0, output
    recap = _recap(output)
    assert all(recap[name]["changed"] == 0 for name in TARGETS), output

    for name in TARGETS:
        found = _ssh(lab, hosts[name], "for b in jq zstd rsync rsyslogd iptables; do command -v $b || echo missing-$b; done")
        assert "missing-" not in found.stdout, found.stdout
        assert f"via {lab.vpn_gateway_edge_ip} dev eth0" in _route(lab, hosts[name])
    reach = _ssh(lab, edge03, f"ping -c1 -W2 {lab.cloud_worker_ip}")
    assert reach.returncode == 0, reach.stdout + reach.stderr


ROUTE_PLAY = """- name: VPC route of the edge hosts
  hosts: hybrid_nodes
  gather_facts: false
  roles:
    - role: hybridnodes.eks.edge_routes
"""


def test_route_persists_moves_refuses_a_far_next_hop_and_goes_away(lab, hosts, labctl_cli, tmp_path):
    edge03 = hosts["edge03"]
    play = tmp_path / "routes.yml"
    play.write_text(ROUTE_PLAY)
    limit = ("--limit", "edge03")
    code, output = _play(play, lab.inventory_path, *limit)
    assert code == 0, output
    assert f"via {lab.vpn_gateway_edge_ip}" in _route(lab, edge03)

    # A real reboot: the route comes back from the networkd drop-in.
    restart = labctl_cli("restart", "--host", "edge03", timeout=300)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    deadline = time.monotonic() + 30
    while f"via {lab.vpn_gateway_edge_ip}" not in _route(lab, edge03) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert f"via {lab.vpn_gateway_edge_ip} dev eth0 proto static" in _route(lab, edge03)
    reach = _ssh(lab, edge03, f"ping -c1 -W2 {lab.cloud_worker_ip}")
    assert reach.returncode == 0, reach.stdout + reach.stderr
    code, output = _play(play, lab.inventory_path, *limit)
    assert code == 0 and _recap(output)["edge03"]["changed"] == 0, output

    # A next hop that is not on the host's network is refused before any change.
    code, output = _play(play, lab.inventory_path, *limit, "-e", "hybrid_vpn_server_ip=10.99.0.1")
    assert code != 0 and "not on-link" in output, output
    assert f"via {lab.vpn_gateway_edge_ip}" in _route(lab, edge03)
    assert f"Gateway={lab.vpn_gateway_edge_ip}" in _ssh(lab, edge03, f"cat {DROP_IN}").stdout

    # Another on-link next hop (the LAN's default gateway): the route and the drop-in move to it.
    code, output = _play(play, lab.inventory_path, *limit, "--diff", "-e", f"hybrid_vpn_server_ip={lab.edge_gateway_ip}")
    assert code == 0 and _recap(output)["edge03"]["changed"] == 1, output
    assert f"-10.100.0.0/16 via {lab.vpn_gateway_edge_ip}" in output and f"+10.100.0.0/16 via {lab.edge_gateway_ip}" in output
    assert _route(lab, edge03).startswith(f"{lab.vpc_cidr} via {lab.edge_gateway_ip} dev eth0")
    assert f"Gateway={lab.edge_gateway_ip}" in _ssh(lab, edge03, f"cat {DROP_IN}").stdout

    # hybrid_vpn_server_ip removed from the host (a group_vars refactor in flight): nothing is removed, with a warning.
    inventory = _inventory_copy(lab, tmp_path, edge03={"hybrid_vpn_server_ip": None})
    code, output = _play(play, inventory, *limit)
    assert code == 0 and _recap(output)["edge03"]["changed"] == 0, output
    assert "edge03 has no hybrid_vpn_server_ip, but its VPC routes managed by this collection are" in output, output
    assert "-e hybrid_edge_routes_state=absent" in output, output
    assert _route(lab, edge03).startswith(f"{lab.vpc_cidr} via {lab.edge_gateway_ip} dev eth0")
    # Removal is explicit: then the managed route and drop-in go.
    code, output = _play(play, inventory, *limit, "-e", "hybrid_edge_routes_state=absent")
    assert code == 0 and _recap(output)["edge03"]["changed"] == 1, output
    assert _route(lab, edge03) == ""
    assert _ssh(lab, edge03, f"test -e {os.path.dirname(DROP_IN)}").returncode != 0
    assert _ssh(lab, edge03, f"ping -c1 -W1 {lab.cloud_worker_ip}").returncode != 0
    code, output = _play(play, inventory, *limit, "-e", "hybrid_edge_routes_state=absent")
    assert code == 0 and _recap(output)["edge03"]["changed"] == 0, output
    code, output = _play(play, inventory, *limit)
    assert code == 0 and _recap(output)["edge03"]["changed"] == 0 and "has no hybrid_vpn_server_ip" not in output, output


def test_proxy_and_ntp_are_predicted_in_check_mode(lab, hosts):
    edge02 = hosts["edge02"]
    # Where nodeadm init's proxy-validation reads the proxy (aws/eks-hybrid internal/network/proxy_validator.go).
    ssm_paths = ("/etc/systemd/system/amazon-ssm-agent.service.d/http-proxy.conf",
                 "/etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service.d/http-proxy.conf")
    paths = ("/etc/apt/apt.conf.d/proxy.conf", "/usr/lib/systemd/system/containerd.service.d/http-proxy.conf",
             "/etc/systemd/system/kubelet.service.d/http-proxy.conf", *ssm_paths,
             "/etc/systemd/timesyncd.conf.d/hybridnodes-eks.conf")
    # The SSM agent's drop-ins only where the inventory's provider is SSM (the lab's light profile); the real profile's
    # IAM Roles Anywhere has no agent to give a proxy.
    provider = yaml.safe_load(Path(lab.inventory_path).read_text())["all"]["vars"]["hybrid_credential_provider"]
    expected = [path for path in paths if provider == "ssm" or path not in ssm_paths]
    # Only what this role would write: other tests may use the lab at the same time.
    state = "; ".join(f"test -e {path} && echo {path}" for path in paths) + "; cat /etc/environment; true"
    before = _ssh(lab, edge02, state).stdout
    extra = {"hybrid_proxy": f"http://{lab.mirror_ip}:3128", "hybrid_ntp_servers": [lab.edge_gateway_ip]}
    code, output = _play(PREPARE, lab.inventory_path, "--limit", "edge02", "--check", "--diff", "-e", json.dumps(extra))
    assert code == 0, output
    for path in paths:
        assert (path in output) is (path in expected), f"{path} predicted: {path in output}, provider {provider}:\n{output}"
    assert f'+Environment="HTTPS_PROXY=http://{lab.mirror_ip}:3128"' in output
    assert f'+Environment="https_proxy=http://{lab.mirror_ip}:3128"' in output
    assert f'+Acquire::https::Proxy "http://{lab.mirror_ip}:3128";' in output
    assert f"+NTP={lab.edge_gateway_ip}" in output
    assert _ssh(lab, edge02, state).stdout == before
    assert not any(path in before for path in paths)


def test_a_proxy_with_credentials_is_written_for_root_only_and_shown_nowhere(lab, hosts):
    edge02 = hosts["edge02"]
    secret = "Sup3rS3cretProxyPw"
    url = f"http://edge:{secret}@{lab.mirror_ip}:3128"
    files = ("/etc/apt/apt.conf.d/proxy.conf", "/usr/lib/systemd/system/containerd.service.d/http-proxy.conf",
             "/etc/systemd/system/kubelet.service.d/http-proxy.conf")
    try:
        code, output = _play(PREPARE, lab.inventory_path, "--limit", "edge02", "--diff", "-v",
                             "-e", json.dumps({"hybrid_proxy": url}))
        assert code == 0, output
        assert secret not in output, "the proxy password is in the output"
        modes = _ssh(lab, edge02, "stat -c '%a %n' " + " ".join(files) + " /etc/environment").stdout.split("\n")
        assert all(line.startswith("600 ") for line in modes if line), modes
        env = _ssh(lab, edge02, "grep -c 'Sup3rS3cretProxyPw' /etc/environment").stdout.strip()
        assert env == "4", env  # http(s)_proxy and HTTP(S)_PROXY
        # A URL that could add a directive is refused before anything is written.
        code, output = _play(PREPARE, lab.inventory_path, "--limit", "edge02",
                             "-e", json.dumps({"hybrid_proxy": f'http://{lab.mirror_ip}:3128";\nAcquire::x "1'}))
        assert code != 0 and "hybrid_proxy holds white space, a quote" in output and "Nothing was written" in output
    finally:
        _ssh(lab, edge02, "rm -f " + " ".join(files) + " /etc/systemd/system/amazon-ssm-agent.service.d/http-proxy.conf "
             "/etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service.d/http-proxy.conf; "
             "rmdir /usr/lib/systemd/system/containerd.service.d /etc/systemd/system/kubelet.service.d "
             "/etc/systemd/system/amazon-ssm-agent.service.d "
             "/etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service.d 2>/dev/null; "
             "sed -i '/_proxy=/Id' /etc/environment; chmod 644 /etc/environment; systemctl daemon-reload")


def test_package_index_waits_boundedly_for_the_apt_lock_and_names_its_holder(lab, hosts, tmp_path):
    edge02 = hosts["edge02"]
    holder = _ssh(lab, edge02, "touch /var/lib/dpkg/lock-frontend; nohup python3 -c 'import fcntl, time; "
                               "f = open(\"/var/lib/dpkg/lock-frontend\", \"r+\"); fcntl.lockf(f, fcntl.LOCK_EX); "
                               "time.sleep(120)' >/dev/null 2>&1 & echo $!")
    pid = int(holder.stdout.strip())
    try:
        time.sleep(1)
        env = dict(os.environ, **playbook_env(fake_aws=False))
        started = time.monotonic()
        proc = subprocess.run([str(VENV_BIN / "ansible"), "-i", str(lab.inventory_path), "edge02", "-m",
                               "hybridnodes.eks.package_index", "-a", "max_age=0 lock_timeout=3"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
        elapsed = time.monotonic() - started
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert f"/var/lib/dpkg/lock-frontend is still held by python3 (pid {pid}) after 3s" in proc.stdout, proc.stdout
        assert elapsed < 60
    finally:
        _ssh(lab, edge02, f"kill {pid}")
