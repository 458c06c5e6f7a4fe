# -*- coding: utf-8 -*-
"""benchmarks/bench.py and its callback: metrics parsing, aggregation and the evaluation of the targets (no lab)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import sys
from types import SimpleNamespace

import pytest

BENCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "benchmarks")
sys.path.insert(0, os.path.abspath(BENCH_DIR))
sys.path.insert(0, os.path.abspath(os.path.join(BENCH_DIR, "callback_plugins")))

import bench  # noqa: E402  pylint: disable=wrong-import-position
import bench_stats  # noqa: E402  pylint: disable=wrong-import-position

LINE = ('apiserver_request_total{code="%s",component="apiserver",contentType="%s",dry_run="",group="%s",'
        'resource="%s",scope="resource",subresource="%s",verb="%s",version="v1"} %s')
JSON = "application/json"
METRICS = "\n".join([
    "# HELP apiserver_request_total [STABLE] Counter of apiserver requests",
    "# TYPE apiserver_request_total counter",
    LINE % ("200", JSON, "", "nodes", "", "LIST", "%(list_nodes)d"),
    LINE % ("404", JSON, "", "nodes", "", "LIST", "1"),
    LINE % ("200", JSON, "", "nodes", "status", "PATCH", "%(heartbeats)d"),
    LINE % ("201", JSON, "cilium.io", "ciliumnodes", "", "POST", "%(creates)d"),
    LINE % ("200", "application/vnd.kubernetes.protobuf", "", "namespaces", "", "GET", "%(loopback)d"),
    LINE % ("200", "text/plain", "", "", "", "GET", "%(scrapes)d"),
    'apiserver_request_duration_seconds_bucket{verb="LIST",le="0.1"} 99',
]) + "\n"


def scrape(list_nodes=0, heartbeats=0, creates=0, loopback=0, scrapes=0):
    return bench.parse_request_metrics(METRICS % dict(list_nodes=list_nodes, heartbeats=heartbeats, creates=creates,
                                                      loopback=loopback, scrapes=scrapes))


def test_metrics_are_summed_over_codes_and_keyed_by_verb_and_resource():
    parsed = scrape(list_nodes=4)
    assert parsed[("LIST", "", "nodes", "", "application/json")] == 5  # 4 with 200 and 1 with 404
    assert ("PATCH", "", "nodes", "status", "application/json") in parsed
    assert all(key[0] for key in parsed)  # the histogram line is not a request count


def test_delta_and_summary_split_reads_writes_and_the_lab_agents():
    before = scrape(list_nodes=10, heartbeats=100, creates=2, loopback=50, scrapes=7)
    after = scrape(list_nodes=16, heartbeats=130, creates=5, loopback=80, scrapes=9)
    delta = bench.metrics_delta(before, after)
    summary = bench.k8s_summary(delta)
    assert summary["reads"] == 6
    assert summary["writes"] == 3  # the CiliumNode creates; not the heartbeats, not the loopback reads
    assert summary["writes_raw"] == 33
    assert summary["by_request"] == {"LIST nodes": 6, "POST cilium.io/ciliumnodes": 3}
    assert summary["lab_agents"] == {"PATCH nodes/status": 30, "GET namespaces": 30}


def test_reads_are_net_of_the_idle_baseline_scaled_to_the_run():
    delta = bench.metrics_delta(scrape(list_nodes=0), scrape(list_nodes=40))
    baseline = bench.metrics_delta(scrape(list_nodes=0), scrape(list_nodes=2))  # 2 in 10 s
    summary = bench.k8s_summary(delta, baseline, baseline_seconds=10.0, run_seconds=50.0)
    assert summary["reads"] == 30 and summary["reads_raw"] == 40
    over = bench.k8s_summary(bench.metrics_delta(scrape(), scrape(list_nodes=3)), baseline, 10.0, 50.0)
    assert over["reads"] == 0  # never below zero


def test_a_counter_reset_counts_from_zero():
    assert bench.metrics_delta({("GET", "", "nodes", "", "j"): 50.0}, {("GET", "", "nodes", "", "j"): 3.0}) == {
        ("GET", "", "nodes", "", "j"): 3}


def test_aws_summary_splits_reads_and_writes_per_operation():
    summary = bench.aws_summary([
        {"service": "ec2", "operation": "DescribeRouteTables", "kind": "read", "count": 3},
        {"service": "ec2", "operation": "CreateRoute", "kind": "write", "count": 2},
        {"service": "eks", "operation": "DescribeCluster", "kind": "read", "count": 1}])
    assert (summary["reads"], summary["writes"]) == (4, 2)
    assert summary["by_operation"]["ec2:CreateRoute"] == {"kind": "write", "count": 2}


def test_hosts_summary_spreads_over_the_edge_hosts_only():
    stats = {"hosts": {"edge01": {"tasks": 30, "module_executions": 20, "changed": 1},
                       "edge02": {"tasks": 34, "module_executions": 24, "changed": 0},
                       "localhost": {"tasks": 80, "module_executions": 60, "changed": 2}},
             "actions": {"stat": 3}}
    summary = bench.hosts_summary(stats, ["edge01", "edge02", "edge03"])
    assert summary["module_executions"] == {"max": 24, "mean": 14.7, "min": 0}  # edge03 ran nothing
    assert summary["tasks"]["max"] == 34
    assert summary["changed_total"] == 3  # every host counts for changed


def test_nodeadm_downloads_and_ssh_lines():
    counts = {"/releases/v1.0.20/bin/linux/amd64/nodeadm": 1, "/releases/v1.0.20/bin/linux/amd64/nodeadm.sha256": 5,
              "/releases/v1.0.20/bin/linux/arm64/nodeadm.gz": 1, "/manifest.yaml": 2}
    assert bench.nodeadm_downloads(counts) == 2
    journal = ("Accepted publickey for root from 10.200.0.1 port 1 ssh2: ED25519 SHA256:x\n"
               "pam_unix(sshd:session): session opened\nAccepted publickey for root from 10.200.0.1 port 2\n")
    assert bench.ssh_accepted(journal) == 2


def test_ssh_operations_are_counted_per_host_from_the_wrapper_log(tmp_path):
    log = tmp_path / "ops.log"
    env = bench.write_ssh_wrappers(tmp_path / "bin", log)
    assert set(env) >= {"ANSIBLE_SSH_EXECUTABLE"}
    text = ("-o ControlMaster=auto -o User=\"root\" 10.200.0.11 /bin/sh -c 'echo ~root'\n"
            "-b - -C -o User=\"root\" [10.200.0.11]\n"
            "-o User=root root@10.200.0.12 /bin/sh -c 'python3'\n"
            "-o User=root 10.200.0.110 /bin/sh\n")
    assert bench.ssh_operations(text, {"edge01": "10.200.0.11", "edge02": "10.200.0.12", "edge03": "10.200.0.13"}) == {
        "edge01": 2, "edge02": 1, "edge03": 0}


def test_the_ssh_wrapper_logs_its_arguments_and_runs_the_real_tool(tmp_path):
    log = tmp_path / "ops.log"
    env = bench.write_ssh_wrappers(tmp_path / "bin", log)
    import subprocess

    proc = subprocess.run([env["ANSIBLE_SSH_EXECUTABLE"], "-V"], capture_output=True, text=True, check=False)
    assert "OpenSSH" in proc.stdout + proc.stderr
    assert log.read_text() == "-V\n"


def run(wall, changed=0, aws_r=10, aws_w=0, k8s_r=5, k8s_w=0, execs=20, downloads=0):
    return {"wall": wall, "cpu": 1.0, "hosts": {"changed_total": changed, "tasks": {"max": execs, "mean": execs},
                                                "module_executions": {"max": execs, "mean": execs}},
            "ssh": {"max": 1, "mean": 1}, "ssh_ops": {"max": 9, "mean": 9}, "aws": {"reads": aws_r, "writes": aws_w},
            "k8s": {"reads": k8s_r, "writes": k8s_w}, "nodeadm_downloads": downloads}


def by_target(targets):
    return dict((t["target"].split(" ")[0] + " " + t["target"].split(" ")[1], t) for t in targets)


def test_targets_met_when_every_figure_is_within():
    result = {"sizes": {"5": {"first": run(100, changed=40, aws_w=9, downloads=1), "rerun": run(20)},
                        "50": {"first": run(300, changed=400, aws_w=90, downloads=1), "rerun": run(70)}},
              "pod_route_plan": {"seconds": 0.4, "routes": 10000}}
    targets = bench.evaluate_targets(result)
    assert [t["met"] for t in targets] == [True] * 8, targets
    assert "70.0s / 20.0s = 3.50" in [t for t in targets if "wall(50)" in t["target"]][0]["detail"]


@pytest.mark.parametrize("change, name", [
    ({"rerun50": run(70, changed=1)}, "re-run changed=0"),
    ({"rerun50": run(70, k8s_w=2)}, "re-run changed=0"),
    ({"rerun50": run(70, aws_r=11)}, "re-run AWS"),
    ({"rerun50": run(90)}, "re-run wall(50)"),
    ({"first50": run(200, downloads=1)}, "re-run wall <="),
    ({"rerun50": run(70, execs=26)}, "<= 25"),
    ({"first50": run(300, downloads=50)}, "nodeadm fetched"),
    ({"plan": 1.2}, "plan + validate"),
])
def test_each_target_fails_on_its_own_figure(change, name):
    result = {"sizes": {"5": {"first": run(100, downloads=1), "rerun": run(20)},
                        "50": {"first": change.get("first50", run(300, downloads=1)),
                               "rerun": change.get("rerun50", run(70))}},
              "pod_route_plan": {"seconds": change.get("plan", 0.4), "routes": 10000}}
    targets = bench.evaluate_targets(result)
    failed = [t["target"] for t in targets if t["met"] is False]
    assert len(failed) == 1 and failed[0].startswith(name), targets


def test_a_failed_run_meets_no_target_of_the_runs():
    result = {"sizes": {"5": {"first": run(100, downloads=1), "rerun": dict(run(1), rc=4)}},
              "pod_route_plan": {"seconds": 0.4, "routes": 10000}}
    targets = bench.evaluate_targets(result)
    assert targets[0]["met"] is False and "N=5 rerun rc=4" in targets[0]["detail"]
    assert [t["met"] for t in targets[1:-1]] == [False] * 6
    assert targets[-1]["met"] is True  # the micro-benchmark does not depend on the lab


def test_targets_not_measurable_on_one_size_are_not_claimed():
    targets = bench.evaluate_targets({"sizes": {"3": {"first": run(100, downloads=1), "rerun": run(20)}}})
    unknown = [t["target"] for t in targets if t["met"] is None]
    assert any("grow" in t for t in unknown) and any("wall(50)" in t for t in unknown)
    assert any("plan" in t for t in unknown)


def test_rendering_shows_each_size_and_target():
    result = {"date": "2026-01-01T00:00Z", "sizes": {"5": {"first": run(100, downloads=1), "rerun": run(20)}},
              "comparisons": {"pipelining": {"scope": "re-run", "on": {"wall": 20, "ssh": {"max": 1, "mean": 1}, "cpu": 1},
                                             "off": {"wall": 30, "ssh": {"max": 9, "mean": 9}, "cpu": 2}}}}
    result["targets"] = bench.evaluate_targets(result)
    text, markdown = bench.render_text(result), bench.render_markdown(result)
    assert "20%" in text and "pipelining (re-run)" in text and "NOT MET" not in text
    assert markdown.count("| 5 |") == 2 and "| re-run wall <= 30% of the first run | MET | N=5: 20% |" in markdown


def test_a_run_writes_one_results_file_and_no_copy(tmp_path):
    result = {"date": "2026-01-01T00:00Z", "reuse": False, "sizes": {"5": {}, "20": {}}}
    when = bench.datetime.datetime(2026, 1, 1, 12, 30, 5, tzinfo=bench.datetime.timezone.utc)
    path = bench.write_results(result, tmp_path / "results", now=when)
    assert path == tmp_path / "results" / "20260101-123005-5-20.json"
    assert [p.name for p in (tmp_path / "results").iterdir()] == [path.name]
    assert json.loads(path.read_text()) == result
    reused = bench.write_results(dict(result, reuse=True, sizes={"3": {}}), tmp_path / "results",
                                 now=when + bench.datetime.timedelta(seconds=1))
    assert reused.name == "20260101-123006-3-reuse.json"
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [path.name, reused.name]


def test_another_runs_results_file_is_never_overwritten(tmp_path):
    when = bench.datetime.datetime(2026, 1, 1, 12, 30, 5, tzinfo=bench.datetime.timezone.utc)
    first = bench.write_results({"sizes": {"5": {}}, "n": 1}, tmp_path, now=when)
    with pytest.raises(FileExistsError):
        bench.write_results({"sizes": {"5": {}}, "n": 2}, tmp_path, now=when)
    assert json.loads(first.read_text())["n"] == 1


def test_markdown_renders_a_results_file_without_a_lab(tmp_path, capsys):
    result = {"date": "2026-01-01T00:00Z", "sizes": {"5": {"first": run(100, downloads=1), "rerun": run(20)}}}
    result["targets"] = bench.evaluate_targets(result)
    path = bench.write_results(result, tmp_path)
    assert bench.main(["--markdown", str(path)]) == 0  # no root, no lab: it only reads the file
    assert capsys.readouterr().out == bench.render_markdown(result)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_committed_results_are_one_file_per_run():
    names = sorted(os.listdir(os.path.join(BENCH_DIR, "results")))
    assert names and all(re.match(r"^[0-9]{8}-[0-9]{4,6}-[0-9-]+(-reuse)?\.json$", name) for name in names), names
    texts = [open(os.path.join(BENCH_DIR, "results", name)).read() for name in names]
    assert len(set(texts)) == len(texts)  # no copies of one run


def fake_result(action, result, status_loop=None, host="edge01"):
    task = SimpleNamespace(action=action, resolved_action=action, loop=status_loop, loop_with=None, _uuid=action,
                           get_name=lambda: "task " + action)
    return SimpleNamespace(_task=task, _host=SimpleNamespace(get_name=lambda: host), _result=result)


def test_callback_counts_tasks_module_executions_and_loops(tmp_path, monkeypatch):
    out = tmp_path / "stats.json"
    monkeypatch.setenv("HNBENCH_STATS_OUT", str(out))
    callback = bench_stats.CallbackModule()
    callback.v2_runner_on_ok(fake_result("ansible.builtin.stat", {"changed": False}))
    callback.v2_runner_on_ok(fake_result("ansible.builtin.set_fact", {"ansible_facts": {}}))
    callback.v2_runner_on_skipped(fake_result("ansible.builtin.command", {"skipped": True}))
    callback.v2_runner_on_ok(fake_result("ansible.builtin.apt", {"changed": True, "results": [
        {"changed": True}, {"skipped": True}, {"changed": False}]}, status_loop=["a", "b", "c"]))
    callback.v2_runner_on_failed(fake_result("hybridnodes.eks.nodeadm", {"failed": True}))
    callback.v2_runner_on_unreachable(fake_result("ansible.builtin.ping", {"unreachable": True}, host="edge02"))
    # a module whose own result has a "results" key, without a loop, is one execution
    callback.v2_runner_on_ok(fake_result("amazon.aws.ec2_vpc_route_table_info", {"results": [1, 2, 3]}, host="localhost"))
    callback.v2_playbook_on_stats(None)
    data = json.loads(out.read_text())
    assert data["hosts"]["edge01"] == {"tasks": 5, "module_executions": 4, "changed": 1, "skipped": 1, "failed": 1,
                                       "unreachable": 0}
    assert data["hosts"]["edge02"]["module_executions"] == 0 and data["hosts"]["edge02"]["unreachable"] == 1
    assert data["hosts"]["localhost"]["module_executions"] == 1
    assert data["actions"] == {"stat": 1, "apt": 2, "nodeadm": 1, "ec2_vpc_route_table_info": 1}
    assert data["slowest"] == []  # no task start seen: no timing


def test_callback_times_each_task_to_its_last_host(tmp_path, monkeypatch):
    out = tmp_path / "stats.json"
    monkeypatch.setenv("HNBENCH_STATS_OUT", str(out))
    clock = iter([100.0, 100.5, 103.0, 110.0, 110.2])
    monkeypatch.setattr(bench_stats.time, "monotonic", lambda: next(clock))
    callback = bench_stats.CallbackModule()
    slow, quick = fake_result("slow", {}), fake_result("quick", {})
    callback.v2_playbook_on_task_start(slow._task, False)       # 100.0
    callback.v2_runner_on_ok(slow)                               # 100.5
    callback.v2_runner_on_ok(fake_result("slow", {}, host="edge02"))  # 103.0: the last host
    callback.v2_playbook_on_task_start(quick._task, False)      # 110.0
    callback.v2_runner_on_ok(quick)                              # 110.2
    callback.v2_playbook_on_stats(None)
    slowest = json.loads(out.read_text())["slowest"]
    assert slowest == [{"task": "task slow", "seconds": 3.0}, {"task": "task quick", "seconds": 0.2}]


def test_controller_actions_are_not_modules():
    for action in ("ansible.builtin.set_fact", "assert", "ansible.builtin.include_role", "ansible.builtin.meta",
                   "ansible.builtin.add_host", "ansible.builtin.debug", "ansible.builtin.fail"):
        assert not bench_stats.is_module(action), action
    for action in ("ansible.builtin.template", "ansible.builtin.command", "hybridnodes.eks.static_route",
                   "kubernetes.core.k8s_info"):
        assert bench_stats.is_module(action), action
