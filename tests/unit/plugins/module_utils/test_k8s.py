# -*- coding: utf-8 -*-
"""The Kubernetes helpers: paginated listing and the target named in errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.k8s import api as k8s


class Page:
    def __init__(self, body):
        self.body = body

    def to_dict(self):
        return self.body


class PagedServer:
    """The list contract of the Kubernetes API (limit/continue), as kubernetes.core's K8SClient exposes it."""

    def __init__(self, names, endless=False):
        self.names = names
        self.endless = endless
        self.requests = []

    def resource(self, kind, api_version):
        return (api_version, kind)

    def get(self, resource, **params):
        self.requests.append(dict(params))
        start = int(params.get("_continue") or 0)
        end = start + params["limit"]
        items = [{"metadata": {"name": name}} for name in self.names[start:end]]
        token = str(end) if end < len(self.names) or self.endless else None
        return Page({"items": items, "metadata": {"continue": token}})


def test_list_all_follows_continue_tokens():
    server = PagedServer(["node%03d" % index for index in range(1201)])
    items = k8s.list_all(server, "cilium.io/v2", "CiliumNode", label_selector="a=b", page_size=500)
    assert len(items) == 1201
    assert len(server.requests) == 3
    assert server.requests[0] == {"limit": 500, "label_selector": "a=b"}
    assert server.requests[2]["_continue"] == "1000"


def test_list_all_is_bounded():
    server = PagedServer(["n"], endless=True)
    with pytest.raises(RuntimeError, match="more than 4 pages"):
        k8s.list_all(server, "v1", "Node", page_size=1, max_pages=4)


@pytest.mark.parametrize("params,expected", [
    ({"kubeconfig": "/tmp/kc", "context": "lab"}, "kubeconfig=/tmp/kc, context=lab"),
    ({"host": "https://eks:443"}, "host=https://eks:443"),
    ({"kubeconfig": {"apiVersion": "v1"}}, "kubeconfig=(inline)"),
    ({}, "the default kubeconfig"),
])
def test_describe_target(params, expected):
    assert k8s.describe_target(params).startswith(expected)


def test_argument_spec_keeps_kubernetes_core_auth_and_secrets_hidden():
    spec = k8s.k8s_argument_spec({"name": {"type": "str"}})
    assert spec["api_key"]["no_log"] is True
    assert spec["kubeconfig"]["no_log"] is True
    assert "name" in spec and "context" in spec
