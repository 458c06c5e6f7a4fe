"""Performance of playbooks/site.yml on the lab: `make bench` (sizes from BENCH_SIZES, default "5 20 50").

For each size N: start a lab of N edge hosts (tests/lab/labctl.py up), run site.yml twice (the first run and the
re-run), take the lab down. With --reuse the running lab is used at its size instead (one size only), and it is
left as found: hosts not joined, no routes, no cluster or AWS objects of the run (checked with hnlab.state).

Measured per run:
  wall             seconds of ansible-playbook.
  cpu              controller CPU seconds (user + system) of ansible-playbook and everything it waited for
                   (getrusage(RUSAGE_CHILDREN) delta); ControlPersist ssh masters detach and are not counted.
  tasks / module executions / changed per host: benchmarks/callback_plugins/bench_stats.py (its docstring has
                   the definitions: a module execution is a result that was not skipped of an action that runs a
                   module, not a controller-only action such as set_fact, assert, debug, include_*).
  ssh              SSH connections each host accepted: sshd's "Accepted publickey" journal lines between the start
                   and the end of the run (the bench's own ssh calls are outside that window); each run has a
                   ControlPath directory of its own, so no ssh master of an earlier run is reused.
  ssh ops          ssh/sftp/scp invocations per host on the controller (wrappers named by ANSIBLE_SSH_EXECUTABLE,
                   ANSIBLE_SFTP_EXECUTABLE, ANSIBLE_SCP_EXECUTABLE): each is one operation over the (multiplexed)
                   connection; this is what pipelining changes.
  aws              requests the lab's AWS emulator served, per operation, reads and writes (its /_lab/requests).
  k8s              kube-apiserver requests (apiserver_request_total of /metrics, admin token), per verb and resource.
                   The lab's own agents talk to the API server too (the kubelet and Cilium operator stand-ins, the
                   API server's loopback clients): reads are given net of an idle baseline measured just before
                   the run (same keys, scaled to the run's length); writes exclude the lab agents' heartbeats
                   (Node status, Leases) and the API server's own protobuf clients. Both raw figures are kept.
  nodeadm          nodeadm binaries (nodeadm, nodeadm.gz) the artifact mirror served.
Comparisons (once, on the smallest size): vpc_hybrid_routes against amazon.aws.ec2_vpc_route_table
(purge_routes false); hybrid_preflight against one builtin task per check; a site.yml re-run with
pipelining off against the re-run (pipelining on, as ansible.cfg sets it).
The 10,000 CiliumNodes target is an in-process micro-benchmark of the collection's pod-route planning
(module_utils/rules/pod_routes.py) and validation (module_utils/edge/routes.py, as static_route uses it).

Writes one results file per run, benchmarks/results/<UTC date and time>-<sizes>[-reuse].json, never over another,
and no copy of it; prints the table. `bench.py --markdown FILE` prints a results file's table as Markdown.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import resource
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB_DIR = REPO / "tests" / "lab"
BENCH_DIR = REPO / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
SITE = REPO / "playbooks" / "site.yml"
VENV_BIN = Path(sys.executable).parent

# ---------------------------------------------------------------- targets
TARGET_RERUN_RATIO = 0.30       # re-run wall time at most 30% of the first run
TARGET_SCALE_RATIO = 4.0        # re-run wall(50 hosts) / wall(5 hosts) at most 4
TARGET_MODULE_EXECS = 25        # module executions per host in a re-run of site.yml
TARGET_PLAN_SECONDS = 1.0       # planning + validating the pod routes of 10,000 CiliumNodes
PLAN_NODES = 10000

K8S_READ_VERBS = frozenset(("GET", "LIST", "WATCH"))
# Requests the lab's own agents make, not the collection: the kubelet stand-in's heartbeats.
K8S_AGENT_KEYS = frozenset((("PATCH", "", "nodes", "status"), ("PUT", "", "nodes", "status")))
K8S_AGENT_RESOURCES = frozenset((("coordination.k8s.io", "leases"),))
PROTOBUF = "application/vnd.kubernetes.protobuf"
_METRIC_LINE = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# ============================================================ pure functions (unit-tested)
def parse_request_metrics(text: str) -> dict[tuple, float]:
    """{(verb, group, resource, subresource, content_type): count} of apiserver_request_total in /metrics text."""
    out: dict[tuple, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match.group("labels")))
        key = (labels.get("verb", ""), labels.get("group", ""), labels.get("resource", ""),
               labels.get("subresource", ""), labels.get("contentType", ""))
        out[key] = out.get(key, 0.0) + float(match.group("value"))
    return out


def metrics_delta(before: dict[tuple, float], after: dict[tuple, float]) -> dict[tuple, int]:
    """Requests between two scrapes, per key (a counter that went down, an API server restart, counts from 0)."""
    delta = {}
    for key, value in after.items():
        diff = value - before.get(key, 0.0)
        if diff < 0:
            diff = value
        if diff:
            delta[key] = int(round(diff))
    return delta


def _k8s_is_agent(key: tuple) -> bool:
    verb, group, res, sub, ctype = key
    return (verb, group, res, sub) in K8S_AGENT_KEYS or (group, res) in K8S_AGENT_RESOURCES or ctype == PROTOBUF


def _k8s_name(key: tuple) -> str:
    verb, group, res, sub, _ctype = key
    return f"{verb} {(group + '/') if group else ''}{res or '(non-resource)'}{('/' + sub) if sub else ''}"


def k8s_summary(delta: dict[tuple, int], baseline: dict[tuple, int] | None = None,
                baseline_seconds: float = 0.0, run_seconds: float = 0.0) -> dict:
    """Reads and writes of a run from the metrics delta.

    Non-resource requests (resource "", such as the bench's own /metrics scrapes) are left out. Writes: every
    non-read verb except the lab agents' (K8S_AGENT_KEYS/RESOURCES, the API server's protobuf clients).
    Reads: the delta minus the idle baseline scaled to the run's length (per key, never below 0).
    """
    scale = (run_seconds / baseline_seconds) if baseline and baseline_seconds > 0 else 0.0
    reads_raw = reads = writes = writes_raw = 0
    by_request: dict[str, int] = {}
    agents: dict[str, int] = {}
    for key, count in sorted(delta.items()):
        verb, _group, res, _sub, _ctype = key
        if not res:
            continue
        if verb in K8S_READ_VERBS:
            reads_raw += count
            net = max(0, count - int(round((baseline or {}).get(key, 0) * scale)))
            if _k8s_is_agent(key):
                agents[_k8s_name(key)] = agents.get(_k8s_name(key), 0) + count
                continue
            reads += net
            if net:
                by_request[_k8s_name(key)] = by_request.get(_k8s_name(key), 0) + net
        else:
            writes_raw += count
            if _k8s_is_agent(key):
                agents[_k8s_name(key)] = agents.get(_k8s_name(key), 0) + count
                continue
            writes += count
            by_request[_k8s_name(key)] = by_request.get(_k8s_name(key), 0) + count
    return {"reads": reads, "writes": writes, "reads_raw": reads_raw, "writes_raw": writes_raw,
            "by_request": by_request, "lab_agents": agents}


def aws_summary(requests: list[dict]) -> dict:
    """Reads and writes per operation from the emulator's request list [{service, operation, kind, count}]."""
    reads = writes = 0
    by_op: dict[str, dict] = {}
    for item in requests:
        name = f"{item['service']}:{item['operation']}"
        kind = item.get("kind", "read")
        by_op[name] = {"kind": kind, "count": by_op.get(name, {}).get("count", 0) + int(item["count"])}
        if kind == "write":
            writes += int(item["count"])
        else:
            reads += int(item["count"])
    return {"reads": reads, "writes": writes, "by_operation": dict(sorted(by_op.items()))}


def _spread(values: list[float]) -> dict:
    if not values:
        return {"max": 0, "mean": 0.0, "min": 0}
    return {"max": max(values), "mean": round(statistics.mean(values), 1), "min": min(values)}


def hosts_summary(stats: dict, edge_hosts: list[str]) -> dict:
    """Per-host tasks, module executions and changed of a callback output, spread over the edge hosts.

    Hosts other than the edge hosts (localhost, vpngw) are kept in per_host but not in the spread, since the
    targets are per edge host.
    """
    per_host = stats.get("hosts") or {}
    edges = [per_host.get(name, {}) for name in edge_hosts]
    return {
        "tasks": _spread([h.get("tasks", 0) for h in edges]),
        "module_executions": _spread([h.get("module_executions", 0) for h in edges]),
        "changed_total": sum(h.get("changed", 0) for h in per_host.values()),
        "failed_total": sum(h.get("failed", 0) + h.get("unreachable", 0) for h in per_host.values()),
        "per_host": per_host,
        "actions": stats.get("actions") or {},
        "slowest": stats.get("slowest") or [],
    }


def nodeadm_downloads(counts: dict[str, int]) -> int:
    """nodeadm binaries among the mirror's {path: count}."""
    return sum(n for path, n in counts.items() if path.rsplit("/", 1)[-1] in ("nodeadm", "nodeadm.gz"))


def ssh_accepted(journal_text: str) -> int:
    return sum(1 for line in journal_text.splitlines() if "Accepted publickey" in line)


def ssh_operations(log_text: str, hosts: dict[str, str]) -> dict[str, int]:
    """{host name: ssh/sftp/scp invocations} from the wrapper log (one line of arguments per invocation);
    ``hosts`` maps names to the addresses ansible connects to."""
    by_address = {address: name for name, address in hosts.items()}
    counts = dict.fromkeys(hosts, 0)
    for line in log_text.splitlines():
        for token in line.split():
            address = token.rsplit("@", 1)[-1].strip("[]")
            if address in by_address:
                counts[by_address[address]] += 1
                break
    return counts


def write_ssh_wrappers(directory: Path, log: Path) -> dict[str, str]:
    """ssh, sftp and scp wrappers that log their arguments, then run the real tool; the ANSIBLE_*_EXECUTABLE env."""
    import shutil

    directory.mkdir(parents=True, exist_ok=True)
    env = {}
    for tool in ("ssh", "sftp", "scp"):
        real = shutil.which(tool)
        if not real:
            continue
        wrapper = directory / tool
        wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {shlex.quote(str(log))}\n"
                           f"exec {shlex.quote(real)} \"$@\"\n")
        wrapper.chmod(0o755)
        env[f"ANSIBLE_{tool.upper()}_EXECUTABLE"] = str(wrapper)
    return env


def _target(name: str, met, detail: str) -> dict:
    return {"target": name, "met": met, "detail": detail}


def _plan_target(result: dict) -> dict:
    plan = result.get("pod_route_plan")
    return _target(f"plan + validate the pod routes of {PLAN_NODES:,} CiliumNodes < {TARGET_PLAN_SECONDS:g}s",
                   plan["seconds"] < TARGET_PLAN_SECONDS and not plan.get("problems") if plan else None,
                   f"{plan['seconds']:.3f}s ({plan['routes']} routes)" if plan else "not measured")


def evaluate_targets(result: dict) -> list[dict]:
    """Each target of the issue with met True/False (None: not measured in this bench) and the figures."""
    sizes = sorted(result.get("sizes", {}).items(), key=lambda kv: int(kv[0]))
    targets = []
    failed = [f"N={n} {label} rc={s[label].get('rc')}" for n, s in sizes for label in ("first", "rerun")
              if s[label].get("rc", 0) != 0]
    targets.append(_target("every measured site.yml run succeeded", not failed if sizes else None,
                           ", ".join(failed) or "rc=0 everywhere"))
    if failed:  # the figures of a failed run say nothing about the targets
        return targets + [_target(name, False, "a run failed: " + ", ".join(failed)) for name in (
            "re-run changed=0, zero AWS and Kubernetes writes", "re-run AWS and Kubernetes reads do not grow with hosts",
            f"re-run wall <= {TARGET_RERUN_RATIO:.0%} of the first run",
            f"re-run wall(50) / wall(5) <= {TARGET_SCALE_RATIO:g}",
            f"<= {TARGET_MODULE_EXECS} module executions per host in a re-run",
            "nodeadm fetched once per run (cache on), not once per host")] + [_plan_target(result)]
    rerun_bad = [(n, s["rerun"]) for n, s in sizes
                 if s["rerun"]["hosts"]["changed_total"] or s["rerun"]["aws"]["writes"] or s["rerun"]["k8s"]["writes"]]
    detail = "; ".join(f"N={n}: changed={r['hosts']['changed_total']} aws_writes={r['aws']['writes']} "
                       f"k8s_writes={r['k8s']['writes']}" for n, r in (rerun_bad or [(n, s["rerun"]) for n, s in sizes]))
    targets.append(_target("re-run changed=0, zero AWS and Kubernetes writes", not rerun_bad if sizes else None, detail))

    if len(sizes) >= 2:
        first, last = sizes[0][1]["rerun"], sizes[-1][1]["rerun"]
        grow_aws = last["aws"]["reads"] > first["aws"]["reads"]
        grow_k8s = last["k8s"]["reads"] > first["k8s"]["reads"]
        targets.append(_target(
            "re-run AWS and Kubernetes reads do not grow with hosts", not (grow_aws or grow_k8s),
            ", ".join(f"N={n}: aws={s['rerun']['aws']['reads']} k8s={s['rerun']['k8s']['reads']}" for n, s in sizes)))
    else:
        targets.append(_target("re-run AWS and Kubernetes reads do not grow with hosts", None,
                               "needs two sizes or more"))

    ratios = {n: s["rerun"]["wall"] / s["first"]["wall"] for n, s in sizes if s["first"]["wall"]}
    targets.append(_target(f"re-run wall <= {TARGET_RERUN_RATIO:.0%} of the first run",
                           all(r <= TARGET_RERUN_RATIO for r in ratios.values()) if ratios else None,
                           ", ".join(f"N={n}: {r:.0%}" for n, r in ratios.items())))

    walls = {int(n): s["rerun"]["wall"] for n, s in sizes}
    if 5 in walls and 50 in walls:
        ratio = walls[50] / walls[5]
        targets.append(_target(f"re-run wall(50) / wall(5) <= {TARGET_SCALE_RATIO:g}", ratio <= TARGET_SCALE_RATIO,
                               f"{walls[50]:.1f}s / {walls[5]:.1f}s = {ratio:.2f}"))
    else:
        targets.append(_target(f"re-run wall(50) / wall(5) <= {TARGET_SCALE_RATIO:g}", None,
                               "needs sizes 5 and 50 (measured: %s)" % ", ".join(str(n) for n in sorted(walls))))

    execs = {n: s["rerun"]["hosts"]["module_executions"]["max"] for n, s in sizes}
    targets.append(_target(f"<= {TARGET_MODULE_EXECS} module executions per host in a re-run",
                           all(v <= TARGET_MODULE_EXECS for v in execs.values()) if execs else None,
                           ", ".join(f"N={n}: max {v}" for n, v in execs.items())))

    targets.append(_plan_target(result))

    downloads = {n: s["first"]["nodeadm_downloads"] for n, s in sizes}
    targets.append(_target("nodeadm fetched once per run (cache on), not once per host",
                           all(v <= 1 for v in downloads.values()) if downloads else None,
                           ", ".join(f"N={n}: {v} download(s) in the first run" for n, v in downloads.items())))
    return targets


def _fmt_met(met) -> str:
    return "MET" if met is True else ("NOT MET" if met is False else "n/a")


def _row(cells, widths):
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()


def table_rows(result: dict) -> list[list[str]]:
    header = ["hosts", "run", "wall s", "% of 1st", "tasks/host max (mean)", "modules/host max (mean)", "changed",
              "ssh/host max (mean)", "ssh ops/host max (mean)", "AWS r/w", "K8s r/w", "cpu s", "nodeadm dl"]
    rows = [header]
    for n, size in sorted(result.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        for label in ("first", "rerun"):
            run = size[label]
            hosts = run["hosts"]
            pct = "" if label == "first" else f"{run['wall'] / size['first']['wall']:.0%}" if size["first"]["wall"] else ""
            rows.append([str(n), label, f"{run['wall']:.1f}", pct,
                         f"{hosts['tasks']['max']} ({hosts['tasks']['mean']})",
                         f"{hosts['module_executions']['max']} ({hosts['module_executions']['mean']})",
                         str(hosts["changed_total"]),
                         f"{run['ssh']['max']} ({run['ssh']['mean']})",
                         f"{run.get('ssh_ops', {}).get('max', '-')} ({run.get('ssh_ops', {}).get('mean', '-')})",
                         f"{run['aws']['reads']}/{run['aws']['writes']}",
                         f"{run['k8s']['reads']}/{run['k8s']['writes']}",
                         f"{run['cpu']:.1f}", str(run["nodeadm_downloads"])])
    return rows


def comparison_lines(result: dict) -> list[str]:
    comp = result.get("comparisons") or {}
    lines = []
    if comp.get("note"):
        lines.append(comp["note"])
    routes = comp.get("routes")
    if routes:
        lines.append(f"routes ({routes['routes']} routes, 1 route table):")
        for name, data in routes["modules"].items():
            lines.append(f"  {name:<32} apply {data['apply']['wall']:.1f}s {data['apply']['aws']['reads']}r/"
                         f"{data['apply']['aws']['writes']}w, re-apply {data['reapply']['wall']:.1f}s "
                         f"{data['reapply']['aws']['reads']}r/{data['reapply']['aws']['writes']}w"
                         f" (changed {data['apply']['changed']}/{data['reapply']['changed']})")
    pre = comp.get("preflight")
    if pre:
        lines.append("preflight:")
        for name, data in pre.items():
            lines.append(f"  {name:<32} {data['wall']:.1f}s, module executions/host max {data['module_executions']['max']}, "
                         f"tasks/host max {data['tasks']['max']}, ssh operations/host max {data['ssh_ops']['max']}")
    pipe = comp.get("pipelining")
    if pipe:
        lines.append(f"pipelining ({pipe['scope']}):")
        for name in ("on", "off"):
            data = pipe[name]
            ops = data.get("ssh_ops") or {}
            lines.append(f"  {name:<32} {data['wall']:.1f}s, ssh connections/host max {data['ssh']['max']}, "
                         f"ssh operations/host max {ops.get('max', '-')} mean {ops.get('mean', '-')}, cpu {data['cpu']:.1f}s")
    sizes = result.get("sizes") or {}
    for n, size in sorted(sizes.items(), key=lambda kv: int(kv[0])):
        rerun = size["rerun"]
        aws_writes = {k: v["count"] for k, v in rerun["aws"].get("by_operation", {}).items() if v["kind"] == "write"}
        k8s_writes = {k: v for k, v in rerun["k8s"].get("by_request", {}).items() if k.split(" ", 1)[0] not in K8S_READ_VERBS}
        if aws_writes or k8s_writes:
            lines.append(f"writes of the re-run (N={n}): " + ", ".join(f"{k} {v}" for k, v in {**aws_writes, **k8s_writes}.items()))
    if sizes:
        largest = max(sizes, key=int)
        slowest = sizes[largest]["rerun"]["hosts"].get("slowest") or []
        if slowest:
            lines.append(f"slowest tasks of the re-run (N={largest}), seconds from start to the last host's result:")
            lines += [f"  {entry['seconds']:6.1f}  {entry['task']}" for entry in slowest[:12]]
    plan = result.get("pod_route_plan")
    if plan:
        lines.append(f"pod routes of {plan['nodes']:,} CiliumNodes: plan {plan['plan_seconds']:.3f}s + validate "
                     f"{plan['validate_seconds']:.3f}s = {plan['seconds']:.3f}s CPU ({plan.get('wall_seconds', 0):.3f}s wall; "
                     f"best of {plan['repeats']})")
    return lines


def render_text(result: dict) -> str:
    rows = table_rows(result)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [f"site.yml on the lab ({result.get('date', '')}, sizes {' '.join(sorted(result.get('sizes', {}), key=int))}"
           f"{', reused lab' if result.get('reuse') else ''})", ""]
    out += [_row(r, widths) for r in rows]
    out += ["", "Comparisons"] + ["  " + line for line in comparison_lines(result)]
    out += ["", "Targets"]
    for t in result.get("targets", []):
        out.append(f"  [{_fmt_met(t['met']):7}] {t['target']}: {t['detail']}")
    if result.get("leftovers"):
        out += ["", "LEFTOVERS on the reused lab (not restored):"] + ["  " + x for x in result["leftovers"][:40]]
    return "\n".join(out) + "\n"


def render_markdown(result: dict) -> str:
    rows = table_rows(result)
    out = [f"# site.yml benchmark ({result.get('date', '')})", "",
           f"Sizes: {', '.join(sorted(result.get('sizes', {}), key=int))} edge hosts{' (a reused lab)' if result.get('reuse') else ''}. "
           "Generated by `make bench` (benchmarks/bench.py); definitions in its docstring.", "",
           "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    out += ["", "## Comparisons", ""] + [f"    {line}" for line in comparison_lines(result)]
    out += ["", "## Targets", "", "| target | result | figures |", "|---|---|---|"]
    out += [f"| {t['target']} | {_fmt_met(t['met'])} | {t['detail']} |" for t in result.get("targets", [])]
    return "\n".join(out) + "\n"


def write_results(result: dict, out: Path, now: datetime.datetime | None = None) -> Path:
    """The run's one results file, out/<YYYYmmdd-HHMMSS>-<sizes>[-reuse].json (UTC), created new: an existing file
    (another run's) is never overwritten, and nothing else is written (no latest copy; --markdown renders a file)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    sizes = "-".join(result["sizes"]) or "none"
    path = out / f"{now.strftime('%Y%m%d-%H%M%S')}-{sizes}{'-reuse' if result.get('reuse') else ''}.json"
    out.mkdir(parents=True, exist_ok=True)
    with path.open("x") as handle:
        # In the run's order (not sorted), so that --markdown on the file prints what the run printed.
        handle.write(json.dumps(result, indent=1, default=str))
    return path


# ============================================================ micro-benchmark
def synthetic_cilium_nodes(count: int):
    """count CiliumNodes with one /25 each inside 10.64.0.0/10, and their InternalIPs in 10.200.0.0/16."""
    nodes, ips = [], {}
    for index in range(count):
        name = "hybrid-%05d" % index
        base = (10 << 24) | (64 << 16) | (index << 7)
        cidr = "%d.%d.%d.%d/25" % (base >> 24, (base >> 16) & 255, (base >> 8) & 255, base & 255)
        nodes.append({"metadata": {"name": name}, "spec": {"ipam": {"podCIDRs": [cidr]}, "addresses": []}})
        ips[name] = "10.200.%d.%d" % (index // 250, index % 250 + 1)
    return nodes, ips


def pod_route_plan_benchmark(count: int = PLAN_NODES, repeats: int = 3) -> dict:
    """Time pod_routes.plan_routes (cilium_pod_routes_info) then routes.routes_problems + desired_from_routes +
    plan (static_route on the VPN gateway) for count synthetic CiliumNodes; best of repeats.

    ``seconds`` (what the target is judged on) is the CPU time of this process (time.process_time), which
    other load on the machine does not inflate as much as the wall time (``wall_seconds``, also kept).
    """
    _collection_path()
    from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import pod_routes
    from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import routes as rt

    nodes, ips = synthetic_cilium_nodes(count)
    best = None
    for _attempt in range(repeats):
        getattr(rt, "_NETWORKS", {}).clear()  # each repeat as a fresh module process
        w0, c0 = time.perf_counter(), time.process_time()
        planned = pod_routes.plan_routes(nodes, ips, ["10.64.0.0/10"])
        c1 = time.process_time()
        problems = rt.routes_problems(planned["routes"], ["10.64.0.0/10"])
        desired = rt.desired_from_routes(planned["routes"], "eth0")
        change = rt.plan(desired, [], [], ["10.64.0.0/10"])
        w2, c2 = time.perf_counter(), time.process_time()
        if best is None or c2 - c0 < best["seconds"]:
            best = {"nodes": count, "routes": len(planned["routes"]), "problems": len(planned["problems"]) + len(problems),
                    "replace": len(change["replace"]), "plan_seconds": round(c1 - c0, 4),
                    "validate_seconds": round(c2 - c1, 4), "seconds": round(c2 - c0, 4),
                    "wall_seconds": round(w2 - w0, 4), "repeats": repeats}
    return best


# ============================================================ the lab
def _collection_path() -> None:
    """The collection's own code, from where `make setup` links it (an Ansible collection, not a Python package)."""
    collections = REPO / ".collections"
    if str(collections) not in sys.path:
        sys.path.append(str(collections))


def _import_paths() -> None:
    """The lab's package, hnlab (installed editable into the venv by `make setup`, tests/lab/pyproject.toml), which
    must be this checkout's, and the collection's code."""
    import hnlab

    hnlab.require_checkout(LAB_DIR)
    _collection_path()


class Lab:
    """The running lab: hosts, emulator, API server, mirror; measurement of one playbook run."""

    def __init__(self, log=print):
        _import_paths()
        from hnlab import config, edge, k8s, mirror
        from hnlab.aws.labapi import LabApi

        self.log = log
        self.cfg = config.load()
        self.edge, self.k8s, self.mirror = edge, k8s, mirror
        self.hosts = edge.load_hosts(self.cfg)
        self.edges = [h for h in self.hosts if h["kind"] == "edge"]
        self.api = LabApi(self.cfg.moto_endpoint, self.cfg.region)
        self.cache_dir = Path(tempfile.mkdtemp(prefix="hnbench-nodeadm-"))
        self.tag = uuid.uuid4().hex[:6]
        self.role_name = f"hnbench-{self.tag}"

    def close(self) -> None:
        """Remove the nodeadm cache directory of the runs."""
        import shutil

        shutil.rmtree(self.cache_dir, ignore_errors=True)

    # ---- raw readers
    def ssh(self, host: dict, cmd: str, timeout: int = 180):
        return self.edge.ssh(self.cfg, host["ip"], "sh", "-c", shlex.quote(cmd), check=False, timeout=timeout)

    def metrics(self) -> dict[tuple, float]:
        ctx = ssl.create_default_context(cafile=str(self.k8s.ca_path(self.cfg)))
        req = urllib.request.Request(self.k8s.server_url(self.cfg) + "/metrics",
                                     headers={"Authorization": "Bearer " + self.k8s.admin_token(self.cfg)})
        with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:
            return parse_request_metrics(resp.read().decode())

    def ssh_counts(self, start: float, end: float) -> dict[str, int]:
        cmd = (f"journalctl -q -o cat --since @{start:.3f} --until @{end:.3f} -t sshd -t sshd-session "
               "| grep -c 'Accepted publickey' || true")

        def one(host):
            r = self.ssh(host, cmd, timeout=60)
            return host["name"], int((r.stdout.strip() or "0").splitlines()[-1])

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            return dict(pool.map(one, self.hosts))

    def env(self, stats_path: Path, extra: dict | None = None) -> dict:
        from hnlab.aws.clients import FAKE_ACCESS_KEY, FAKE_SECRET_KEY

        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "tests" / "lab" / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                   PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
                   ANSIBLE_CALLBACK_PLUGINS=str(BENCH_DIR / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="bench_stats", HNBENCH_STATS_OUT=str(stats_path))
        env.update(extra or {})
        return env

    def site_extra(self) -> list[str]:
        return ["-e", f"hybrid_iam_role_name={self.role_name}", "-e", f"hybrid_nodeadm_cache_dir={self.cache_dir}",
                "-e", "nodeadm_retry_delay=1"]

    def measure(self, label: str, playbook: Path, extra_args: list[str], env_extra: dict | None = None,
                baseline_seconds: float = 10.0, timeout: int = 3600) -> dict:
        """Run one playbook and measure it (see the module docstring)."""
        base0 = self.metrics()
        time.sleep(baseline_seconds)
        base1 = self.metrics()
        baseline = metrics_delta(base0, base1)
        self.api.reset()
        self.mirror.reset_request_counts(self.cfg)
        with tempfile.TemporaryDirectory(prefix="hnbench-") as tmp:
            stats_path = Path(tmp) / "stats.json"
            # A ControlPath directory of its own: no ssh master of an earlier run (or of anyone else) is reused.
            env_extra = dict(env_extra or {}, ANSIBLE_SSH_CONTROL_PATH_DIR=str(Path(tmp) / "cp"))
            ops_log = Path(tmp) / "ssh-ops.log"
            env_extra.update(write_ssh_wrappers(Path(tmp) / "bin", ops_log))
            time.sleep(1.0)  # the bench's own ssh calls stay out of the window
            m0 = self.metrics()
            usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            mark0 = time.time()
            t0 = time.monotonic()
            proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(self.cfg.inventory_path),
                                   *extra_args, str(playbook)], cwd=REPO, env=self.env(stats_path, env_extra),
                                  capture_output=True, text=True, timeout=timeout, check=False)
            wall = time.monotonic() - t0
            mark1 = time.time()
            usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            m1 = self.metrics()
            stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
            close_masters(Path(tmp) / "cp")
            ops = ssh_operations(ops_log.read_text() if ops_log.exists() else "",
                                 {h["name"]: h["ip"] for h in self.hosts})
        aws = aws_summary(self.api.requests())
        downloads = nodeadm_downloads(self.mirror.request_counts(self.cfg, method=None))
        time.sleep(1.0)  # the journal of the last connections
        ssh = self.ssh_counts(mark0, mark1 + 0.5)
        edge_names = [h["name"] for h in self.edges]
        run = {
            "label": label, "rc": proc.returncode, "wall": round(wall, 2),
            "cpu": round((usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime), 2),
            "hosts": hosts_summary(stats, edge_names),
            "ssh": {**_spread([ssh.get(n, 0) for n in edge_names]), "per_host": ssh},
            "ssh_ops": {**_spread([ops.get(n, 0) for n in edge_names]), "per_host": ops},
            "aws": aws, "k8s": k8s_summary(metrics_delta(m0, m1), baseline, baseline_seconds, wall),
            "nodeadm_downloads": downloads,
        }
        self.log(f"  {label}: rc={proc.returncode} wall={wall:.1f}s changed={run['hosts']['changed_total']} "
                 f"modules/host max={run['hosts']['module_executions']['max']} aws={aws['reads']}r/{aws['writes']}w "
                 f"k8s={run['k8s']['reads']}r/{run['k8s']['writes']}w ssh/host max={run['ssh']['max']} "
                 f"ssh ops/host max={run['ssh_ops']['max']}")
        if proc.returncode != 0:
            run["output_tail"] = (proc.stdout + proc.stderr)[-6000:]
            self.log(run["output_tail"])
        return run

    # ---- comparisons
    def compare_routes(self, count: int = 8) -> dict:
        import yaml
        from hnlab.aws.clients import client

        inv = yaml.safe_load(Path(self.cfg.inventory_path).read_text())["all"]["vars"]
        ec2 = client(self.cfg, "ec2")
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [inv["hybrid_vpc_id"]]}])["RouteTables"]
        spare = [t for t in tables if t["RouteTableId"] not in inv["hybrid_route_table_ids"]]
        table = (spare or tables)[0]["RouteTableId"]
        cidrs = [f"10.250.{i}.0/24" for i in range(count)]
        gateway = inv["hybrid_vpn_gateway_id"]
        existing = {r.get("DestinationCidrBlock") for t in tables if t["RouteTableId"] == table for r in t.get("Routes", [])}
        if existing & set(cidrs):
            raise RuntimeError(f"route table {table} already holds bench routes {sorted(existing & set(cidrs))}")
        extra = {"bench_route_table_id": table, "bench_vpc_id": inv["hybrid_vpc_id"], "bench_vpn_gateway_id": gateway,
                 "bench_cidrs": cidrs, "bench_routes": [{"dest": c, "gateway_id": gateway} for c in cidrs]}
        out = {"routes": count, "route_table": table, "modules": {}}
        for module, name in (("hybrid", "hybridnodes.eks.vpc_hybrid_routes"),
                             ("amazon", "amazon.aws.ec2_vpc_route_table")):
            runs = {}
            try:
                for phase in ("apply", "reapply"):
                    runs[phase] = self._controller_play(BENCH_DIR / "playbooks" / "route_compare.yml",
                                                        {**extra, "bench_module": module})
            finally:
                for cidr in cidrs:
                    try:
                        ec2.delete_route(RouteTableId=table, DestinationCidrBlock=cidr)
                    except Exception:  # noqa: BLE001 - a route the apply did not make
                        pass
            out["modules"][name] = runs
        return out

    def _controller_play(self, playbook: Path, extra_vars: dict) -> dict:
        self.api.reset()
        with tempfile.TemporaryDirectory(prefix="hnbench-") as tmp:
            stats_path = Path(tmp) / "stats.json"
            t0 = time.monotonic()
            proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(self.cfg.inventory_path),
                                   "-e", json.dumps(extra_vars), str(playbook)], cwd=REPO, env=self.env(stats_path),
                                  capture_output=True, text=True, timeout=600, check=False)
            wall = time.monotonic() - t0
            stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        if proc.returncode != 0:
            raise RuntimeError(f"{playbook.name} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        changed = sum(h.get("changed", 0) for h in (stats.get("hosts") or {}).values())
        return {"wall": round(wall, 2), "aws": aws_summary(self.api.requests()), "changed": changed}

    def compare_preflight(self) -> dict:
        out = {}
        for name, playbook in (("hybrid_preflight (one module)", "preflight_modules.yml"),
                               ("one builtin task per check", "preflight_tasks.yml")):
            run = self.measure(name, BENCH_DIR / "playbooks" / playbook, [], baseline_seconds=0.5)
            out[name] = {"wall": run["wall"], "rc": run["rc"], "ssh": run["ssh"], "ssh_ops": run["ssh_ops"], "cpu": run["cpu"],
                         "tasks": run["hosts"]["tasks"], "module_executions": run["hosts"]["module_executions"]}
        return out

    # ---- state and clean-up
    def joined(self) -> list[str]:
        r = {h["name"]: self.ssh(h, "test -e /usr/local/bin/nodeadm && echo JOINED") for h in self.edges}
        return [name for name, res in r.items() if "JOINED" in res.stdout]

    def backup_hosts(self) -> None:
        from hnlab import state

        dirs = " ".join(state.WATCHED_DIRS)

        def one(host):
            r = self.ssh(host, f"tar -cpf /var/tmp/hnbench-backup.tar --ignore-failed-read $(ls -d {dirs} 2>/dev/null) "
                               "2>/dev/null; test -s /var/tmp/hnbench-backup.tar && echo OK", timeout=300)
            if "OK" not in r.stdout:
                raise RuntimeError(f"backup of {host['name']} failed: {r.stderr[-500:]}")

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, self.hosts))

    def decommission_extra(self) -> list[str]:
        """decommission.yml's guard: the limit, the confirmation naming the hosts, a maximum that admits them all."""
        names = ",".join(sorted(host["name"] for host in self.edges))
        return ["--limit", names, "-e", f"hybrid_decommission_confirm={names}",
                "-e", f"hybrid_decommission_max_hosts={len(self.edges)}"]

    def restore(self, before: dict) -> list[str]:
        """Undo the run: decommission, the hosts from the backup and the snapshot diff, the emulator, the API
        server. Returns what still differs from ``before``."""
        from hnlab import state

        self.log("  restoring the lab: decommission.yml")
        with tempfile.TemporaryDirectory(prefix="hnbench-") as tmp:
            subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(self.cfg.inventory_path),
                            *self.site_extra(), *self.decommission_extra(), str(REPO / "playbooks" / "decommission.yml")],
                           cwd=REPO,
                           env=self.env(Path(tmp) / "s.json"), capture_output=True, text=True, timeout=1800, check=False)
        self._restore_hosts(before["hosts"])
        self._restore_k8s(before["k8s"])
        self._restore_aws(before["aws"])
        after = state.snapshot(self.cfg)
        if any(before["hosts"].get(n, {}).get("files") != after["hosts"].get(n, {}).get("files") for n in after["hosts"]):
            self._restore_hosts(before["hosts"])  # a second pass for what the first one uncovered
            after = state.snapshot(self.cfg)
        for host in self.hosts:
            self.ssh(host, "rm -f /var/tmp/hnbench-backup.tar")
        return state.diff(before, after)

    def _restore_hosts(self, before_hosts: dict) -> None:
        from hnlab import state

        now = state.hosts_state(self.cfg)

        def one(host):
            name = host["name"]
            old, new = before_hosts.get(name, {}), now.get(name, {})
            script = ["[ -x /usr/local/bin/nodeadm ] && /usr/local/bin/nodeadm uninstall "
                      "--skip pod-validation,node-validation >/dev/null 2>&1", "ip link del cilium_host 2>/dev/null"]
            pkgs = sorted({line.split("=", 1)[0] for line in set(new.get("packages", [])) - set(old.get("packages", []))})
            if pkgs:
                script.append("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q " + " ".join(map(shlex.quote, pkgs))
                              + " >/dev/null 2>&1")
            old_files = {line.split(" ", 1)[0]: line for line in old.get("files", [])}
            new_files = {line.split(" ", 1)[0]: line for line in new.get("files", [])}
            added = sorted(set(new_files) - set(old_files))
            changed = sorted(p for p in old_files if new_files.get(p) != old_files[p])
            for path in added:
                script.append(f"rm -f {shlex.quote(path)}")
            if changed:
                members = " ".join(shlex.quote(p.lstrip("/")) for p in changed)
                script.append(f"tar -xpf /var/tmp/hnbench-backup.tar -C / {members} 2>/dev/null")
            # empty directories left by removed files (only those under the dirs of removed files)
            for directory in sorted({os.path.dirname(p) for p in added}, key=len, reverse=True):
                script.append(f"rmdir -p {shlex.quote(directory)} 2>/dev/null")
            for line in sorted(set(new.get("routes", [])) - set(old.get("routes", []))):
                script.append(f"ip route del {line} 2>/dev/null")
            for line in sorted(set(new.get("addresses", [])) - set(old.get("addresses", []))):
                parts = line.split()
                if len(parts) == 3:
                    script.append(f"ip addr del {parts[2]} dev {parts[0]} 2>/dev/null")
            script += ["systemctl daemon-reload", "networkctl reload 2>/dev/null", "true"]
            self.ssh(host, "; ".join(script), timeout=600)

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, self.hosts))

    def _restore_k8s(self, before: dict) -> None:
        from kubernetes import client as kube
        from kubernetes.client.rest import ApiException

        from hnlab import state

        now = state.k8s_state(self.cfg)

        def quietly(call, *args):
            try:
                call(*args)
            except ApiException:
                pass

        with self.k8s.api_client(self.cfg) as api:
            core, apps = kube.CoreV1Api(api), kube.AppsV1Api(api)
            custom, ext = kube.CustomObjectsApi(api), kube.ApiextensionsV1Api(api)
            for name in set(now["nodes"]) - set(before["nodes"]):
                quietly(core.delete_node, name)
            for name in set(now["ciliumnodes"]) - set(before["ciliumnodes"]):
                quietly(custom.delete_cluster_custom_object, "cilium.io", "v2", "ciliumnodes", name)
            deleters = {"configmap": core.delete_namespaced_config_map, "secret": core.delete_namespaced_secret,
                        "daemonset": apps.delete_namespaced_daemon_set, "deployment": apps.delete_namespaced_deployment,
                        "serviceaccount": core.delete_namespaced_service_account}
            for key in set(now["kube_system"]) - set(before["kube_system"]):
                kind, name = key.split("/", 1)
                quietly(deleters[kind], name, "kube-system")
            # cluster-scoped objects of the Cilium manifest (RBAC) that the snapshot does not list
            manifest = self._cilium_manifest()
            if manifest and "configmap/cilium-config" not in before["kube_system"]:
                import yaml

                docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d and d.get("kind") not in (
                    "CustomResourceDefinition", "ConfigMap", "DaemonSet", "Deployment", "ServiceAccount", "Secret")]
                if docs:
                    subprocess.run([str(self.cfg.kubectl_binary), "--kubeconfig", str(self.cfg.kubeconfig), "delete",
                                    "--ignore-not-found", "--wait=false", "-f", "-"], input=yaml.safe_dump_all(docs),
                                   capture_output=True, text=True, timeout=60, check=False)
            if not getattr(self, "crd_before", True):
                quietly(ext.delete_custom_resource_definition, "ciliumnodes.cilium.io")
            for name in set(now["namespaces"]) - set(before["namespaces"]):
                quietly(core.delete_namespace, name)

    def _cilium_manifest(self) -> Path | None:
        import yaml

        path = yaml.safe_load(Path(self.cfg.inventory_path).read_text())["all"]["vars"].get("cilium_manifest_path")
        return Path(path) if path and Path(path).exists() else None

    def crd_exists(self) -> bool:
        return self.k8s.ciliumnode_crd_exists(self.cfg)

    def _restore_aws(self, before: dict) -> None:
        from hnlab import state
        from hnlab.aws.clients import client

        now = state.aws_state(self.cfg)
        ec2, ssm, eks, iam = (client(self.cfg, s) for s in ("ec2", "ssm", "eks", "iam"))

        def quietly(call, **kwargs):
            try:
                call(**kwargs)
            except Exception:  # noqa: BLE001 - each clean-up step on its own; the final diff shows what is left
                pass

        for table, routes in now["route_tables"].items():
            for route in set(routes) - set(before["route_tables"].get(table, [])):
                cidr = json.loads(route).get("DestinationCidrBlock")
                if cidr:
                    quietly(ec2.delete_route, RouteTableId=table, DestinationCidrBlock=cidr)
        for vpn, data in now["vpn_connections"].items():
            for route in set(data["routes"]) - set(before["vpn_connections"].get(vpn, {}).get("routes", [])):
                cidr, _sep, route_state = route.rpartition(":")
                if route_state != "deleted":
                    quietly(ec2.delete_vpn_connection_route, VpnConnectionId=vpn, DestinationCidrBlock=cidr)
        old_activations = {json.loads(a)["ActivationId"] for a in before["ssm_activations"]}
        for activation in now["ssm_activations"]:
            activation_id = json.loads(activation)["ActivationId"]
            if activation_id not in old_activations:
                quietly(ssm.delete_activation, ActivationId=activation_id)
        for instance in set(now["ssm_instances"]) - set(before["ssm_instances"]):
            quietly(ssm.deregister_managed_instance, InstanceId=instance.split(":", 1)[0])
        for cluster, data in now["eks"].items():
            old = before["eks"].get(cluster, {})
            for arn in set(data["access_entries"]) - set(old.get("access_entries", {})):
                quietly(eks.delete_access_entry, clusterName=cluster, principalArn=arn)
            if old and data["remote_networks"] != old.get("remote_networks"):
                quietly(eks.update_cluster_config, name=cluster, remoteNetworkConfig=old["remote_networks"])
        for role in set(now["iam_roles"]) - set(before["iam_roles"]):
            for arn in now["iam_roles"][role]["attached"]:
                quietly(iam.detach_role_policy, RoleName=role, PolicyArn=arn)
            for policy in now["iam_roles"][role]["inline"]:
                quietly(iam.delete_role_policy, RoleName=role, PolicyName=policy)
            quietly(iam.delete_role, RoleName=role)


# ============================================================ flow
def close_masters(control_dir: Path) -> None:
    """End the ControlPersist ssh masters of one measured run (ssh -O exit on each socket)."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "hnbench"], capture_output=True,
                       timeout=10, check=False)


def labctl(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAB_DIR / "labctl.py"), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def lab_is_up() -> bool:
    _import_paths()
    from hnlab import config, labctl as lab

    cfg = config.load()
    state = lab.read_lab(cfg)
    return bool(state and state.get("status") == "up") or bool(lab.is_running(cfg))


def bench_size(lab: Lab, comparisons: bool, pipelining: bool, log=print) -> tuple[dict, dict]:
    """First run and re-run of site.yml (and the comparisons when asked) on the lab as it is."""
    size = {}
    log(f"site.yml on {len(lab.edges)} edge hosts")
    size["first"] = lab.measure("first run", SITE, lab.site_extra(), baseline_seconds=10.0)
    size["rerun"] = lab.measure("re-run", SITE, lab.site_extra(), baseline_seconds=15.0)
    comps = {}
    if comparisons:
        comps["note"] = f"measured once, on the {len(lab.edges)}-host lab"
        if pipelining:
            off = lab.measure("re-run, pipelining off", SITE, lab.site_extra(),
                              env_extra={"ANSIBLE_PIPELINING": "False"}, baseline_seconds=2.0)
            on = size["rerun"]
            comps["pipelining"] = {"scope": "a site.yml re-run (converged)", "on": _brief(on), "off": _brief(off)}
        log("comparison: preflight")
        comps["preflight"] = lab.compare_preflight()
        log("comparison: VPC routes")
        comps["routes"] = lab.compare_routes()
    return size, comps


def _brief(run: dict) -> dict:
    return {"wall": run["wall"], "ssh": {k: run["ssh"][k] for k in ("max", "mean", "min")}, "cpu": run["cpu"],
            "ssh_ops": {k: run["ssh_ops"][k] for k in ("max", "mean", "min")}, "rc": run["rc"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[5, 20, 50], help="edge host counts (default 5 20 50)")
    parser.add_argument("--reuse", action="store_true",
                        help="use the running lab at its size (one size) and leave it as found")
    parser.add_argument("--no-comparisons", action="store_true", help="skip the comparisons")
    parser.add_argument("--no-pipelining", action="store_true", help="skip the pipelining comparison (a third site run)")
    parser.add_argument("--out", default=str(RESULTS_DIR), help="results directory")
    parser.add_argument("--markdown", metavar="FILE", help="print the table of a results file as Markdown and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(Path(args.markdown).read_text())), end="")
        return 0
    if os.geteuid() != 0:
        print("bench: the lab needs root", file=sys.stderr)
        return 2
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"), "reuse": args.reuse,
              "sizes": {}, "comparisons": {}, "leftovers": []}
    print(f"pod-route plan micro-benchmark ({PLAN_NODES:,} CiliumNodes)")
    result["pod_route_plan"] = pod_route_plan_benchmark()
    running = lab_is_up()
    if args.reuse:
        if not running:
            print("bench: --reuse but no lab is running", file=sys.stderr)
            return 2
        lab = Lab()
        if lab.joined():
            print(f"bench: the lab is not clean: {lab.joined()} have nodeadm; a first run needs unjoined hosts",
                  file=sys.stderr)
            return 2
        from hnlab import state

        before = state.snapshot(lab.cfg)
        lab.crd_before = lab.crd_exists()
        lab.backup_hosts()
        try:
            size, comps = bench_size(lab, not args.no_comparisons, not args.no_pipelining)
            result["sizes"][str(len(lab.edges))] = size
            result["comparisons"] = comps
        finally:
            result["leftovers"] = lab.restore(before)
            lab.close()
    else:
        if running:
            print("bench: a lab is running; take it down first or use --reuse", file=sys.stderr)
            return 2
        for index, n in enumerate(sorted(args.sizes)):
            print(f"labctl up --hosts {n}")
            # The light profile: 50 real kubelets would not fit 2 cores (docs/lab.md, profiles).
            up = labctl("up", "--hosts", str(n), "--profile", "light")
            try:
                if up.returncode != 0:
                    raise RuntimeError(f"labctl up --hosts {n} failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
                lab = Lab()
                try:
                    lab.crd_before = lab.crd_exists()
                    size, comps = bench_size(lab, index == 0 and not args.no_comparisons, not args.no_pipelining)
                finally:
                    lab.close()
                result["sizes"][str(n)] = size
                if comps:
                    result["comparisons"] = comps
            finally:
                print("labctl down")
                labctl("down")
    result["targets"] = evaluate_targets(result)
    path = write_results(result, Path(args.out))
    print(render_text(result))
    print(f"results: {path}")
    return 1 if result["leftovers"] or any(t["met"] is False for t in result["targets"][:1]) else 0


if __name__ == "__main__":
    sys.exit(main())
