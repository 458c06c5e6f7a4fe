# -*- coding: utf-8 -*-
"""The proxy of the edge hosts: URLs that could inject a directive are refused, one NO_PROXY list for all."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import proxy


@pytest.mark.parametrize("url", ["", "http://proxy.example.com:3128", "https://10.0.0.5", "http://[fd00::1]:8080",
                                 "http://user:p%40ss@proxy.example.com:3128/", "http://proxy"])
def test_proxy_urls_that_may_be_written(url):
    assert proxy.proxy_problems(url) == []


@pytest.mark.parametrize("url, fragment", [
    ('http://proxy:3128";\nAcquire::http::Pipeline-Depth "0', "white space, a quote"),
    ("http://proxy:3128\nExecStartPre=/bin/sh", "white space"),
    ("http://u:pa ss@proxy:3128", "white space"),
    ("http://proxy:3128;rm", "';'"),
    ("http://$(id)@proxy", "'$'"),
    ("socks5://proxy:1080", "must start with http:// or https://"),
    ("proxy.corp.internal:3128", "must start with http:// or https://"),
    ("http://:3128", "names no proxy host"),
    ("http://proxy:99999", "port is not a number"),
    ("http://proxy:3128/path?q=1", "path, query or fragment"),
])
def test_proxy_urls_refused_without_quoting_them(url, fragment):
    problems = proxy.proxy_problems(url, name="hybrid_proxy")
    assert problems and any(fragment in p for p in problems), problems
    assert all("hybrid_proxy" in p and url not in p for p in problems)


def test_credentials_are_detected():
    assert proxy.has_credentials("http://user:secret@proxy:3128")
    assert proxy.has_credentials("http://user@proxy:3128")
    assert not proxy.has_credentials("http://proxy:3128") and not proxy.has_credentials("")


def test_one_no_proxy_list_in_order_without_duplicates():
    got = proxy.no_proxy(["10.100.0.0/16"], "172.20.0.0/16", ["10.200.0.0/24"], ["192.168.0.0/16"],
                         extra=["registry.internal", "10.100.0.0/16"])
    assert got == ["localhost", "127.0.0.1", "169.254.169.254", ".svc", ".cluster.local", "10.100.0.0/16",
                   "172.20.0.0/16", "10.200.0.0/24", "192.168.0.0/16", "registry.internal"]
    assert proxy.no_proxy([])[:3] == ["localhost", "127.0.0.1", "169.254.169.254"]


def test_proxy_environment_upper_and_lower_case_equal_and_empty_without_a_proxy():
    url = "http://u:p@proxy:3128"
    assert proxy.proxy_environment(url, ["localhost", "10.0.0.0/16"]) == {
        "HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
        "NO_PROXY": "localhost,10.0.0.0/16", "no_proxy": "localhost,10.0.0.0/16"}
    assert proxy.proxy_environment(url, "a,b")["no_proxy"] == "a,b"
    assert proxy.proxy_environment(url, names=("https_proxy",), no_proxy_names=()) == {"https_proxy": url}
    assert proxy.proxy_environment("", ["localhost"]) == {} and proxy.proxy_environment(None) == {}


@pytest.mark.parametrize("url, secrets", [
    ("http://user:p%40ss@proxy:3128", {"p%40ss", "p@ss", "user:p%40ss", "user:p@ss"}),
    ("http://user:pw@proxy", {"pw", "user:pw"}),
    ("http://user@proxy:3128", set()),
    ("http://proxy:3128", set()),
    ("", set()),
    (None, set()),
])
def test_secret_parts_are_the_password_in_every_form(url, secrets):
    assert proxy.secret_parts(url) == secrets
