# -*- coding: utf-8 -*-
"""reachability: target parsing, ping summaries, TCP answers (a refusal is an answer) on loopback only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import shutil
import socket

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import reachability


def run(capsys, **options):
    args = dict(options, _ansible_check_mode=options.pop("check_mode", False))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            reachability.main()
    return json.loads(capsys.readouterr().out)


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize("text, expected", [
    ("10.100.0.10", ("10.100.0.10", None)),
    ("10.100.0.20:443", ("10.100.0.20", 443)),
    ("[fd00::1]:22", ("fd00::1", 22)),
    ("fd00::1", ("fd00::1", None)),
    ("cloud-worker.internal", ("cloud-worker.internal", None)),
])
def test_parse_target(text, expected):
    assert reachability.parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "10.0.0.1:0", "10.0.0.1:70000", "10.0.0.1:x", "[fd00::1", "a b", "$(reboot)",
                                  "-fc10", "-I eth0", "--flood", "-w999:22"])
def test_parse_target_refuses(text):
    with pytest.raises(ValueError):
        reachability.parse_target(text)


def test_parse_ping_iputils_and_busybox():
    iputils = ("3 packets transmitted, 2 received, 33.3333% packet loss, time 2003ms\n"
               "rtt min/avg/max/mdev = 0.041/0.052/0.063/0.011 ms\n")
    assert reachability.parse_ping(iputils) == (3, 2, 0.052)
    busybox = "3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.1/0.2/0.3 ms\n"
    assert reachability.parse_ping(busybox) == (3, 3, 0.2)
    assert reachability.parse_ping("") == (0, 0, None)


def test_tcp_refused_counts_as_an_answer_and_accepted_too(capsys):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        open_port = listener.getsockname()[1]
        closed_port = free_port()
        result = run(capsys, targets=["127.0.0.1:%d" % open_port, "127.0.0.1:%d" % closed_port], count=1, timeout=1)
    finally:
        listener.close()
    assert result["changed"] is False and result["answered"] is True
    accepted, refused = result["targets"]
    assert accepted["method"] == "tcp" and accepted["answered"] and "accepted" in accepted["detail"]
    assert refused["answered"] and "refused" in refused["detail"] and refused["port"] == closed_port


def test_no_ping_means_no_answer_with_the_fix(capsys, monkeypatch):
    monkeypatch.setattr(reachability.AnsibleModule, "get_bin_path", lambda self, name, *args, **kwargs: None)
    result = run(capsys, targets=["127.0.0.1"], count=1, timeout=1)
    assert result["answered"] is False
    assert "install iputils-ping" in result["targets"][0]["detail"]


def test_require_any_and_all(capsys, monkeypatch):
    monkeypatch.setattr(reachability.AnsibleModule, "get_bin_path", lambda self, name, *args, **kwargs: None)
    targets = ["127.0.0.1", "127.0.0.1:%d" % free_port()]
    assert run(capsys, targets=targets, count=1, timeout=1, require="any")["answered"] is True
    assert run(capsys, targets=targets, count=1, timeout=1)["answered"] is False


@pytest.mark.skipif(not shutil.which("ping"), reason="no ping here")
def test_icmp_to_loopback_in_check_mode(capsys):
    result = run(capsys, targets=["127.0.0.1"], count=1, timeout=1, check_mode=True)
    item = result["targets"][0]
    assert item["method"] == "icmp" and item["port"] is None
    # Unprivileged ICMP may be forbidden where the unit tests run; either way the outcome is reported, not raised.
    assert item["answered"] is result["answered"]
    if item["answered"]:
        assert "1/1 echo replies" in item["detail"]


def test_invalid_input_is_refused_all_at_once(capsys):
    result = run(capsys, targets=["10.0.0.1:0", "ok.example"], count=0, timeout=99)
    assert result["failed"] is True and result["msg"].startswith("Nothing was probed")
    assert len(result["problems"]) == 3
