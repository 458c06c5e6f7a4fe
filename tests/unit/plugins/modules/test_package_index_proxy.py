# -*- coding: utf-8 -*-
"""package_index through main() with a proxy that needs credentials: the proxy reaches apt-get's environment (the
run_command double records it) and no form of its password reaches what the module returns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import package_index as pi
from ansible_collections.hybridnodes.eks.plugins.modules import package_index as module_under_test

PASSWORD = "Idx%2Fpass-91c2"
PROXY = "http://mirror-user:%s@proxy.example.com:3128" % PASSWORD


@pytest.fixture
def apt(tmp_path, monkeypatch):
    """A host with apt-get only, an index never refreshed, no lock held; apt-get is a double that records its
    environment and fails printing the proxy back, as apt does on a proxy that refuses the credentials."""
    calls = []

    def run_command(self, args, environ_update=None, **_kwargs):
        calls.append((list(args), dict(environ_update or {})))
        return 100, "", "E: Failed to fetch via %s: 407 Proxy Authentication Required (user mirror-user:%s, %s)\n" % (
            PROXY, PASSWORD, "Idx/pass-91c2")

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(pi, "STAMP", str(tmp_path / "stamp"))
    monkeypatch.setitem(pi.AGE_SOURCES, "apt", ())
    monkeypatch.setattr(module_under_test, "held_lock", lambda manager: None)
    return calls


def run(capsys, **options):
    with patch_module_args(dict(options, _ansible_check_mode=False)):
        with pytest.raises(SystemExit):
            module_under_test.main()
    return json.loads(capsys.readouterr().out)


def test_the_proxy_reaches_the_refresh_and_its_password_never_the_result(capsys, apt):
    result = run(capsys, proxy=PROXY)
    ((argv, environment),) = apt
    assert argv == ["/usr/bin/apt-get", "-q", "-y", "update"]
    assert environment == {"http_proxy": PROXY, "https_proxy": PROXY, "DEBIAN_FRONTEND": "noninteractive"}
    assert result["failed"] is True and "Refreshing the apt package index failed (rc=100)" in result["msg"]
    text = json.dumps(result)
    for secret in (PASSWORD, "Idx/pass-91c2", PROXY):
        assert secret not in text, secret
    assert result["invocation"]["module_args"]["proxy"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_without_a_proxy_the_refresh_gets_no_proxy_variables(capsys, apt):
    run(capsys)
    assert apt[0][1] == {"DEBIAN_FRONTEND": "noninteractive"}


def test_a_proxy_that_is_not_a_url_is_refused_before_the_refresh(capsys, apt):
    result = run(capsys, proxy="ftp://mirror-user:%s@proxy" % PASSWORD)
    assert result["failed"] is True and "proxy must start with http:// or https://" in result["msg"]
    assert apt == [] and PASSWORD not in json.dumps(result)
