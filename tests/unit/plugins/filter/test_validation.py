# -*- coding: utf-8 -*-
"""validation_results and validation_render: the per-host rows, the failed checks with their fixes, the renderings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.filter.validation import FilterModule, parse_routes, probe_outcome

FILTERS = FilterModule().filters()
results_of = FILTERS["validation_results"]
render = FILTERS["validation_render"]

VPN = "vpn-0123456789abcdef0"


def node(name, ip, ready="True", reason="KubeletReady"):
    return {"metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": ready, "reason": reason}]}}


def cilium(name, *cidrs):
    return {"metadata": {"name": name}, "spec": {"ipam": {"podCIDRs": list(cidrs)}}}


def k8s_info(*resources, **extra):
    result = {"changed": False, "failed": False, "api_found": True, "resources": list(resources)}
    result.update(extra)
    return result


def vpn(*statuses, **health):
    tunnels = [{"outside_ip": "203.0.113.1%d" % index, "status": status, "status_message": ""}
               for index, status in enumerate(statuses)]
    report = {"vpn_connection_id": VPN, "state": "available", "tunnels": tunnels,
              "tunnels_up": len([s for s in statuses if s == "UP"]), "problems": []}
    report.update(health)
    return {"changed": False, "health": report}


REACHED = {"changed": False, "answered": True,
           "targets": [{"target": "10.100.0.10", "answered": True, "detail": "2/2 echo replies"}]}
NOT_REACHED = {"changed": False, "answered": False,
               "targets": [{"target": "10.100.0.10", "answered": False, "detail": "no echo reply (0/2)"}]}
PING_OK = {"changed": False, "rc": 0, "stdout": "PING ...\n2 packets transmitted, 2 received, 0% packet loss\nrtt ...",
           "stderr": ""}
PING_LOST = {"changed": False, "rc": 1, "stdout": "2 packets transmitted, 0 received, 100% packet loss", "stderr": ""}
GATEWAY = {"results": [{"item": "vpngw", "rc": 0, "changed": False, "stdout": (
    "default via 10.200.0.1 dev eth0 proto static\n"
    "10.100.0.0/24 dev eth1 proto kernel scope link src 10.100.0.1\n"
    "192.168.0.0/25 via 10.200.0.11 dev eth0\n"
    "192.168.0.128/25 via 10.200.0.12 dev eth0 proto static\n")}]}


def hosts(vpc2=None, probe2=None):
    vpc2 = REACHED if vpc2 is None else vpc2
    probe2 = PING_OK if probe2 is None else probe2
    return [{"name": "edge01", "ip": "10.200.0.11", "vpc": REACHED, "probe": PING_OK},
            {"name": "edge02", "ip": "10.200.0.12", "vpc": vpc2, "probe": probe2}]


def healthy(**overrides):
    args = dict(play_hosts=["edge01", "edge02"],
                nodes=k8s_info(node("mi-01", "10.200.0.11"), node("mi-02", "10.200.0.12"), node("cloud", "10.100.0.30")),
                cilium_nodes=k8s_info(cilium("mi-01", "192.168.0.0/25"), cilium("mi-02", "192.168.0.128/25")),
                vpn=vpn("UP", "UP"), gateway_routes=GATEWAY, remote_pod_cidrs=["192.168.0.0/16"],
                probe_method="command")
    args.update(overrides)
    return args


def checks(results):
    return [(item["host"], item["check"]) for item in results["failures"]]


def test_all_checks_pass_with_one_row_per_host():
    results = results_of(hosts(), **healthy())
    assert results["ok"] is True and results["failures"] == []
    assert [row["host"] for row in results["hosts"]] == ["edge01", "edge02"]
    row = results["hosts"][1]
    assert row["node"] == "mi-02" and row["ready"] is True and row["cilium_node"] is True
    assert row["pod_cidrs"] == ["192.168.0.128/25"] and row["pod_route"] == "present"
    assert row["reaches_vpc"] is True and row["answers_from_cluster"] is True
    assert "2 packets transmitted, 2 received" in row["probe_detail"]
    assert results["tunnels"]["ok"] is True and "2/2 tunnels UP" in results["tunnels"]["detail"]
    assert results["summary"] == {"hosts": 2, "hosts_ok": 2, "failed_checks": 0}
    # The route table holds the inventory's nodes only (not the cloud node).
    assert results["route_table"] == [{"destination": "192.168.0.0/25", "next_hop": "10.200.0.11", "node": "mi-01"},
                                      {"destination": "192.168.0.128/25", "next_hop": "10.200.0.12", "node": "mi-02"}]


def test_a_down_tunnel_fails_naming_the_tunnel_and_the_fix():
    results = results_of(hosts(), **healthy(vpn=vpn("UP", "DOWN")))
    assert results["ok"] is False
    assert checks(results) == [("%s tunnel 203.0.113.11" % VPN, "tunnel")]
    assert "IPsec" in results["failures"][0]["fix"]
    assert "1/2 tunnels UP" in results["tunnels"]["detail"]
    assert all(not row["failed"] for row in results["hosts"])


def test_a_missing_pod_route_fails_for_that_host_with_the_command_to_fix_it():
    table = {"vpngw": "192.168.0.0/25 via 10.200.0.11 dev eth0\n192.168.0.128/25 via 10.200.0.99 dev eth0\n"}
    results = results_of(hosts(), **healthy(gateway_routes=table))
    assert checks(results) == [("edge02", "pod_route")]
    failure = results["failures"][0]
    assert "via 10.200.0.99" in failure["detail"]
    assert "ip route replace 192.168.0.128/25 via 10.200.0.12" in failure["fix"] and "vpngw" in failure["fix"]
    assert results["hosts"][1]["pod_route"] == "missing" and results["hosts"][0]["pod_route"] == "present"


def test_without_a_linux_gateway_the_routes_are_left_for_a_hand_check():
    results = results_of(hosts(), **healthy(gateway_routes={"results": [{"item": "x", "skipped": True}]}))
    assert results["ok"] is True
    assert [row["pod_route"] for row in results["hosts"]] == ["hand check", "hand check"]
    markdown = render(results, format="markdown")
    assert "## Pod CIDR routes to check by hand" in markdown
    assert "| 192.168.0.128/25 | 10.200.0.12 | mi-02 |" in markdown


def test_an_unreadable_gateway_is_a_failure():
    unreachable = {"results": [{"item": "vpngw", "unreachable": True, "msg": "ssh: connect to host timed out"}]}
    results = results_of(hosts(), **healthy(gateway_routes=unreachable))
    assert ("vpngw", "pod_route") in checks(results)
    assert all(row["pod_route"] == "missing" for row in results["hosts"])


def test_node_missing_not_ready_and_no_ciliumnode():
    nodes = k8s_info(node("mi-02", "10.200.0.12", ready="False", reason="KubeletNotReady"))
    results = results_of(hosts(), **healthy(nodes=nodes, cilium_nodes=k8s_info()))
    assert checks(results) == [("edge01", "node"), ("edge02", "ready"), ("edge02", "cilium_node")]
    assert "10.200.0.11" in results["failures"][0]["detail"] and "join.yml" in results["failures"][0]["fix"]
    assert "KubeletNotReady" in results["failures"][1]["detail"]
    assert "cilium.yml" in results["failures"][2]["fix"]
    assert results["hosts"][0]["node"] == "" and results["hosts"][0]["cilium_node"] is None


def test_cilium_not_installed_is_named():
    results = results_of(hosts(), **healthy(cilium_nodes=k8s_info(api_found=False)))
    assert {check for _host, check in checks(results)} == {"cilium_node"}
    assert "CRD is not installed" in results["failures"][0]["detail"]


def test_probe_failures_and_host_without_result():
    results = results_of(hosts(vpc2=NOT_REACHED, probe2=PING_LOST), **healthy(play_hosts=["edge01", "edge02", "edge03"]))
    assert checks(results) == [("edge02", "reaches_vpc"), ("edge02", "answers_from_cluster"), ("edge03", "no_result")]
    assert "no echo reply" in results["failures"][0]["detail"]
    assert "100% packet loss" in results["failures"][1]["detail"]


@pytest.mark.parametrize("failed", [True, False])
def test_cluster_read_failure_is_reported_once_not_per_host(failed):
    # failed=False: the task's failed_when: false kept the run going; the message remains.
    results = results_of(hosts(), **healthy(nodes={"failed": failed, "msg": "Unauthorized"}))
    assert checks(results) == [("cluster", "cluster_read")]
    assert "Unauthorized" in results["failures"][0]["detail"]
    assert results["hosts"][0]["node"] is None


def test_probe_method_none_is_not_checked():
    results = results_of(hosts(probe2={}), **healthy(probe_method="none"))
    assert results["ok"] is True and results["hosts"][1]["answers_from_cluster"] is None


def test_no_vpn_connection_is_not_checked():
    results = results_of(hosts(), **healthy(vpn={"skipped": True, "changed": False}))
    assert results["ok"] is True and results["tunnels"]["checked"] is False


def test_pod_cidr_outside_the_pool_is_a_cluster_failure():
    results = results_of(hosts(), **healthy(remote_pod_cidrs=["10.201.0.0/16"]))
    assert ("cluster", "pod_cidrs") in checks(results)


@pytest.mark.parametrize("result, expected", [
    (REACHED, True), (NOT_REACHED, False), (PING_OK, True), (PING_LOST, False),
    ({"return_code": 0, "stdout": "3 packets transmitted, 3 packets received"}, True),
    ({"rc": 2, "failed": True, "msg": "[Errno 2] No such file or directory: b'ip'"}, False),
    # failed_when: false turns `failed` off; the message of the module still tells
    ({"rc": 2, "failed": False, "msg": "[Errno 2] No such file or directory: b'ip'"}, False),
    ({"failed": False, "msg": "Failed to execute on pod: pod does not have a host assigned"}, False),
    ({"unreachable": True, "msg": "ssh timed out"}, False),
    ({"skipped": True, "skip_reason": "Conditional result was False"}, None),
    ({}, None),
])
def test_probe_outcome_of_every_kind(result, expected):
    assert probe_outcome(result)[0] is expected


def test_parse_routes_normalises_host_routes_and_types():
    routes = parse_routes("unreachable 10.100.0.0/16\n10.9.9.9 via 10.200.0.1 dev eth0\n"
                          "default via 10.200.0.1 dev eth0\n192.168.0.0/25 dev cilium_host scope link\n")
    expected = [("10.100.0.0/16", None), ("10.9.9.9/32", "10.200.0.1"), ("192.168.0.0/25", None)]
    assert [(str(net), via) for net, via in routes] == expected


def test_table_has_one_line_per_host_then_tunnels_and_result():
    text = render(results_of(hosts(), **healthy(vpn=vpn("UP", "DOWN"))))
    lines = text.splitlines()
    assert lines[0].split() == ["HOST", "NODE", "READY", "CILIUMNODE", "POD", "CIDR", "REACHES", "VPC", "FROM",
                                "CLUSTER", "POD", "ROUTE"]
    assert lines[1].split() == ["edge01", "mi-01", "yes", "yes", "192.168.0.0/25", "yes", "yes", "yes"]
    assert lines[3].startswith("VPN tunnels: FAILED %s: 1/2 tunnels UP" % VPN)
    assert lines[4].startswith("Result: FAILED (2 of 2 hosts pass, 1 failed check(s))")


def test_json_and_failures_renderings():
    results = results_of(hosts(vpc2=NOT_REACHED), **healthy())
    data = json.loads(render(results, format="json", generated="2026-01-01T00:00:00Z"))
    assert data["generated"] == "2026-01-01T00:00:00Z" and data["ok"] is False
    assert [row["host"] for row in data["hosts"]] == ["edge01", "edge02"]
    text = render(results, format="failures")
    assert text.startswith("1 check(s) failed:") and "[edge02] reaches_vpc" in text and "Likely fix: route the VPC" in text
    assert render(results_of(hosts(), **healthy()), format="failures") == "All checks passed."


def test_markdown_escapes_pipes_and_lists_failures():
    results = results_of(hosts(probe2={"rc": 1, "stdout": "a | b"}), **healthy())
    markdown = render(results, format="markdown", generated="now")
    assert "a \\| b" in markdown and "| edge02 | answers_from_cluster |" in markdown
    assert "| Host | Node | Ready | CiliumNode | Pod CIDR | Reaches VPC | Answers from cluster | Pod route |" in markdown


def test_bad_inputs_are_named():
    with pytest.raises(AnsibleFilterError, match="probe_method"):
        results_of([], probe_method="ssh")
    with pytest.raises(AnsibleFilterError, match="list of per-host results"):
        results_of({"name": "edge01"})
    with pytest.raises(AnsibleFilterError, match="format must be one of"):
        render(results_of([]), format="html")
    with pytest.raises(AnsibleFilterError, match="what validation_results returns"):
        render({"hosts": []})
