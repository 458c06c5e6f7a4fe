# -*- coding: utf-8 -*-
"""hybrid_preflight through its main(), on the machine running the tests (it only reads), with a real listener."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import hybrid_preflight


def run(capsys, **options):
    args = dict(remote_node_cidrs=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], allow_unsupported_os=True,
                skip_network_checks=True)
    args.update(options)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            hybrid_preflight.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_taken_port_names_this_process(capsys, listener):
    result = run(capsys, ports=["tcp/%d" % listener], nic="lo", fail_on_error=False)
    assert result["changed"] is False
    report = result["report"]
    check = next(c for c in report["checks"] if c["name"] == "port:tcp/%d" % listener)
    assert not check["ok"]
    assert "(pid %d)" % os.getpid() in check["message"]
    assert "port:tcp/%d" % listener in report["failed"]
    assert report["ok"] is False


def test_fails_listing_every_hard_failure(capsys, listener):
    result = run(capsys, ports=["tcp/%d" % listener], nic="lo", remote_node_cidrs=["10.9.9.0/24"])
    assert result["failed"] is True
    assert "port:tcp/%d" % listener in result["msg"] and "node_network" in result["msg"]
    assert "Fix: " in result["msg"]


def test_endpoints_are_probed_with_a_timeout(capsys, listener):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    result = run(capsys, skip_network_checks=False, fail_on_error=False, nic="lo", ports=[],
                 endpoints=["127.0.0.1:%d" % listener, "127.0.0.1:%d" % dead_port], connect_timeout=2)
    checks = dict((c["name"], c) for c in result["report"]["checks"])
    assert checks["endpoint:127.0.0.1:%d" % listener]["ok"] is True
    assert checks["endpoint:127.0.0.1:%d" % dead_port]["ok"] is False


def test_invalid_options_are_all_reported(capsys):
    result = run(capsys, ports=["sctp/1", "tcp/99999"], endpoints=["nohost"], connect_timeout=0)
    assert result["failed"] is True
    assert len(result["problems"]) == 4


def fake_command(directory, name, script):
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_an_active_ufw_is_read_once_and_its_closed_ports_fail(capsys, tmp_path, monkeypatch):
    fake_command(tmp_path, "ufw", 'echo "Status: active"\necho\necho "22/tcp   ALLOW   Anywhere"\n')
    fake_command(tmp_path, "firewall-cmd", 'echo "not running"\nexit 252\n')  # installed, stopped: not a firewall
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ["PATH"]))
    result = run(capsys, nic="lo", ports=[], fail_on_error=False, cilium_version="1.18.3-0")
    names = dict((c["name"], c) for c in result["report"]["checks"])
    assert "firewall:ufw:udp/8472" in result["report"]["failed"]
    assert "ufw allow 8472/udp" in names["firewall:ufw:udp/8472"]["fix"]
    assert not [name for name in names if name.startswith("firewall:firewalld")]


def test_no_firewall_and_the_new_options(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run(capsys, nic="lo", ports=[], fail_on_error=False, palette_agent_mode=True, skip_cni_validation=True)
    names = dict((c["name"], c) for c in result["report"]["checks"])
    assert names["firewall"]["ok"] is True
    assert names["docker_absent"]["severity"] == "hard"
    assert names["kernel"]["severity"] == "soft"  # no cilium_version: the strictest minimum, as a warning


def test_a_port_of_the_list_knows_its_component_and_owner():
    from ansible_collections.hybridnodes.eks.plugins.modules import hybrid_preflight as module

    assert module.parse_port("tcp/10250") == {"proto": "tcp", "port": 10250, "use": "kubelet", "owners": ("kubelet",)}
    assert module.parse_port("udp/8472") == {"proto": "udp", "port": 8472, "use": "Cilium VXLAN"}
    assert module.parse_port("tcp/9100") == {"proto": "tcp", "port": 9100, "use": "EKS"}
    assert module.parse_port("sctp/1") is None
