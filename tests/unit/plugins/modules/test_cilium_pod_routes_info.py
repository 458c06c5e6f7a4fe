# -*- coding: utf-8 -*-
"""cilium_pod_routes_info through its main(), with the Kubernetes client replaced at its boundary by a server
that keeps the list contract (limit/continue) of kubernetes.core's K8SClient; the real API server is exercised
by tests/lab/tests/collection/test_cilium_pod_routes_apiserver.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.module_utils.k8s import api as k8s
from ansible_collections.hybridnodes.eks.plugins.modules import cilium_pod_routes_info


class Page:
    def __init__(self, body):
        self.body = body

    def to_dict(self):
        return self.body


class Server:
    def __init__(self, objects):
        self.objects = objects  # (api_version, kind) -> [object]
        self.requests = []

    def resource(self, kind, api_version):
        if (api_version, kind) not in self.objects:
            raise LookupError("the server could not find the requested resource %s/%s" % (api_version, kind))
        return (api_version, kind)

    def get(self, resource, **params):
        self.requests.append((resource[1], dict(params)))
        items = self.objects[resource]
        if params.get("label_selector"):
            key, value = params["label_selector"].split("=", 1)
            items = [item for item in items if item["metadata"].get("labels", {}).get(key) == value]
        start = int(params.get("_continue") or 0)
        end = start + params["limit"]
        return Page({"items": items[start:end], "metadata": {"continue": str(end) if end < len(items) else None}})


def cluster(count=5):
    nodes = [{"metadata": {"name": "edge%02d" % i, "labels": {"eks.amazonaws.com/compute-type": "hybrid" if i else "ec2"}},
              "status": {"addresses": [{"type": "InternalIP", "address": "10.200.0.%d" % (10 + i)}]}} for i in range(count)]
    cilium = [{"metadata": {"name": "edge%02d" % i}, "spec": {"ipam": {"podCIDRs": ["10.201.%d.0/25" % i]}}}
              for i in range(count)]
    return Server({("v1", "Node"): nodes, ("cilium.io/v2", "CiliumNode"): cilium})


def run(monkeypatch, capsys, server, **options):
    monkeypatch.setattr(k8s, "k8s_client", lambda module: server)
    args = dict({"remote_pod_cidrs": ["10.201.0.0/16"]}, **options)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            cilium_pod_routes_info.main()
    return json.loads(capsys.readouterr().out)


def test_routes_over_several_pages(monkeypatch, capsys):
    server = cluster()
    result = run(monkeypatch, capsys, server, page_size=2)
    assert result["changed"] is False and result["problems"] == [] and result["nodes"] == 5
    assert result["routes"][4] == {"destination": "10.201.4.0/25", "next_hop": "10.200.0.14", "node": "edge04"}
    assert [kind for kind, _params in server.requests] == ["CiliumNode"] * 3 + ["Node"] * 3


def test_label_selector_picks_nodes_by_their_node_object(monkeypatch, capsys):
    result = run(monkeypatch, capsys, cluster(), label_selector="eks.amazonaws.com/compute-type=hybrid")
    assert [route["node"] for route in result["routes"]] == ["edge01", "edge02", "edge03", "edge04"]


def test_problems_fail_unless_told_not_to(monkeypatch, capsys):
    result = run(monkeypatch, capsys, cluster(), remote_pod_cidrs=["10.202.0.0/16"])
    assert result["failed"] is True and result["msg"].startswith("5 problem(s)")
    result = run(monkeypatch, capsys, cluster(), remote_pod_cidrs=["10.202.0.0/16"], fail_on_problems=False)
    assert not result.get("failed") and len(result["problems"]) == 5 and len(result["routes"]) == 5


def test_missing_crd_names_the_fix(monkeypatch, capsys):
    server = Server({("v1", "Node"): []})
    result = run(monkeypatch, capsys, server)
    assert result["failed"] is True
    assert "Cannot list the CiliumNodes (cilium.io/v2)" in result["msg"] and "Check that Cilium is installed" in result["msg"]


def test_check_mode_on_a_cluster_without_cilium_predicts_no_route(monkeypatch, capsys):
    server = Server({("v1", "Node"): []})
    result = run(monkeypatch, capsys, server, _ansible_check_mode=True)
    assert result.get("failed") is not True, result
    assert result["routes"] == [] and result["cilium_installed"] is False
    assert "CiliumNode CRD is not installed" in json.dumps(result["warnings"])


def test_check_mode_still_fails_on_other_errors(monkeypatch, capsys):
    class Denied(Server):
        def get(self, resource, **params):
            raise RuntimeError("Forbidden: ciliumnodes.cilium.io is forbidden")
    result = run(monkeypatch, capsys, Denied(cluster().objects), _ansible_check_mode=True)
    assert result["failed"] is True and "Forbidden" in result["msg"]
