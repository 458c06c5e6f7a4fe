# -*- coding: utf-8 -*-
"""Preflight of an edge host: the parsers on recorded /proc text and every check passing and failing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils import preflight as pf

UBUNTU_2204 = 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n'
DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n'
RHEL_8 = 'NAME="Red Hat Enterprise Linux"\nVERSION_ID="8.9"\nID="rhel"\nID_LIKE="fedora"\n'

# /proc/net/tcp with a listener on 4240 (0x1090) and an established connection on 10250 (0x280A).
PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1090 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000 100 0 0 10 0
   1: 0B00C80A:280A 0100C80A:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 41999 1 0000 20 4 30 10 -1
"""
PROC_UDP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  12: 00000000:2118 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5151 2 0000 0
"""


def facts(**changes):
    base = {
        "os": pf.parse_os_release(UBUNTU_2204),
        "kernel": "6.1.0-18-amd64",
        "machine": "x86_64",
        "required_commands": list(pf.BASE_COMMANDS),
        "commands": dict((name, "/usr/bin/%s" % name) for name in pf.BASE_COMMANDS),
        "root_shell": "/bin/bash",
        "docker": [],
        "nic": "eth0",
        "addresses": [{"nic": "eth0", "address": "10.200.0.11", "prefixlen": 24, "dynamic": False}],
        "listeners": [],
        "swaps": [],
        "free_disk": {"/": 50 << 30},
        "mem_total_kb": 8 << 20,
        "endpoints": [{"endpoint": "10.100.0.20:443", "ok": True, "error": None}],
    }
    base.update(changes)
    return base


OPTIONS = {"remote_node_cidrs": ["10.200.0.0/16"], "credential_provider": "ssm", "architecture": "amd64",
           "cilium_version": "1.18.3", "min_disk_gb": 20, "min_memory_mb": 2048}


def run(fact_changes=None, **option_changes):
    checks = pf.evaluate(facts(**(fact_changes or {})), dict(OPTIONS, **option_changes))
    failed, warnings = pf.summary(checks)
    return checks, [c["name"] for c in failed], [c["name"] for c in warnings]


def test_a_good_host_passes_everything():
    checks, failed, warnings = run()
    assert failed == [] and warnings == []
    assert all(c["fix"] == "" for c in checks)


def test_parsers():
    assert pf.parse_os_release(RHEL_8) == {"id": "rhel", "version_id": "8.9", "id_like": ["fedora"],
                                           "pretty_name": ""}
    assert pf.os_family(pf.parse_os_release(UBUNTU_2204)) == "Debian"
    assert pf.os_family(pf.parse_os_release(RHEL_8)) == "RedHat"
    assert pf.parse_proc_net(PROC_TCP, "tcp") == [{"proto": "tcp", "port": 4240, "inode": 41234}]
    assert pf.parse_proc_net(PROC_UDP, "udp") == [{"proto": "udp", "port": 8472, "inode": 5151}]
    assert pf.parse_swaps("Filename Type Size Used Priority\n/swapfile file 1048572 0 -2\n") == [
        {"name": "/swapfile", "size_kb": 1048572}]
    assert pf.parse_meminfo("MemTotal:       16337672 kB\nMemFree: 1 kB\n") == 16337672
    assert pf.parse_passwd_shell("root:x:0:0:root:/root:/bin/sh\n") == "/bin/sh"


def test_unsupported_os_fails_unless_overridden():
    debian = {"os": pf.parse_os_release(DEBIAN_12)}
    checks, failed, _warnings = run(debian)
    assert failed == ["os"]
    item = next(c for c in checks if c["name"] == "os")
    assert "outside the EKS Hybrid Nodes support matrix" in item["message"]
    assert "allow_unsupported_os" in item["fix"]
    _checks, failed, warnings = run(debian, allow_unsupported_os=True)
    assert failed == [] and warnings == ["os"]


@pytest.mark.parametrize("os_text,ok", [(RHEL_8, False), (UBUNTU_2204, True),
                                        ('ID=ubuntu\nVERSION_ID="20.04"\n', False)])
def test_iam_roles_anywhere_matrix(os_text, ok):
    checks, failed, _warnings = run({"os": pf.parse_os_release(os_text)}, credential_provider="iam-ra")
    assert ("credential_provider" not in failed) == ok
    if not ok:
        assert "hybrid_credential_provider=ssm" in next(c for c in checks if c["name"] == "credential_provider")["fix"]


def test_rhel_minor_versions_are_supported_with_ssm():
    _checks, failed, _warnings = run({"os": pf.parse_os_release(RHEL_8)})
    assert failed == []


@pytest.mark.parametrize("kernel,cilium,ok", [("5.4.0-150-generic", "1.18.3", False), ("5.10.0", "1.18.3", True),
                                              ("5.4.0-150-generic", "1.17.6", True), ("4.18.0-553.el8", "1.17.6", False)])
def test_kernel_against_cilium(kernel, cilium, ok):
    checks, failed, _warnings = run({"kernel": kernel}, cilium_version=cilium)
    assert ("kernel" not in failed) == ok
    if not ok:
        assert "Upgrade the kernel" in next(c for c in checks if c["name"] == "kernel")["fix"]


def test_architecture_against_pool():
    checks, failed, _warnings = run({"machine": "aarch64"})
    assert failed == ["architecture"]
    assert "arm64 differs from the pool's amd64" in next(c for c in checks if c["name"] == "architecture")["message"]
    assert run({"machine": "aarch64"}, architecture="arm64")[1] == []


def test_missing_commands_and_shell_warn_before_preparation_and_fail_after():
    changes = {"commands": {"bash": "/bin/bash", "systemd": "/bin/systemctl"}, "root_shell": "/bin/sh",
               "swaps": [{"name": "/swapfile", "size_kb": 1}]}
    checks, failed, warnings = run(changes)
    assert failed == []
    assert warnings == ["command:jq", "command:zstd", "command:rsync", "command:iptables", "command:rsyslog",
                        "root_shell", "swap"]
    assert next(c for c in checks if c["name"] == "command:rsyslog")["fix"] == \
        "Install the package rsyslog (prepare_hosts.yml does)."
    _checks, failed, _warnings = run(changes, expect_prepared=True)
    assert len(failed) == 7


def test_managed_daemons_are_required_only_when_managed():
    assert pf.required_commands(False, False, False) == list(pf.BASE_COMMANDS)
    assert pf.required_commands(True, True, True)[-3:] == ["systemd-timesyncd", "systemd-resolved", "systemd-networkd"]


def test_docker_fails():
    checks, failed, _warnings = run({"docker": ["/usr/local/bin/docker"]})
    assert failed == ["docker_absent"]
    item = next(c for c in checks if c["name"] == "docker_absent")
    assert "/usr/local/bin/docker" in item["message"] and "Remove Docker" in item["fix"]


def test_address_outside_node_cidrs_fails_naming_both():
    checks, failed, _warnings = run(remote_node_cidrs=["10.201.0.0/16"])
    assert failed == ["node_network"]
    item = next(c for c in checks if c["name"] == "node_network")
    assert "10.200.0.11 is outside hybrid_remote_node_cidrs (10.201.0.0/16)" in item["message"]


def test_dhcp_or_missing_address_fails():
    _checks, failed, _warnings = run({"addresses": [{"nic": "eth0", "address": "10.200.0.11", "prefixlen": 24,
                                                     "dynamic": True}]})
    assert failed == ["static_address"]
    checks, failed, _warnings = run({"addresses": []})
    assert failed == ["node_address"]
    assert "eth0 has no IPv4 address" in checks[[c["name"] for c in checks].index("node_address")]["message"]
    assert run({"nic": None})[1] == ["node_address"]


def test_taken_ports_name_the_process():
    listeners = [{"proto": "tcp", "port": 4240, "pid": 812, "name": "python3"},
                 {"proto": "udp", "port": 8472, "pid": None, "name": None}]
    checks, failed, _warnings = run({"listeners": listeners})
    assert failed == ["port:tcp/4240", "port:udp/8472"]
    item = next(c for c in checks if c["name"] == "port:tcp/4240")
    assert item["message"] == "tcp/4240 (Cilium health) is taken by python3 (pid 812)"
    assert "Stop or reconfigure python3 (pid 812)" in item["fix"]


def test_unreachable_endpoint_and_skipped_network_checks():
    checks, failed, _warnings = run({"endpoints": [{"endpoint": "10.100.0.20:443", "ok": False, "error": "timed out"}]},
                                    proxy="http://proxy:3128")
    assert failed == ["endpoint:10.100.0.20:443"]
    item = next(c for c in checks if c["name"] == "endpoint:10.100.0.20:443")
    assert "through proxy http://proxy:3128" in item["message"] and "skip_network_checks" in item["fix"]
    checks, failed, _warnings = run({"endpoints": None})
    assert not [c for c in checks if c["name"].startswith("endpoint:")]


def test_small_disk_and_memory_only_warn():
    _checks, failed, warnings = run({"free_disk": {"/": 1 << 30}, "mem_total_kb": 1 << 20})
    assert failed == [] and warnings == ["disk:/", "memory"]


def test_every_problem_at_once():
    changes = {"docker": ["/usr/bin/docker"], "listeners": [{"proto": "tcp", "port": 10250, "pid": 1, "name": "x"}],
               "os": pf.parse_os_release(DEBIAN_12)}
    _checks, failed, _warnings = run(changes, remote_node_cidrs=["10.9.0.0/16"])
    assert failed == ["os", "docker_absent", "node_network", "port:tcp/10250"]
    message = pf.failure_message([c for c in _checks if c["name"] in failed])
    assert message.startswith("4 preflight check(s) failed: os: ")
    assert "Fix: Remove Docker" in message


def test_default_endpoints_follow_provider_and_region():
    ssm = pf.default_endpoints("eu-west-1", "ssm", "api.spectrocloud.com")
    assert "ssm.eu-west-1.amazonaws.com:443" in ssm and "api.spectrocloud.com:443" in ssm
    assert not [e for e in ssm if "rolesanywhere" in e]
    iam = pf.default_endpoints("eu-west-1", "iam-ra")
    assert "rolesanywhere.eu-west-1.amazonaws.com:443" in iam and not [e for e in iam if e.startswith("ssm.")]
    assert "hybrid-assets.eks.amazonaws.com:443" in iam
