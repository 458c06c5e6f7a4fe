# -*- coding: utf-8 -*-
"""Preflight of an edge host: the parsers on recorded /proc text and every check passing and failing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import preflight as pf

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
                                              ("5.4.0-150-generic", "1.17.6", True), ("4.18.0-553.el8", "1.17.6", False),
                                              ("5.4.0-150-generic", "1.18.3-0", False), ("5.10.0", "1.18.3-0", True),
                                              ("5.4.0-150-generic", "1.17.9-0", True), ("4.19.57", "1.17.9-0", False),
                                              ("5.4.0-150-generic", "1.18.4-0", False)])
def test_kernel_against_cilium(kernel, cilium, ok):
    checks, failed, _warnings = run({"kernel": kernel}, cilium_version=cilium)
    assert ("kernel" not in failed) == ok
    if not ok:
        assert "Upgrade the kernel" in next(c for c in checks if c["name"] == "kernel")["fix"]


@pytest.mark.parametrize("version_id,cilium,ok", [("8.6", "1.17.9-0", True), ("8.10", "1.17.9-0", True),
                                                  ("8.4", "1.17.9-0", False), ("8.10", "1.18.3-0", False)])
def test_rhel_8_kernel_counts_as_5_4_before_cilium_1_18_3(version_id, cilium, ok):
    rhel = pf.parse_os_release('ID="rhel"\nVERSION_ID="%s"\n' % version_id)
    _checks, failed, _warnings = run({"os": rhel, "kernel": "4.18.0-553.el8_10.x86_64"}, cilium_version=cilium)
    assert ("kernel" not in failed) == ok


def test_kernel_without_a_cilium_version_is_held_to_the_strictest_minimum_as_a_warning():
    checks, failed, warnings = run({"kernel": "5.4.0-150-generic"}, cilium_version=None)
    assert "kernel" not in failed and "kernel" in warnings
    assert "5.10" in next(c for c in checks if c["name"] == "kernel")["message"]
    assert run({"kernel": "6.1.0"}, cilium_version=None)[2] == []


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


def test_docker_fails_only_in_palette_agent_mode():
    checks, failed, _warnings = run({"docker": ["/usr/local/bin/docker"]}, palette_agent_mode=True)
    assert failed == ["docker_absent"]
    item = next(c for c in checks if c["name"] == "docker_absent")
    assert "/usr/local/bin/docker" in item["message"] and "Remove Docker" in item["fix"]
    assert "Palette agent mode" in item["fix"]


def test_docker_is_a_warning_outside_palette_agent_mode():
    checks, failed, warnings = run({"docker": ["/usr/bin/dockerd"]})
    assert failed == [] and warnings == ["docker_absent"]
    item = next(c for c in checks if c["name"] == "docker_absent")
    assert item["severity"] == "soft" and "do not require" in item["fix"]
    assert run({"docker": []}, palette_agent_mode=True)[1] == []


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


def test_a_port_held_by_its_own_component_passes_on_a_joined_host():
    # A re-run on a host the real nodeadm joined: the kubelet it started listens on 10250.
    listeners = [{"proto": "tcp", "port": 10250, "pid": 1395, "name": "kubelet"}]
    checks, failed, _warnings = run({"listeners": listeners})
    assert "port:tcp/10250" not in failed
    item = next(c for c in checks if c["name"] == "port:tcp/10250")
    assert item["ok"] and item["message"] == "tcp/10250 (kubelet) is held by kubelet (pid 1395), its own (the host has joined)"
    # Another process on the kubelet's port, or the kubelet on another component's, is still refused.
    listeners = [{"proto": "tcp", "port": 10250, "pid": 1395, "name": "kubelet"},
                 {"proto": "tcp", "port": 10250, "pid": 9, "name": "nginx"},
                 {"proto": "tcp", "port": 4240, "pid": 1395, "name": "kubelet"}]
    assert run({"listeners": listeners})[1] == ["port:tcp/10250", "port:tcp/4240"]


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
    _checks, failed, _warnings = run(changes, remote_node_cidrs=["10.9.0.0/16"], palette_agent_mode=True)
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


# --------------------------------------------------------------------------
# Host firewall (nodeadm init's cni-validation and the ports of the hybrid nodes)

FIREWALLD_ALL_OPEN = "\n".join([
    "public (active)",
    "  target: default",
    "  icmp-block-inversion: no",
    "  interfaces: eth0",
    "  sources: ",
    "  services: ssh",
    "  ports: 8472/udp 4240/tcp 10250/tcp 10256/tcp",
    "  protocols: ",
    "  icmp-blocks: ",
    "  rich rules: ",
    ""])
FIREWALLD_SSH_ONLY = FIREWALLD_ALL_OPEN.replace("ports: 8472/udp 4240/tcp 10250/tcp 10256/tcp", "ports: ")
UFW_STATUS = """Status: active

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW       Anywhere
%s
22/tcp (v6)                ALLOW       Anywhere (v6)
"""
UFW_BEFORE_RULES = "# ok icmp codes for INPUT\n-A ufw-before-input -p icmp --icmp-type echo-request -j ACCEPT\n"
RHEL_9 = pf.parse_os_release('ID="rhel"\nVERSION_ID="9.4"\n')


def firewalld(permanent, runtime=None):
    return {"name": "firewalld", "active": True, "error": None, "permanent": permanent, "runtime": runtime or permanent}


def ufw(rules="", default_input="DROP", before_rules=UFW_BEFORE_RULES):
    return {"name": "ufw", "active": True, "error": None, "status": UFW_STATUS % rules, "default_input": default_input,
            "before_rules": before_rules}


def firewall_run(firewalls, os_info=None, **options):
    checks, failed, warnings = run({"firewalls": firewalls, "os": os_info or RHEL_9}, **options)
    return dict((c["name"], c) for c in checks if c["name"].startswith("firewall")), failed, warnings


def test_parsers_of_the_firewalls():
    zone = pf.parse_firewalld_zone(FIREWALLD_ALL_OPEN.replace("10256/tcp", "30000-32767/tcp"))
    assert zone["ports"] == [(8472, 8472, "udp"), (4240, 4240, "tcp"), (10250, 10250, "tcp"), (30000, 32767, "tcp")]
    assert zone["target"] == "default" and zone["icmp_block_inversion"] is False and zone["icmp_blocks"] == []
    state = pf.parse_ufw_status(UFW_STATUS % "8472/udp                   ALLOW       Anywhere\n4240 LIMIT 10.0.0.0/8")
    assert state["active"] is True
    assert state["rules"] == [
        {"low": 22, "high": 22, "proto": "tcp", "action": "ALLOW", "anywhere": True},
        {"low": 8472, "high": 8472, "proto": "udp", "action": "ALLOW", "anywhere": True},
        {"low": 4240, "high": 4240, "proto": None, "action": "LIMIT", "anywhere": False}]
    assert pf.parse_ufw_status("Status: inactive\n")["active"] is False
    assert pf.parse_ufw_defaults('IPV6=yes\nDEFAULT_INPUT_POLICY="ACCEPT"\n') == "ACCEPT"
    assert pf.parse_ufw_defaults("") == "DROP"
    assert pf.ufw_echo_request_action(UFW_BEFORE_RULES) == "ACCEPT"
    assert pf.ufw_echo_request_action(UFW_BEFORE_RULES.replace("ACCEPT", "DROP")) == "DROP"
    assert pf.ufw_echo_request_action(None) is None


def test_no_active_firewall_passes():
    found, failed, warnings = firewall_run([])
    assert list(found) == ["firewall"] and found["firewall"]["ok"] and failed == [] and warnings == []


def test_firewalld_with_every_port_open_passes():
    found, failed, warnings = firewall_run([firewalld(FIREWALLD_ALL_OPEN)])
    assert failed == [] and warnings == []
    assert sorted(found) == ["firewall:firewalld:icmp/echo-request", "firewall:firewalld:tcp/10250",
                             "firewall:firewalld:tcp/10256", "firewall:firewalld:tcp/4240", "firewall:firewalld:udp/8472"]


def test_firewalld_closed_ports_fail_at_once_naming_port_and_fix():
    found, failed, _warnings = firewall_run([firewalld(FIREWALLD_SSH_ONLY)])
    # nodeadm init opens 10250/tcp and 10256/tcp on the firewall it manages (firewalld on RHEL): not failures.
    assert failed == ["firewall:firewalld:udp/8472", "firewall:firewalld:tcp/4240"]
    vxlan = found["firewall:firewalld:udp/8472"]
    assert "cni-validation fails unless udp/8472 or udp/4789 is open" in vxlan["message"]
    assert "firewall-cmd --permanent --add-port=8472/udp && firewall-cmd --reload" in vxlan["fix"]
    assert "cni-validation to nodeadm_skip_phases" in vxlan["fix"]
    assert "nodeadm init opens it" in found["firewall:firewalld:tcp/10250"]["message"]
    assert "--add-port=4240/tcp" in found["firewall:firewalld:tcp/4240"]["fix"]


def test_firewalld_runtime_only_port_fails_as_nodeadm_reloads():
    found, failed, _warnings = firewall_run([firewalld(FIREWALLD_SSH_ONLY, runtime=FIREWALLD_ALL_OPEN)])
    assert failed == ["firewall:firewalld:udp/8472", "firewall:firewalld:tcp/4240"]
    assert "open at runtime only" in found["firewall:firewalld:udp/8472"]["message"]
    assert "open at runtime only" in found["firewall:firewalld:tcp/4240"]["message"]


def test_calico_port_satisfies_nodeadm_but_not_cilium():
    permanent = FIREWALLD_ALL_OPEN.replace("8472/udp", "4789/udp")
    found, failed, _warnings = firewall_run([firewalld(permanent)])
    assert failed == ["firewall:firewalld:udp/8472"]
    assert "nodeadm accepts udp/4789, but Cilium's VXLAN uses udp/8472" in found["firewall:firewalld:udp/8472"]["message"]


def test_skipped_cni_validation_turns_vxlan_into_a_warning():
    _found, failed, warnings = firewall_run([firewalld(FIREWALLD_SSH_ONLY)], skip_cni_validation=True)
    assert failed == ["firewall:firewalld:tcp/4240"] and warnings == ["firewall:firewalld:udp/8472"]


@pytest.mark.parametrize("zone_changes,ok", [
    ({"icmp-blocks: ": "icmp-blocks: echo-request"}, False),
    ({"target: default": "target: DROP"}, False),
    ({"icmp-block-inversion: no": "icmp-block-inversion: yes", "icmp-blocks: ": "icmp-blocks: echo-request"}, True),
    ({"target: default": "target: ACCEPT", "ports: 8472/udp 4240/tcp 10250/tcp 10256/tcp": "ports: "}, True),
])
def test_firewalld_icmp_echo(zone_changes, ok):
    text = FIREWALLD_ALL_OPEN
    for old, new in zone_changes.items():
        text = text.replace(old, new)
    _found, failed, _warnings = firewall_run([firewalld(text)])
    assert ("firewall:firewalld:icmp/echo-request" not in failed) == ok


def test_ufw_on_ubuntu_reads_rules_as_nodeadm_does():
    rules = "8472/udp                   ALLOW       Anywhere\n4240/tcp ALLOW Anywhere"
    found, failed, _warnings = firewall_run([ufw(rules)], os_info=pf.parse_os_release(UBUNTU_2204))
    assert failed == []
    assert "nodeadm init opens it" in found["firewall:ufw:tcp/10256"]["message"]
    found, failed, _warnings = firewall_run([ufw("")], os_info=pf.parse_os_release(UBUNTU_2204))
    assert failed == ["firewall:ufw:udp/8472", "firewall:ufw:tcp/4240"]
    assert "ufw allow 8472/udp" in found["firewall:ufw:udp/8472"]["fix"]


def test_ufw_default_allow_still_fails_nodeadms_explicit_rule_check():
    found, failed, _warnings = firewall_run([ufw("", default_input="ACCEPT")], os_info=pf.parse_os_release(UBUNTU_2204))
    assert failed == ["firewall:ufw:udp/8472"]
    assert "only by its default policy" in found["firewall:ufw:udp/8472"]["message"]
    # A port rule without a protocol opens both for Cilium, but nodeadm's check wants 8472/udp written out.
    _found, failed, _warnings = firewall_run([ufw("8472 ALLOW Anywhere\n4240 ALLOW Anywhere")],
                                             os_info=pf.parse_os_release(UBUNTU_2204))
    assert failed == ["firewall:ufw:udp/8472"]


def test_a_firewall_nodeadm_does_not_manage_gets_no_help_from_nodeadm():
    # ufw on RHEL: nodeadm reads and opens firewalld only, so 10250/tcp stays closed and nodeadm's check passes.
    found, failed, _warnings = firewall_run([ufw("8472/udp ALLOW Anywhere\n4240/tcp ALLOW Anywhere")])
    assert failed == ["firewall:ufw:tcp/10250", "firewall:ufw:tcp/10256"]
    assert "ufw allow 10250/tcp" in found["firewall:ufw:tcp/10250"]["fix"]


def test_ufw_icmp_echo_and_unreadable_rules():
    _found, failed, _warnings = firewall_run([ufw("8472/udp ALLOW Anywhere\n4240/tcp ALLOW Anywhere",
                                                  before_rules=UFW_BEFORE_RULES.replace("ACCEPT", "DROP"))],
                                             os_info=pf.parse_os_release(UBUNTU_2204))
    assert failed == ["firewall:ufw:icmp/echo-request"]
    _found, failed, warnings = firewall_run([ufw("8472/udp ALLOW Anywhere\n4240/tcp ALLOW Anywhere", before_rules=None)],
                                            os_info=pf.parse_os_release(UBUNTU_2204))
    assert failed == [] and warnings == ["firewall:ufw:icmp/echo-request"]


def test_unreadable_firewall_is_a_warning_naming_root():
    found, failed, warnings = firewall_run([{"name": "ufw", "active": None, "error": "ERROR: You need to be root"}])
    assert failed == [] and warnings == ["firewall:ufw"]
    assert "become" in found["firewall:ufw"]["fix"]


def test_a_containerd_source_nodeadm_refuses_fails_the_preflight():
    # aws/eks-hybrid internal/containerd/install.go: distro is refused on RHEL, docker on Amazon Linux 2023.
    rhel, amzn, ubuntu = {"id": "rhel"}, {"id": "amzn"}, {"id": "ubuntu"}
    refused = pf.check_containerd_source(rhel, "distro")
    assert not refused["ok"] and refused["severity"] == "hard" and "docker or none" in refused["fix"]
    assert not pf.check_containerd_source(amzn, "docker")["ok"]
    assert pf.check_containerd_source(rhel, None)["ok"]  # the role picks docker there
    assert "docker" in pf.check_containerd_source(rhel, None)["message"]
    assert pf.check_containerd_source(ubuntu, None)["ok"] and pf.check_containerd_source(amzn, "distro")["ok"]
