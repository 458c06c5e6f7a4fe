# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The results of playbooks/validate.yml, assembled and rendered (documented in validation_results.yml and
validation_render.yml).

validation_results turns what the playbook read (the VPN tunnels, Nodes, CiliumNodes, the VPN gateways' route
tables) and probed (each edge host towards the VPC, the cluster side towards each node) into one row per inventory
host and a list of failed checks, each with the host and the likely fix. validation_render prints that as the
per-host table, the Markdown report, JSON, or the failure list.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import pod_routes

PROBE_METHODS = ("pod", "host", "command", "none")
FORMATS = ("table", "markdown", "json", "failures")
ROUTE_TYPES = ("unicast", "local", "broadcast", "blackhole", "unreachable", "prohibit", "throw", "nat", "anycast",
               "multicast")

FIX = {
    "tunnel": "check the customer gateway device's IPsec configuration (both tunnels), its reachability on UDP 500/4500 "
              "from the AWS tunnel endpoints, and the tunnel status in the VPC console",
    "vpn_read": "check hybrid_vpn_connection_id, hybrid_region and the credentials (ec2:DescribeVpnConnections)",
    "cluster_read": "check hybrid_kubeconfig and that its credentials may list nodes and ciliumnodes.cilium.io",
    "node": "join it: playbooks/join.yml for this host (on failure run `nodeadm debug` on it); if it joined with "
            "another address, set hybrid_node_ip to the node's InternalIP",
    "ready": "look at the kubelet on the host (`journalctl -u kubelet`) and the Cilium agent on the node; a node "
             "stays NotReady until its CNI runs (playbooks/cilium.yml)",
    "cilium_node": "deploy Cilium for hybrid nodes (playbooks/cilium.yml) with cluster-pool IPAM, and check that the "
                   "Cilium operator runs and the pool is not exhausted",
    "reaches_vpc": "route the VPC CIDRs via hybrid_vpn_server_ip on the host (playbooks/routes.yml, role edge_routes), "
                   "check that both VPN tunnels are up and that the target's security group allows the probe "
                   "(ICMP, or the TCP port given)",
    "answers_from_cluster": "route the remote node CIDRs to the VPN or transit gateway in the VPC route tables and on "
                            "the VPN connection (playbooks/routes.yml), allow them in the cloud nodes' security group "
                            "(ICMP), and check the host's firewall",
    "probe": "fix the cluster-side probe itself (hybrid_validate_probe_method and its variables)",
    "pod_route": "install the pod CIDR routes on the VPN gateway (playbooks/routes.yml), or by hand: "
                 "`ip route replace {cidr} via {ip}` on {gateway}",
    "gateway_read": "make the gateway reachable over SSH, or remove it from the group vpn_gateways and check its routes "
                    "by hand against the route table in the report",
    "pod_cidrs": "check Cilium's cluster pool: it must equal hybrid_remote_pod_cidrs, and each node needs its own "
                 "pod CIDR",
    "no_result": "the host failed or was unreachable before its checks ran: see the errors above for this host",
}


def _text(value):
    return to_text(value) if value is not None else ""


def _last_lines(text, limit=240):
    lines = [line.strip() for line in _text(text).splitlines() if line.strip()]
    summary = [line for line in lines if "transmitted" in line or "received" in line]
    line = summary[-1] if summary else (lines[-1] if lines else "")
    return line[:limit]


def probe_outcome(result):
    """(answered: True/False/None, detail) of a registered probe result of any supported kind.

    None means not checked (skipped). Kinds: the reachability module (answered, targets), a command
    (rc, stdout, stderr), kubernetes.core.k8s_exec (return_code, stdout), or a failed/unreachable result (msg).
    """
    if not isinstance(result, dict) or not result:
        return None, "not run"
    if result.get("skipped"):
        return None, "skipped" + ((": " + _text(result.get("skip_reason"))) if result.get("skip_reason") else "")
    if result.get("unreachable"):
        return False, "unreachable: %s" % _last_lines(result.get("msg"))
    if "answered" in result and isinstance(result.get("targets"), list):
        details = ["%s %s" % (item.get("target"), item.get("detail")) for item in result["targets"]]
        return bool(result["answered"]), "; ".join(details)
    for key in ("rc", "return_code"):
        if key in result and result[key] is not None and not _text(result.get("msg")).startswith("[Errno"):
            try:
                code = int(result[key])
            except (TypeError, ValueError):
                continue
            detail = _last_lines(result.get("stdout")) or _last_lines(result.get("stderr"))
            if code == 0:
                return True, detail or "answered (exit 0)"
            return False, "exit %d%s" % (code, (": " + detail) if detail else "")
    # A failure, also when failed_when: false turned `failed` off: the module's message remains.
    if result.get("failed") or result.get("msg"):
        return False, _last_lines(result.get("msg")) or "failed"
    return None, "no probe result"


def _conditions(node):
    return dict((item.get("type"), item) for item in ((node.get("status") or {}).get("conditions") or []))


def _resources(result, what):
    """(list of objects, problem or None, found) from a k8s_info result, or a plain list."""
    if result is None:
        return [], None, True
    if isinstance(result, list):
        return result, None, True
    if not isinstance(result, dict):
        raise AnsibleFilterError("validation_results: %s must be a k8s_info result or a list, not %r" % (what, result))
    if result.get("skipped"):
        return [], None, False
    if result.get("failed") or ("resources" not in result and result.get("msg")):
        return [], _last_lines(result.get("msg")) or "reading the %s failed" % what, False
    return list(result.get("resources") or []), None, result.get("api_found", True) is not False


def parse_routes(text):
    """[(network, via or None)] of `ip -4 route show` output (device routes have no via)."""
    found = []
    for line in _text(text).splitlines():
        words = line.split()
        if words and words[0] in ROUTE_TYPES:
            words = words[1:]
        if not words or words[0] == "default":
            continue
        try:
            network = ipaddress.ip_network(words[0], strict=False)
        except ValueError:
            continue
        via = words[words.index("via") + 1] if "via" in words[:-1] else None
        if via and via.startswith("inet"):  # `via inet 10.0.0.1` (iproute2 with the family)
            via = words[words.index("via") + 2] if words.index("via") + 2 < len(words) else None
        found.append((network, via))
    return found


def _gateway_tables(gateway_routes):
    """{gateway: ([(network, via)], problem or None)} from a looped command register, a dict, or None."""
    if not gateway_routes:
        return {}
    if isinstance(gateway_routes, dict) and "results" in gateway_routes:
        gateway_routes = gateway_routes["results"]
    tables = {}
    if isinstance(gateway_routes, dict):
        for name, text in gateway_routes.items():
            tables[name] = (parse_routes(text), None)
        return tables
    for item in gateway_routes:
        name = item.get("item") or item.get("gateway")
        if item.get("skipped"):
            continue
        if item.get("unreachable") or item.get("failed") or item.get("rc") not in (None, 0) or "stdout" not in item:
            tables[name] = ([], _last_lines(item.get("msg")) or _last_lines(item.get("stderr")) or "could not be read")
        else:
            tables[name] = (parse_routes(item.get("stdout")), None)
    return tables


def _tunnels(vpn):
    """(summary dict, failures) of a vpn_connection_routes result (report_only), or None when not checked."""
    failures = []
    if not isinstance(vpn, dict) or not vpn or vpn.get("skipped"):
        return {"checked": False, "ok": None, "detail": "not checked (no hybrid_vpn_connection_id)", "tunnels": []}, []
    health = vpn.get("health") or {}
    if vpn.get("failed") or not health:
        detail = _last_lines(vpn.get("msg")) or "the VPN connection could not be read"
        failures.append({"host": "VPN", "check": "tunnel", "detail": detail, "fix": FIX["vpn_read"]})
        return {"checked": True, "ok": False, "detail": detail, "tunnels": []}, failures
    tunnels = health.get("tunnels") or []
    vpn_id = health.get("vpn_connection_id") or "VPN"
    for tunnel in tunnels:
        if tunnel.get("status") != "UP":
            message = (" (%s)" % tunnel["status_message"]) if tunnel.get("status_message") else ""
            failures.append({"host": "%s tunnel %s" % (vpn_id, tunnel.get("outside_ip")), "check": "tunnel",
                             "detail": "tunnel %s of %s is %s%s" % (
                                 tunnel.get("outside_ip"), vpn_id, tunnel.get("status"), message),
                             "fix": FIX["tunnel"]})
    if len(tunnels) < 2:
        failures.append({"host": vpn_id, "check": "tunnel", "detail": "%s reports %d tunnel(s), not 2" % (vpn_id, len(tunnels)),
                         "fix": FIX["tunnel"]})
    if health.get("state") not in (None, "available"):
        failures.append({"host": vpn_id, "check": "tunnel", "detail": "%s is %s, not available" % (vpn_id, health.get("state")),
                         "fix": FIX["tunnel"]})
    up = len([tunnel for tunnel in tunnels if tunnel.get("status") == "UP"])
    detail = "%s: %d/%d tunnels UP (%s)" % (vpn_id, up, len(tunnels), ", ".join(
        "%s %s" % (tunnel.get("outside_ip"), tunnel.get("status")) for tunnel in tunnels) or "none")
    return {"checked": True, "ok": not failures, "detail": detail, "vpn_connection_id": vpn_id,
            "state": health.get("state"), "tunnels": tunnels}, failures


class _Failer(object):
    """Records a failed check in the host's row and in the list of failures."""

    def __init__(self, failures, row):
        self.failures, self.row = failures, row

    def __call__(self, check, detail, fix=None):
        self.row["failed"].append(check)
        self.failures.append({"host": self.row["host"], "check": check, "detail": detail, "fix": fix or FIX[check]})


def _check_arguments(hosts, probe_method):
    if probe_method not in PROBE_METHODS:
        raise AnsibleFilterError("validation_results: probe_method must be one of %s, not %r"
                                 % (", ".join(PROBE_METHODS), probe_method))
    if not isinstance(hosts, list):
        raise AnsibleFilterError("validation_results: the input must be a list of per-host results, not %r" % (hosts,))


def _read_cluster(nodes, cilium_nodes, remote_pod_cidrs, failures):
    """What the cluster reports, indexed for the per-host checks; its read and pod CIDR problems go to failures."""
    node_objects, node_problem, _found = _resources(nodes, "Nodes")
    cilium_objects, cilium_problem, cilium_found = _resources(cilium_nodes, "CiliumNodes")
    for problem in (node_problem, cilium_problem):
        if problem:
            failures.append({"host": "cluster", "check": "cluster_read", "detail": problem, "fix": FIX["cluster_read"]})
    cluster_readable = not node_problem

    internal_ips = pod_routes.node_internal_ips(node_objects)
    by_ip = {}
    for node in node_objects:
        name = (node.get("metadata") or {}).get("name")
        if internal_ips.get(name) and internal_ips[name] not in by_ip:
            by_ip[internal_ips[name]] = node
    plan = pod_routes.plan_routes(cilium_objects, internal_ips, remote_pod_cidrs or [], "internal_ip")
    if remote_pod_cidrs and cluster_readable and not cilium_problem:
        for problem in plan["problems"]:
            if "has no pod CIDR" not in problem:  # reported per host
                failures.append({"host": "cluster", "check": "pod_cidrs", "detail": problem, "fix": FIX["pod_cidrs"]})
    return {"readable": cluster_readable, "by_ip": by_ip, "cilium_problem": cilium_problem,
            "cilium_found": cilium_found, "plan": plan,
            "cilium_by_name": dict(((item.get("metadata") or {}).get("name"), item) for item in cilium_objects)}


def _read_gateways(gateway_routes, failures):
    """The VPN gateways' route tables; the unreadable ones go to failures."""
    tables = _gateway_tables(gateway_routes)
    for gateway, (_routes, problem) in sorted(tables.items()):
        if problem:
            failures.append({"host": gateway, "check": "pod_route", "detail": "route table of %s: %s" % (gateway, problem),
                             "fix": FIX["gateway_read"]})
    return tables


def _new_row(name, item):
    return {"host": name, "ip": (item or {}).get("ip"), "node": None, "ready": None, "ready_detail": "",
            "cilium_node": None, "pod_cidrs": [], "reaches_vpc": None, "vpc_detail": "",
            "answers_from_cluster": None, "probe_detail": "", "pod_route": None, "pod_route_detail": "", "failed": []}


def _check_node(row, fail, cluster):
    """The host's Node (by InternalIP) and its Ready condition."""
    if not cluster["readable"]:
        return
    node = cluster["by_ip"].get(row["ip"])
    if node is None:
        row["node"], row["ready"] = "", False
        fail("node", "no Node has InternalIP %s" % row["ip"])
        return
    row["node"] = (node.get("metadata") or {}).get("name")
    ready = _conditions(node).get("Ready") or {}
    row["ready"] = ready.get("status") == "True"
    row["ready_detail"] = " ".join(_text(ready.get(key)) for key in ("reason", "message") if ready.get(key))
    if not row["ready"]:
        fail("ready", "Node %s is not Ready (%s)" % (row["node"], row["ready_detail"] or ready.get("status") or
                                                     "no Ready condition"))


def _check_cilium_node(row, fail, cluster):
    """The CiliumNode of the host's Node and its pod CIDRs."""
    if not row["node"] or cluster["cilium_problem"]:
        return
    cilium = cluster["cilium_by_name"].get(row["node"])
    row["pod_cidrs"] = list((((cilium or {}).get("spec") or {}).get("ipam") or {}).get("podCIDRs") or [])
    row["cilium_node"] = bool(cilium) and bool(row["pod_cidrs"])
    if not row["cilium_node"]:
        fail("cilium_node", ("no CiliumNode %s (the CiliumNode CRD is not installed)" % row["node"])
             if not cluster["cilium_found"] else ("no CiliumNode %s" % row["node"]) if not cilium
             else "CiliumNode %s has no pod CIDR yet" % row["node"])


def _check_probes(row, item, fail, probe_method):
    """The host towards the VPC, and the cluster side towards the host."""
    name = row["host"]
    row["reaches_vpc"], row["vpc_detail"] = probe_outcome(item.get("vpc"))
    if row["reaches_vpc"] is False:
        fail("reaches_vpc", "%s does not reach the VPC: %s" % (name, row["vpc_detail"]))
    if probe_method != "none":
        row["answers_from_cluster"], row["probe_detail"] = probe_outcome(item.get("probe"))
        if row["answers_from_cluster"] is False:
            fail("answers_from_cluster", "%s (%s) does not answer from the cluster side (%s probe): %s"
                 % (name, row["ip"], probe_method, row["probe_detail"]))
    else:
        row["probe_detail"] = "not checked (hybrid_validate_probe_method=none)"


def _check_gateway_routes(row, fail, gateway, routes):
    """(route present for every pod CIDR of the host, details) in one gateway's route table."""
    ip, present, details = row["ip"], True, []
    for cidr in row["pod_cidrs"]:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        hops = [via for dest, via in routes if dest == network]
        if ip in hops:
            details.append("%s: %s via %s" % (gateway, cidr, ip))
        else:
            present = False
            wrong = "via %s" % ", ".join(hop or "a device" for hop in hops) if hops else "missing"
            details.append("%s: %s %s" % (gateway, cidr, wrong))
            fail("pod_route", "%s has no route %s via %s (%s)" % (gateway, cidr, ip, wrong),
                 FIX["pod_route"].format(cidr=cidr, ip=ip, gateway=gateway))
    return present, details


def _check_pod_route(row, fail, tables):
    """The routes to the host's pod CIDRs on each VPN gateway, or a hand check when there is none."""
    if not (row["pod_cidrs"] and row["ip"]):
        return
    if not tables:
        row["pod_route"], row["pod_route_detail"] = "hand check", "no Linux VPN gateway in the inventory"
        return
    missing, details = False, []
    for gateway, (routes, problem) in sorted(tables.items()):
        if problem:
            missing = True
            details.append("%s unreadable" % gateway)
            continue
        present, found = _check_gateway_routes(row, fail, gateway, routes)
        missing = missing or not present
        details.extend(found)
    row["pod_route"] = "missing" if missing else "present"
    row["pod_route_detail"] = "; ".join(details)


def _host_row(name, item, failures, cluster, tables, probe_method):
    """The row of one inventory host, its failed checks appended to failures in the order of the columns."""
    row = _new_row(name, item)
    fail = _Failer(failures, row)
    if item is None:
        fail("no_result", "no result for %s" % name)
        return row
    _check_node(row, fail, cluster)
    _check_cilium_node(row, fail, cluster)
    _check_probes(row, item, fail, probe_method)
    _check_pod_route(row, fail, tables)
    return row


def validation_results(hosts, play_hosts=None, nodes=None, cilium_nodes=None, vpn=None, gateway_routes=None,
                       remote_pod_cidrs=None, probe_method="pod"):
    """One row per inventory host and every failed check; see validation_results.yml."""
    _check_arguments(hosts, probe_method)
    tunnels, tunnel_failures = _tunnels(vpn)
    failures = list(tunnel_failures)
    cluster = _read_cluster(nodes, cilium_nodes, remote_pod_cidrs, failures)
    tables = _read_gateways(gateway_routes, failures)

    given = dict((item.get("name"), item) for item in hosts if isinstance(item, dict) and item.get("name"))
    names = list(play_hosts) if play_hosts else sorted(given)
    rows = [_host_row(name, given.get(name), failures, cluster, tables, probe_method)
            for name in sorted(set(names) | set(given))]

    route_table = [route for route in cluster["plan"]["routes"] if route["next_hop"] in set(row["ip"] for row in rows)]
    summary = {"hosts": len(rows), "hosts_ok": len([row for row in rows if not row["failed"]]),
               "failed_checks": len(failures)}
    return {"ok": not failures, "probe_method": probe_method, "tunnels": tunnels, "hosts": rows, "failures": failures,
            "gateways": sorted(tables), "route_table": route_table, "summary": summary}


def _mark(value, yes="yes", no="NO", unknown="-"):
    return unknown if value is None else (yes if value else no)


COLUMNS = (("HOST", "host"), ("NODE", "node"), ("READY", "ready"), ("CILIUMNODE", "cilium_node"),
           ("POD CIDR", "pod_cidrs"), ("REACHES VPC", "reaches_vpc"), ("FROM CLUSTER", "answers_from_cluster"),
           ("POD ROUTE", "pod_route"))


MD_TITLES = ("Host", "Node", "Ready", "CiliumNode", "Pod CIDR", "Reaches VPC", "Answers from cluster", "Pod route")


def _cells(row):
    cells = []
    for _title, key in COLUMNS:
        value = row.get(key)
        if key in ("host",):
            cells.append(_text(value))
        elif key == "node":
            cells.append(_text(value) or ("MISSING" if value == "" else "-"))
        elif key == "pod_cidrs":
            cells.append(",".join(value or []) or "-")
        elif key == "pod_route":
            cells.append({"present": "yes", "missing": "NO", "hand check": "hand check"}.get(value, "-"))
        else:
            cells.append(_mark(value))
    return cells


def _table(results):
    rows = [[title for title, _key in COLUMNS]] + [_cells(row) for row in results["hosts"]]
    widths = [max(len(row[col]) for row in rows) for col in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[col]) for col, cell in enumerate(row)).rstrip() for row in rows]
    lines.append("VPN tunnels: %s" % _tunnel_line(results))
    lines.append("Result: %s (%d of %d hosts pass, %d failed check(s))"
                 % ("PASSED" if results["ok"] else "FAILED", results["summary"]["hosts_ok"], results["summary"]["hosts"],
                    results["summary"]["failed_checks"]))
    return "\n".join(lines)


def _tunnel_line(results):
    tunnels = results["tunnels"]
    if not tunnels.get("checked"):
        return tunnels.get("detail")
    return ("OK " if tunnels.get("ok") else "FAILED ") + _text(tunnels.get("detail"))


def _md(value):
    return _text(value).replace("|", "\\|").replace("\n", " ")


def _markdown(results, title, generated):
    out = ["# %s" % title, ""]
    if generated:
        out += ["Generated %s." % generated, ""]
    out += ["**Result: %s** (%d of %d hosts pass, %d failed check(s)); cluster-side probe: `%s`."
            % ("PASSED" if results["ok"] else "FAILED", results["summary"]["hosts_ok"], results["summary"]["hosts"],
               results["summary"]["failed_checks"], results["probe_method"]), "",
            "## VPN tunnels", "", _md(_tunnel_line(results)), ""]
    if results["tunnels"].get("tunnels"):
        out += ["| Outside IP | Status | Message |", "| --- | --- | --- |"]
        out += ["| %s | %s | %s |" % (_md(item.get("outside_ip")), _md(item.get("status")), _md(item.get("status_message")))
                for item in results["tunnels"]["tunnels"]]
        out.append("")
    out += ["## Hosts", "", "| %s |" % " | ".join(MD_TITLES),
            "|%s" % (" --- |" * len(COLUMNS))]
    out += ["| %s |" % " | ".join(_md(cell) for cell in _cells(row)) for row in results["hosts"]]
    out += ["", "### Details", ""]
    for row in results["hosts"]:
        out.append("- **%s** (%s): reaches VPC: %s; from cluster: %s; pod route: %s%s"
                   % (_md(row["host"]), _md(row["ip"]), _md(row["vpc_detail"] or "-"), _md(row["probe_detail"] or "-"),
                      _md(row["pod_route_detail"] or "-"),
                      ("; Ready: %s" % _md(row["ready_detail"])) if row["ready_detail"] else ""))
    out += ["", "## Failed checks", ""]
    if results["failures"]:
        out += ["| Host | Check | Problem | Likely fix |", "| --- | --- | --- | --- |"]
        out += ["| %s | %s | %s | %s |" % (_md(item["host"]), _md(item["check"]), _md(item["detail"]), _md(item["fix"]))
                for item in results["failures"]]
    else:
        out.append("None.")
    if results["route_table"] and any(row["pod_route"] == "hand check" for row in results["hosts"]):
        out += ["", "## Pod CIDR routes to check by hand", "",
                "No Linux VPN gateway is in the inventory (group `vpn_gateways`): the site's router needs these routes.",
                "", "| Destination | Next hop | Node |", "| --- | --- | --- |"]
        out += ["| %s | %s | %s |" % (_md(item["destination"]), _md(item["next_hop"]), _md(item["node"]))
                for item in results["route_table"]]
    return "\n".join(out) + "\n"


def _failures(results):
    if not results["failures"]:
        return "All checks passed."
    lines = ["%d check(s) failed:" % len(results["failures"])]
    lines += ["- [%s] %s: %s. Likely fix: %s." % (item["host"], item["check"], item["detail"], item["fix"])
              for item in results["failures"]]
    return "\n".join(lines)


def validation_render(results, format="table", title="EKS hybrid nodes validation", generated=None):  # pylint: disable=redefined-builtin
    """Render validation_results' output as a text table, Markdown, JSON or the list of failed checks."""
    if format not in FORMATS:
        raise AnsibleFilterError("validation_render: format must be one of %s, not %r" % (", ".join(FORMATS), format))
    if not isinstance(results, dict) or "hosts" not in results or "failures" not in results:
        raise AnsibleFilterError("validation_render: the input must be what validation_results returns")
    if format == "json":
        data = dict(results)
        if generated:
            data["generated"] = generated
        return json.dumps(data, indent=2, sort_keys=True)
    if format == "markdown":
        return _markdown(results, title, generated)
    if format == "failures":
        return _failures(results)
    return _table(results)


class FilterModule:
    """hybridnodes.eks validation filters."""

    def filters(self):
        return {"validation_results": validation_results, "validation_render": validation_render}
