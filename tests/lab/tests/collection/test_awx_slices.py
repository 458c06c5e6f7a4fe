"""Slice safety of playbooks/join.yml, the way AWX runs a job template with job_slice_count K (root only).

AWX orders the inventory's hosts by name and gives slice i (1..K) every K-th host from the i-th, with the
inventory's groups and variables; the K slice jobs run at once, each its own ansible-runner process. Here
K=3 slices of the lab inventory run concurrently through ansible-runner, which puts each edge host of the
3-host lab in a slice of its own. Shown:
  - every slice succeeds;
  - each slice made its own SSM activation, sized to the unregistered hosts of its slice, and its hosts
    registered with it (the emulator's managed instances carry the activation id); none is left;
  - the final state is the one a single run gives: every edge host a Ready Node with its pool's labels, one
    managed instance per host, one access entry for the role, and a single unsliced re-run changes nothing.
Everything is undone at the end exactly as in test_join_lifecycle.py (same cleanup), since other lab tests
expect hosts without the VPC route and without nodeadm.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
import uuid

import ansible_runner
import pytest
import yaml

from hnlab import edge
from hnlab.aws.clients import client
from hnlab.testing import REPO, light_inventory, playbook_env
from .test_join_lifecycle import _cleanup, _kubelet_posting, _node_by_ip, _play, _pools, _recap, _ssh

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

# On the light profile's inventory (hnlab.testing.light_inventory): three concurrent slices of join.yml share one SSM
# activation, which the test watches.

JOIN = REPO / "playbooks" / "join.yml"
NODEADM = "/usr/local/bin/nodeadm"
SLICES = 3
RUN_TIMEOUT_S = 900
POLL_S = 0.1


def _all_hosts(tree, found=None):
    """Every host name of an inventory in YAML form, in any group."""
    found = set() if found is None else found
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "hosts" and isinstance(value, dict):
                found.update(value)
            else:
                _all_hosts(value, found)
    return found


def _subset(tree, keep):
    """The inventory with only the hosts in keep; groups and variables stay, as in an AWX slice."""
    tree = copy.deepcopy(tree)

    def prune(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "hosts" and isinstance(value, dict):
                    for name in [name for name in value if name not in keep]:
                        del value[name]
                else:
                    prune(value)

    prune(tree)
    return tree


def slice_hosts(names, count):
    """AWX's slicing: the hosts ordered by name, slice i (1-based) takes hosts[i-1::count]."""
    ordered = sorted(names)
    return [ordered[index::count] for index in range(count)]


def test_slice_hosts_like_awx():
    assert slice_hosts(["vpngw", "edge02", "edge01", "edge03"], 3) == [["edge01", "vpngw"], ["edge02"], ["edge03"]]


@pytest.fixture(scope="module")
def site(lab):
    """The edge hosts, and a hybrid nodes role with a HYBRID_LINUX access entry; all undone at the end."""
    hosts = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "edge"]
    wanted = int(os.environ.get("HNLAB_TEST_HOSTS", "0"))
    if len(hosts) < wanted:
        pytest.fail(f"HNLAB_TEST_HOSTS={wanted} but the running lab has {len(hosts)} edge hosts: take it down first "
                    "(make lab-down), and this test brings up a lab of that size")
    role_name = f"lab-slices-{uuid.uuid4().hex[:8]}"
    arn = client(lab, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=arn, type="HYBRID_LINUX")
    try:
        yield {"hosts": hosts, "role": role_name, "arn": arn,
               "extravars": {"hybrid_iam_role_name": role_name, "nodeadm_retry_delay": 1},
               "extra": ["-e", f"hybrid_iam_role_name={role_name}", "-e", "nodeadm_retry_delay=1"]}
    finally:
        _cleanup(lab, hosts, role_name)
        _assert_clean(lab, hosts, role_name)


def _assert_clean(cfg, hosts, role_name):
    """What other lab tests expect: no nodeadm, no VPC route, no Node, activation or instance of the role."""
    left = {}
    for host in hosts:
        probe = _ssh(cfg, host, f"[ -e {NODEADM} ] && echo nodeadm; ip -4 route | grep -F {cfg.vpc_cidr}; true", timeout=60)
        problems = [line for line in probe.stdout.splitlines() if line.strip()]
        if _node_by_ip(cfg, host["ip"]) is not None:
            problems.append("Node")
        if problems:
            left[host["name"]] = problems
    ssm = client(cfg, "ssm")
    left["ssm"] = [a["ActivationId"] for a in ssm.describe_activations()["ActivationList"] if a.get("IamRole") == role_name] + [
        i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"] if i.get("IamRole") == role_name]
    assert left == {"ssm": []}, f"left on the lab after the cleanup: {left}"


class ActivationWatcher:
    """Polls the emulator's SSM activations of the role during the run: every activation seen, with its limit."""

    def __init__(self, cfg, role):
        self.ssm = client(cfg, "ssm")
        self.role = role
        self.seen = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + RUN_TIMEOUT_S + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                for activation in self.ssm.describe_activations()["ActivationList"]:
                    if activation.get("IamRole") == self.role:
                        self.seen[activation["ActivationId"]] = activation["RegistrationLimit"]
            except Exception:  # noqa: BLE001 - a failed poll is only a missed sample
                pass
            time.sleep(POLL_S)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def run_slices(cfg, site, tmp_path):
    """Every slice of the lab inventory through ansible-runner at once; returns [(hosts, runner)] per slice."""
    inventory = yaml.safe_load(light_inventory(cfg).read_text())
    envvars = playbook_env()  # what a lab playbook run sets, as ansible-runner's envvars (AWX's way to run it)
    started = []
    for number, hosts in enumerate(slice_hosts(_all_hosts(inventory), SLICES), start=1):
        private = tmp_path / f"slice{number}"
        (private / "inventory").mkdir(parents=True)
        (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump(_subset(inventory, set(hosts))))
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(private), project_dir=str(REPO), playbook=str(JOIN),
            inventory=str(private / "inventory" / "hosts.yml"), extravars=site["extravars"], envvars=envvars,
            quiet=True, timeout=RUN_TIMEOUT_S, ident=f"slice{number}")
        started.append((hosts, thread, runner))
    for _hosts, thread, _runner in started:
        thread.join(RUN_TIMEOUT_S + 60)
    return [(hosts, runner) for hosts, _thread, runner in started]


@pytest.mark.reliability("concurrency")
def test_three_concurrent_slices_converge_like_one_run(lab, site, tmp_path):
    edge_names = {host["name"] for host in site["hosts"]}
    with ActivationWatcher(lab, site["role"]) as watcher:
        slices = run_slices(lab, site, tmp_path)

    # Every slice succeeded, each on its own share of the edge hosts (one per slice on the 3-host lab).
    for hosts, runner in slices:
        output = runner.stdout.read()
        assert runner.status == "successful" and runner.rc == 0, (hosts, runner.status, output[-4000:])
        stats = runner.stats
        assert set(stats["processed"]) == set(hosts) & edge_names, (hosts, stats)
        assert not stats["failures"] and not stats["dark"], (hosts, stats, output[-4000:])
    sliced_edges = [sorted(set(hosts) & edge_names) for hosts, _runner in slices]
    assert sorted(name for part in sliced_edges for name in part) == sorted(edge_names)
    if len(edge_names) == SLICES:
        assert all(len(part) == 1 for part in sliced_edges), sliced_edges

    # Each slice made its own activation, sized to its slice, and its hosts registered with it.
    instances = [item for item in client(lab, "ssm").describe_instance_information()["InstanceInformationList"]
                 if item.get("IamRole") == site["role"]]
    by_ip = {item["IPAddress"]: item for item in instances}
    ip_of = {host["name"]: host["ip"] for host in site["hosts"]}
    assert sorted(by_ip) == sorted(ip_of.values()), instances  # one managed instance per host, none twice
    activation_of_slice = []
    for part in sliced_edges:
        used = {by_ip[ip_of[name]]["ActivationId"] for name in part}
        assert len(used) == 1, (part, used)
        (activation,) = used
        assert watcher.seen.get(activation) == len(part), (part, activation, watcher.seen)
        activation_of_slice.append(activation)
    assert len(set(activation_of_slice)) == len(sliced_edges)
    assert set(watcher.seen) == set(activation_of_slice), watcher.seen  # no activation beyond one per slice
    left = [a for a in client(lab, "ssm").describe_activations()["ActivationList"] if a.get("IamRole") == site["role"]]
    assert left == []

    # The state of a single run: every edge host a registered Node (NotReady until a CNI runs) with its pool's labels,
    # one access entry.
    pools = _pools(lab)
    names = set()
    for host in site["hosts"]:
        node = _node_by_ip(lab, host["ip"])
        assert node is not None and _kubelet_posting(node), host
        assert node.metadata.name == by_ip[host["ip"]]["InstanceId"]
        for key, value in pools[host["name"]]["hybrid_node_labels"].items():
            assert node.metadata.labels[key] == value, (host["name"], key)
        names.add(node.metadata.name)
    assert len(names) == len(site["hosts"])
    entries = client(lab, "eks").list_access_entries(clusterName=lab.cluster_name)["accessEntries"]
    assert entries.count(site["arn"]) == 1, entries

    # A single, unsliced run finds nothing to do.
    code, output = _play(lab, JOIN, *site["extra"])
    assert code == 0, output
    assert all(counts["changed"] == 0 for counts in _recap(output).values()), output
