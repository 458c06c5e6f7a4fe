"""Faults during real runs against the lab, and what the collection does about them (root only).

In file order, over the edge hosts of the running lab (one join shared by the join faults):
  - the package manager's lock held on one host: the package index stage fails that host alone, naming the
    lock and its holder, within the bounded wait; a lock released during the wait is waited for;
  - a host unreachable mid-run: the other hosts finish, the recap counts it unreachable and validate.yml's
    report names it unreachable;
  - AWS throttling on a read and a write: retried with backoff, the run succeeds; a persistent 5xx: retried,
    then an error naming the operation and the resource, in bounded time;
  - the Kubernetes API down: join.yml, routes.yml and cilium.yml fail within seconds naming the API endpoint,
    and nothing changed on the hosts, in AWS or in the cluster;
  - join.yml killed (SIGKILL) while nodeadm install runs, the activation it made left to expire, then run
    again: it converges with a new activation, the expired one is deleted, a further run changes nothing;
  - a host rebooted after the join: its VPC route, NodeConfig and kubelet come back, its Node is Ready,
    and a re-run changes nothing.
At the end decommission.yml and the cleanup of test_join_lifecycle.py undo everything, and the lab's state
(hosts, AWS emulator, API server) is compared with the one the module found.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import uuid

import pytest
import yaml

from hnlab import edge, state
from hnlab.aws.clients import client
from hnlab.aws.labapi import LabApi
from hnlab.testing import LOCAL, REPO, light_inventory, play, start_play
from .test_awx_slices import _assert_clean
from .test_join_lifecycle import NODEADM, _cleanup, _kubelet_posting, _node_by_ip, _recap, _ssh

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

# On the light profile's inventory (hnlab.testing.light_inventory): the faults are the stand-in's (its fault files, a
# kill in the middle of its install) over SSM.

PLAYBOOKS = REPO / "playbooks"
SITE = PLAYBOOKS / "site.yml"
JOIN = PLAYBOOKS / "join.yml"
DECOMMISSION = PLAYBOOKS / "decommission.yml"
DPKG_LOCK = "/var/lib/dpkg/lock-frontend"
NODECONFIG = "/etc/nodeadm/nodeConfig.yaml"
REGISTRATION = "/var/lib/amazon/ssm/registration"
KUBELET = "/usr/bin/kubelet"
FAIL_INIT = "/etc/hnlab/fail-init"
INIT_FAULT = "lab fault: init cut short"
ACTIVATION_PLAY = """
- name: One SSM activation made and deleted, as the join does
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/hybridnodes.eks.aws:
      region: {region}
      endpoint_url: {endpoint}
  tasks:
    - name: Create the activation
      hybridnodes.eks.ssm_activation:
        cluster_name: {cluster}
        iam_role: {role}
        hosts_to_register: 1
      register: activation
      no_log: true

    - name: Delete it
      hybridnodes.eks.ssm_activation:
        cluster_name: {cluster}
        activation_id: "{{{{ activation.activation_id }}}}"
        state: absent
"""


def _labapi(cfg):
    return LabApi(cfg.moto_endpoint, cfg.region)


def _activations(cfg, role):
    return [a for a in client(cfg, "ssm").describe_activations()["ActivationList"] if a.get("IamRole") == role]


def _comparable(snap):
    """The snapshot without what moves by itself across a join, a reboot and a decommission: file sizes and times
    (a file's path and mode stay)."""
    snap = json.loads(json.dumps(snap, default=str))
    for host in snap["hosts"].values():
        host["files"] = sorted(" ".join(line.split()[:2]) for line in host.get("files", []))
    return snap


@pytest.fixture(scope="module")
def site(lab):
    """The edge hosts and a hybrid nodes role with a HYBRID_LINUX access entry; the lab as found, to compare at the end."""
    hosts = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "edge"]
    before = state.snapshot(lab)
    role = f"lab-faults-{uuid.uuid4().hex[:8]}"
    arn = client(lab, "iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=arn, type="HYBRID_LINUX")
    try:
        yield {"hosts": hosts, "by_name": {h["name"]: h for h in hosts}, "role": role, "before": before, "seen": {},
               "extra": ["-e", f"hybrid_iam_role_name={role}", "-e", "nodeadm_retry_delay=1"]}
    finally:
        _labapi(lab).clear_faults()
        _cleanup(lab, hosts, role)


@pytest.mark.reliability("fault")
def test_package_lock_held_fails_that_host_naming_the_lock_and_a_released_lock_is_waited_for(lab, site):
    holder_host = site["hosts"][1] if len(site["hosts"]) > 1 else site["hosts"][0]

    def hold(seconds):
        out = _ssh(lab, holder_host, f"touch {DPKG_LOCK}; nohup python3 -c 'import fcntl, time; "
                                     f"f = open(\"{DPKG_LOCK}\", \"r+\"); fcntl.lockf(f, fcntl.LOCK_EX); "
                                     f"time.sleep({seconds})' >/dev/null 2>&1 & echo $!")
        pid = int(out.stdout.strip())
        deadline = time.monotonic() + 10
        while DPKG_LOCK not in _ssh(lab, holder_host, f"cat /proc/{pid}/maps /proc/locks 2>/dev/null; "
                                                      f"ls -l /proc/{pid}/fd 2>/dev/null").stdout:
            assert time.monotonic() < deadline, "the lock holder did not start"
            time.sleep(0.2)
        return pid

    pid = hold(120)
    try:
        started = time.monotonic()
        code, output = play(light_inventory(lab), SITE, "--tags", "package_index", "-e", "host_prep_package_index_max_age=0",
                            "-e", "host_prep_package_lock_timeout=3")
        elapsed = time.monotonic() - started
    finally:
        _ssh(lab, holder_host, f"kill {pid}")
    assert code != 0, output
    assert f"{DPKG_LOCK} is still held by python3 (pid {pid}) after 3s" in output, output
    recap = _recap(output)
    assert recap[holder_host["name"]]["failed"] == 1, output
    for host in site["hosts"]:
        if host is not holder_host:
            assert recap[host["name"]] == {**recap[host["name"]], "failed": 0, "unreachable": 0}, output
    assert elapsed < 90, elapsed

    # Released after 4 s of a (default 300 s) wait: the refresh waits for it, then succeeds.
    pid = hold(4)
    try:
        code, output = play(light_inventory(lab), SITE, "--tags", "package_index", "--limit", holder_host["name"],
                            "-e", "host_prep_package_index_max_age=0", "-v")
    finally:
        _ssh(lab, holder_host, f"kill {pid} 2>/dev/null; true")
    assert code == 0, output
    waited = [float(x) for x in re.findall(r"lock_wait['\"]?:\s*([0-9.]+)", output)]
    assert waited and max(waited) >= 1, output


@pytest.mark.reliability("fault")
def test_host_unreachable_mid_run_the_others_finish_and_validate_names_it(lab, site, tmp_path):
    lost = site["hosts"][-1]
    rule = ["INPUT", "-p", "tcp", "--dport", "22", "-j", "REJECT", "--reject-with", "tcp-reset"]
    cut = False
    proc = start_play(light_inventory(lab), SITE, "--tags", "preflight,package_index", fake_aws=False)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            # Preflight is done on every host: the host goes away before the package index stage.
            if not cut and line.startswith("PLAY [Stage 3"):
                subprocess.run(["ip", "netns", "exec", lost["netns"], "iptables", "-I", *rule], check=True)
                cut = True
        proc.wait(timeout=300)
        output = "".join(lines)
        assert cut, output
        assert proc.returncode != 0, output
        recap = _recap(output)
        assert recap[lost["name"]]["unreachable"] == 1, output
        for host in site["hosts"]:
            if host is not lost:
                assert recap[host["name"]]["failed"] == 0 and recap[host["name"]]["unreachable"] == 0, output

        # validate.yml (host still away) names it in its report; the other hosts get their checks.
        code, output = play(light_inventory(lab), PLAYBOOKS / "validate.yml", "-e", f"hybrid_validate_report_dir={tmp_path}",
                            timeout=300)
        assert code != 0, output
        rows = {row["host"]: row for row in json.loads((tmp_path / "validate.json").read_text())["hosts"]}
        assert "unreachable" in json.dumps(rows[lost["name"]]), rows[lost["name"]]
        for host in site["hosts"]:
            if host is not lost:
                assert "unreachable" not in json.dumps(rows[host["name"]]), rows[host["name"]]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        if cut:
            subprocess.run(["ip", "netns", "exec", lost["netns"], "iptables", "-D", *rule], check=True)
    assert _ssh(lab, lost, "true").returncode == 0


@pytest.mark.reliability("fault")
def test_aws_throttling_is_retried_and_a_persistent_5xx_fails_naming_operation_and_resource(lab, site, tmp_path):
    api = _labapi(lab)
    playbook = tmp_path / "activation.yml"
    playbook.write_text(ACTIVATION_PLAY.format(region=lab.region, endpoint=lab.moto_endpoint, cluster=lab.cluster_name,
                                               role=site["role"]))
    try:
        api.reset()
        api.fault("eks", "DescribeCluster", "throttle", 3)  # a read
        api.fault("ssm", "CreateActivation", "throttle", 3)  # a write
        code, output = play("localhost,", playbook, *LOCAL)
        assert code == 0, output
        counts = api.counts()
        assert counts[("eks", "DescribeCluster")] >= 4 and counts[("ssm", "CreateActivation")] == 4, counts
        assert _activations(lab, site["role"]) == []

        api.reset()
        api.fault("ssm", "CreateActivation", "error500", 1000)
        started = time.monotonic()
        code, output = play("localhost,", playbook, *LOCAL, timeout=400)
        elapsed = time.monotonic() - started
        assert code != 0, output
        assert f"Failed to create activation for EKS cluster {lab.cluster_name} (role {site['role']})" in output, output
        assert "InternalFailure" in output and "ssm:CreateActivation" in output, output
        assert api.counts()[("ssm", "CreateActivation")] > 3
        assert elapsed < 300, elapsed
        print(f"persistent 5xx: {api.counts()[('ssm', 'CreateActivation')]} attempts in {elapsed:.0f}s")
    finally:
        api.clear_faults()
    assert _activations(lab, site["role"]) == []


@pytest.mark.reliability("fault")
def test_kubernetes_api_down_fails_fast_naming_the_endpoint_and_changes_nothing(lab, site, tmp_path):
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"https://127.0.0.1:{port}"
    kubeconfig = yaml.safe_load(open(lab.kubeconfig))
    for cluster in kubeconfig["clusters"]:
        cluster["cluster"]["server"] = endpoint
    down = tmp_path / "down.kubeconfig"
    down.write_text(yaml.safe_dump(kubeconfig))
    down.chmod(0o600)
    before = state.snapshot(lab)
    for playbook in ("join.yml", "routes.yml", "cilium.yml"):
        started = time.monotonic()
        code, output = play(light_inventory(lab), PLAYBOOKS / playbook, *site["extra"], "-e", f"hybrid_kubeconfig={down}")
        elapsed = time.monotonic() - started
        assert code != 0, (playbook, output)
        assert endpoint.replace("https://", "") in output.replace("host='127.0.0.1', port=", "127.0.0.1:"), (playbook, output)
        assert elapsed < 60, (playbook, elapsed)
        if playbook != "cilium.yml":
            assert f"The Kubernetes API {endpoint}" in output, output
            assert all(c["changed"] == 0 for c in _recap(output).values()), output
        if playbook == "join.yml":
            assert all(_recap(output)[h["name"]]["failed"] == 1 for h in site["hosts"]), output
    assert state.diff(before, state.snapshot(lab)) == []


@pytest.mark.reliability("fault")
def test_join_killed_during_nodeadm_install_then_rerun_converges(lab, site):
    """SIGKILL of ansible-playbook once nodeadm install runs on the hosts. The modules already on the hosts run
    on (the controller's death does not reach them); the last host's init fails (lab fault) so that it stays
    unregistered, the way a host cut off by the kill would. The run's activation is left behind, never deleted."""
    hosts = site["hosts"]
    first, last = hosts[0], hosts[-1]
    assert _ssh(lab, last, f"mkdir -p /etc/hnlab && echo {shlex.quote(INIT_FAULT)} > {FAIL_INIT}").returncode == 0
    try:
        proc = start_play(light_inventory(lab), JOIN, *site["extra"])
        lines, began = [], False
        try:
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("TASK [hybridnodes.eks.nodeadm : Run nodeadm"):
                    deadline = time.monotonic() + 60
                    while not began and time.monotonic() < deadline:
                        began = _ssh(lab, first, f"[ -e {KUBELET} ] || pgrep -f '[n]odeadm install' >/dev/null",
                                     timeout=10).returncode == 0
                    break
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            lines.append(proc.communicate(timeout=60)[0] or "")
        output = "".join(lines)
        assert began, output
        assert "PLAY RECAP" not in output, output
        # The modules the kill orphaned on the hosts (ansible pipelining: sh -c "python3 && sleep 0") end on their own.
        deadline = time.monotonic() + 120
        while any(_ssh(lab, h, "pgrep -f 'python3 [&]& sleep 0' >/dev/null").returncode == 0 for h in hosts):
            assert time.monotonic() < deadline, "a module still runs on a host 120 s after the kill"
            time.sleep(1)
    finally:
        _ssh(lab, last, f"rm -f {FAIL_INIT}")
    seen = site["seen"]
    seen["registered_at_kill"] = {h["name"] for h in hosts if _ssh(lab, h, f"[ -e {REGISTRATION} ]").returncode == 0}
    assert last["name"] not in seen["registered_at_kill"]
    assert _ssh(lab, last, f"[ -e {NODEADM} ] && [ -e {NODECONFIG} ]").returncode == 0, "the kill came too early"

    # The activation of the killed run is left; the operator re-runs after it expired.
    leftover = [a["ActivationId"] for a in _activations(lab, site["role"])]
    assert leftover, "the killed run left no activation"
    for activation_id in leftover:
        _labapi(lab).expire_activation(activation_id)
    seen["expired"] = set(leftover)
    assert any(_ssh(lab, last, f"grep -q {a} {NODECONFIG}").returncode == 0 for a in leftover)

    code, output = play(light_inventory(lab), JOIN, *site["extra"])
    assert code == 0, output
    assert _recap(output)[last["name"]]["changed"] > 0, output
    for host in hosts:
        node = _node_by_ip(lab, host["ip"])
        assert node is not None and _kubelet_posting(node), host["name"]

    code, output = play(light_inventory(lab), JOIN, *site["extra"])
    assert code == 0, output
    assert all(c["changed"] == 0 for c in _recap(output).values()), output


@pytest.mark.reliability("fault")
def test_expired_activation_is_replaced_by_the_rerun_and_deleted(lab, site):
    seen = site["seen"]
    if "expired" not in seen:
        pytest.skip("needs the killed join of the test before")
    # The re-run made a new activation for the host the expired one had not registered, then deleted both.
    assert _activations(lab, site["role"]) == []
    instances = [i for i in client(lab, "ssm").describe_instance_information()["InstanceInformationList"]
                 if i.get("IamRole") == site["role"]]
    assert len(instances) == len(site["hosts"]), instances
    by_ip = {i.get("IPAddress"): i for i in instances}
    for host in site["hosts"]:
        if host["name"] not in seen["registered_at_kill"]:
            assert by_ip[host["ip"]]["ActivationId"] not in seen["expired"], (host["name"], by_ip[host["ip"]])
            assert not any(_ssh(lab, host, f"grep -q {a} {NODECONFIG}").returncode == 0 for a in seen["expired"])


@pytest.mark.reliability("fault")
def test_host_reboot_keeps_route_nodeconfig_and_kubelet_and_rerun_changes_nothing(lab, site, labctl_cli):
    host = site["hosts"][0]
    route = f"{lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}"
    if _node_by_ip(lab, host["ip"]) is None:
        pytest.skip("needs the join of the tests before")
    config_before = _ssh(lab, host, f"sha256sum {NODECONFIG}").stdout
    restart = labctl_cli("restart", "--host", host["name"], timeout=300)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        probe = _ssh(lab, host, "ip -4 route; systemctl is-active kubelet", timeout=20).stdout
        node = _node_by_ip(lab, host["ip"])
        if route in probe and probe.strip().endswith("active") and node is not None and _kubelet_posting(node):
            break
        time.sleep(1)
    probe = _ssh(lab, host, "ip -4 route; systemctl is-active kubelet").stdout
    assert route in probe and probe.strip().splitlines()[-1] == "active", probe
    assert _ssh(lab, host, f"sha256sum {NODECONFIG}").stdout == config_before
    node = _node_by_ip(lab, host["ip"])
    assert node is not None and _kubelet_posting(node)
    code, output = play(light_inventory(lab), JOIN, *site["extra"], "--limit", host["name"])
    assert code == 0, output
    assert _recap(output)[host["name"]]["changed"] == 0, output


def test_decommission_restores_the_lab_as_found(lab, site):
    names = ",".join(sorted(host["name"] for host in site["hosts"]))
    code, output = play(light_inventory(lab), DECOMMISSION, *site["extra"], "--limit", names,
                        "-e", f"hybrid_decommission_confirm={names}")
    assert code == 0, output
    _cleanup(lab, site["hosts"], site["role"])
    _assert_clean(lab, site["hosts"], site["role"])
    assert state.diff(_comparable(site["before"]), _comparable(state.snapshot(lab))) == []
