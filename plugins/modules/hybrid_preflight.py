#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hybrid_preflight
short_description: Check in one run whether an edge host can become an EKS hybrid node
version_added: 0.1.0
description:
  - Gathers what it needs on the host itself (C(/etc/os-release), C(uname), root's passwd entry, C(PATH),
    C(ip -j addr), C(/proc/net/tcp) and C(udp) with C(/proc/*/fd) to name the process holding a port,
    C(/proc/swaps), C(statvfs), C(/proc/meminfo), TCP connects) and checks all of the following in one execution.
  - The OS and version against the EKS Hybrid Nodes support matrix (AL2023, Ubuntu 20.04/22.04/24.04, RHEL 8/9),
    per credential provider (IAM Roles Anywhere is not supported on Ubuntu 20.04 or RHEL 8). An OS outside
    the matrix (Debian, for one) fails unless O(allow_unsupported_os) is set, which turns it into a warning.
  - The kernel version against the Cilium version the cilium role deploys (O(cilium_version)). Cilium 1.18.3 and later
    need kernel 5.10 (EKS user guide, hybrid-nodes-cni), earlier versions 5.4, or 4.18 on RHEL 8.6 and later (Cilium's
    system requirements).
  - The architecture against the pool's (O(architecture)).
  - The commands the Palette agent and nodeadm need (bash, jq, zstd, rsync, systemd, iptables, rsyslog; the
    systemd-timesyncd, -resolved, -networkd daemons when their management is enabled), and bash as root's shell.
  - That Docker is absent. A hard check in Palette agent mode (O(palette_agent_mode)), which requires it, a warning
    otherwise (EKS does not require it, and nodeadm keeps an installed containerd).
  - With firewalld or ufw active, that the ports of the hybrid nodes are open in it. 8472/udp (Cilium VXLAN; without
    it, or 4789/udp, C(nodeadm init)'s cni-validation fails on the firewall nodeadm manages, ufw on Ubuntu and
    firewalld elsewhere), 4240/tcp and ICMP echo (Cilium health), 10250/tcp and 10256/tcp (opened by C(nodeadm init)
    on the firewall it manages). Each closed port fails naming the command that opens it; firewalld is read from its
    permanent configuration, as nodeadm reloads it. Reading ufw needs root.
  - A static IPv4 address on O(nic) inside O(remote_node_cidrs).
  - That the ports of the kubelet, kube-proxy and Cilium are free, naming the process that holds one.
  - Outbound TCP to O(endpoints) through O(proxy) with a short timeout, unless O(skip_network_checks).
  - Swap, free disk and memory.
  - Returns every check as data (name, ok, severity, message, fix). Fails listing every failed C(hard) check with
    its fix; failed C(soft) checks are warnings. What host preparation fixes (missing commands, root's shell, swap)
    is soft unless O(expect_prepared).
  - Changes nothing on the host.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  remote_node_cidrs:
    description:
      - The remote node networks of the cluster (C(hybrid_remote_node_cidrs)); the node's address must lie inside one.
    type: list
    elements: str
    required: true
  credential_provider:
    description:
      - The credential provider of the node (C(hybrid_credential_provider)).
    type: str
    default: ssm
    choices: [ssm, iam-ra]
  allow_unsupported_os:
    description:
      - Accept an OS outside the EKS Hybrid Nodes support matrix with a warning instead of a failure.
      - An explicit, documented override for test labs and evaluations; AWS does not support such nodes.
    type: bool
    default: false
  cilium_version:
    description:
      - The Cilium version that will run on the node, as the cilium role's chart version (such as V(1.18.3-0)) or
        plain (V(1.18.3)); it sets the minimum kernel.
      - C(playbooks/preflight.yml) passes the cilium role's C(cilium_chart_version), so that the preflight and the
        deployment read one variable (C(hybrid_cilium_version)).
      - When not given, the kernel is held to the strictest minimum (5.10) as a warning.
    type: str
  palette_agent_mode:
    description:
      - The host is to run Palette agent mode, which requires Docker to be absent; then an installed Docker fails
        the preflight, otherwise it is a warning.
    type: bool
    default: false
  skip_cni_validation:
    description:
      - C(nodeadm init) runs with C(--skip cni-validation) (C(cni-validation) in C(nodeadm_skip_phases)), as for nodes
        that do not use VXLAN; then a closed 8472/udp is a warning instead of a failure.
    type: bool
    default: false
  containerd_source:
    description:
      - The containerd source nodeadm install is to use (C(hybrid_containerd_source)); when unset, the one the nodeadm
        role picks for the OS (docker on RHEL, distro elsewhere).
      - A source nodeadm refuses on the host's OS (distro on RHEL, docker on Amazon Linux 2023) fails the preflight.
    type: str
    choices: [none, distro, docker]
  architecture:
    description:
      - The pool's architecture (C(hybrid_architecture)); when unset, any of amd64 and arm64 passes.
    type: str
    choices: [amd64, arm64]
  nic:
    description:
      - The interface on the hybrid node network (C(hybrid_nic)); V(auto) means the default route's interface.
    type: str
    default: auto
  manage_ntp:
    description:
      - Whether NTP is managed through systemd-timesyncd (then it is required).
    type: bool
    default: false
  manage_dns:
    description:
      - Whether DNS is managed through systemd-resolved (then it is required).
    type: bool
    default: false
  manage_network:
    description:
      - Whether static addresses are managed through systemd-networkd (then it is required).
    type: bool
    default: false
  ports:
    description:
      - The ports that must be free, as V(tcp/PORT) or V(udp/PORT). On a host that has joined, a port held by its
        own component passes (the kubelet on tcp/10250, kube-proxy on tcp/10256, Cilium's agent on tcp/4240).
    type: list
    elements: str
    default: [tcp/10250, tcp/10256, tcp/4240, udp/8472]
  endpoints:
    description:
      - The endpoints to reach, as V(host:port). When empty, the documented ones for O(region) and
        O(credential_provider) on port 443 (hybrid-assets, EKS, ECR, SSM or IAM Roles Anywhere) and
        O(palette_endpoint).
      - The ECR registry of the EKS images and the domains follow the partition and region of O(region), as
        nodeadm picks them; for example C(877085696533.dkr.ecr.af-south-1.amazonaws.com) in the opt-in region
        af-south-1, C(013241004608.dkr.ecr.us-gov-west-1.amazonaws.com) in GovCloud (US-West),
        C(918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn) in Beijing.
    type: list
    elements: str
    default: []
  region:
    description:
      - The AWS region of the cluster, for the default O(endpoints).
    type: str
    default: us-west-2
  palette_endpoint:
    description:
      - The Palette endpoint added to the default O(endpoints); empty to leave Palette out.
    type: str
    default: api.spectrocloud.com
  proxy:
    description:
      - An HTTP proxy (C(hybrid_proxy)) the endpoints are reached through, with C(CONNECT).
    type: str
  skip_network_checks:
    description:
      - Skip the outbound checks (air-gapped sites with local mirrors).
    type: bool
    default: false
  connect_timeout:
    description:
      - Seconds allowed for each outbound connection; they run in parallel.
    type: int
    default: 3
  min_disk_gb:
    description:
      - Free disk wanted on each of O(disk_paths), in GiB (a warning below).
    type: int
    default: 20
  disk_paths:
    description:
      - The file systems whose free space is checked.
    type: list
    elements: str
    default: [/, /var/lib]
  min_memory_mb:
    description:
      - Memory wanted, in MiB (a warning below).
    type: int
    default: 2048
  expect_prepared:
    description:
      - Fail, rather than warn, on what host preparation fixes (missing commands, root's shell, swap on).
      - Set it after C(prepare_hosts.yml).
    type: bool
    default: false
  fail_on_error:
    description:
      - Fail the task when a hard check fails. With V(false) the report is returned and the caller decides
        (C(playbooks/preflight.yml) prints a table for all hosts first).
    type: bool
    default: true
attributes:
  check_mode:
    details: Changes nothing in any mode, so it runs every check with C(--check) too.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.attributes.info_module]
"""

EXAMPLES = r"""
- name: Check the edge hosts
  hybridnodes.eks.hybrid_preflight:
    remote_node_cidrs: "{{ hybrid_remote_node_cidrs }}"
    credential_provider: "{{ hybrid_credential_provider }}"
    architecture: "{{ hybrid_architecture | default(omit) }}"
    nic: "{{ hybrid_nic | default('auto') }}"
    region: "{{ hybrid_region }}"
    proxy: "{{ hybrid_proxy | default(omit) }}"

- name: Check a host outside the support matrix (Debian), outbound only to the site's mirror and the cluster endpoint
  hybridnodes.eks.hybrid_preflight:
    remote_node_cidrs: [10.200.0.0/16]
    allow_unsupported_os: true
    endpoints: ["mirror.example.internal:443", "10.100.10.40:443"]
"""

RETURN = r"""
report:
  description: The host's facts that matter and every check.
  returned: always
  type: dict
  contains:
    host:
      description: OS, kernel, architecture, interface and address found.
      type: dict
      returned: always
      sample: {"os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-18-amd64", "architecture": "amd64",
               "nic": "eth0", "addresses": ["10.200.1.23/24"]}
    checks:
      description: Every check, with C(name), C(ok), C(severity) (C(hard) or C(soft)), C(message) and C(fix).
      type: list
      elements: dict
      returned: always
      sample: [{"name": "port:tcp/4240", "ok": false, "severity": "hard",
                "message": "tcp/4240 (Cilium health) is taken by python3 (pid 812)",
                "fix": "Stop or reconfigure python3 (pid 812) so that tcp/4240 is free for Cilium health."}]
    failed:
      description: The names of the failed hard checks.
      type: list
      elements: str
      returned: always
      sample: ["port:tcp/4240"]
    warnings:
      description: The names of the failed soft checks.
      type: list
      elements: str
      returned: always
      sample: ["command:jq"]
    ok:
      description: Whether no hard check failed.
      type: bool
      returned: always
      sample: false
"""

import base64
import glob
import json
import os
import socket
import threading
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import preflight as pf
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.host_files import read_text


def default_route_nic():
    for line in (read_text("/proc/net/route") or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
            return fields[0]
    return None


def find_command(module, candidates):
    for name in candidates:
        if name.startswith("/"):
            if os.access(name, os.X_OK):
                return name
        else:
            path = module.get_bin_path(name, opt_dirs=["/usr/local/sbin", "/usr/sbin", "/sbin"])
            if path:
                return path
    return None


def root_shell(module):
    getent = module.get_bin_path("getent")
    if getent:
        rc, out, _err = module.run_command([getent, "passwd", "root"])
        if rc == 0:
            return pf.parse_passwd_shell(out)
    for line in (read_text("/etc/passwd") or "").splitlines():
        if line.startswith("root:"):
            return pf.parse_passwd_shell(line)
    return None


def docker_traces(module):
    traces = [module.get_bin_path(name) for name in ("docker", "dockerd")]
    traces += [path for path in ("/var/run/docker.sock", "/lib/systemd/system/docker.service",
                                 "/usr/lib/systemd/system/docker.service", "/etc/systemd/system/docker.service")
               if os.path.exists(path)]
    return [t for t in traces if t]


def firewalls(module):
    """firewalld and ufw, when installed and not stopped: what module_utils.preflight.check_firewall reads."""
    found = []
    sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"]
    firewall_cmd = module.get_bin_path("firewall-cmd", opt_dirs=sbin)
    if firewall_cmd:
        rc, out, err = module.run_command([firewall_cmd, "--state"])
        if rc == 0 and "running" in out:
            state = {"name": "firewalld", "active": True, "error": None}
            for key, argv in (("permanent", ["--permanent", "--list-all"]), ("runtime", ["--list-all"])):
                rc, out, err = module.run_command([firewall_cmd] + argv)
                state[key] = out if rc == 0 else None
                if rc != 0:
                    state["error"] = (err or out).strip() or "firewall-cmd %s: exit %d" % (" ".join(argv), rc)
            found.append(state)
        elif rc not in (251, 252) and "not running" not in (out + err):  # 252: not running (stopped)
            found.append({"name": "firewalld", "active": None, "error": (err or out).strip() or "exit %d" % rc})
    ufw = module.get_bin_path("ufw", opt_dirs=sbin)
    if ufw:
        rc, out, err = module.run_command([ufw, "status"])
        if rc != 0:
            found.append({"name": "ufw", "active": None, "error": (err or out).strip() or "exit %d" % rc})
        elif pf.parse_ufw_status(out)["active"]:
            found.append({"name": "ufw", "active": True, "error": None, "status": out,
                          "default_input": pf.parse_ufw_defaults(read_text("/etc/default/ufw")),
                          "before_rules": read_text("/etc/ufw/before.rules")})
    return found


def addresses(module, nic):
    if not nic:
        return []
    ip_binary = module.get_bin_path("ip")
    if not ip_binary:
        return []
    rc, out, _err = module.run_command([ip_binary, "-j", "-4", "addr", "show", "dev", nic])
    if rc != 0:
        return []
    try:
        data = json.loads(out or "[]")
    except ValueError:
        return []
    result = []
    for link in data:
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                result.append({"nic": nic, "address": info.get("local"), "prefixlen": info.get("prefixlen"),
                               "dynamic": bool(info.get("dynamic"))})
    return result


def socket_owners():
    owners = {}
    for fd_dir in glob.glob("/proc/[0-9]*/fd"):
        pid = int(fd_dir.split("/")[2])
        try:
            entries = os.listdir(fd_dir)
        except OSError:
            continue
        for entry in entries:
            try:
                target = os.readlink(os.path.join(fd_dir, entry))
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(int(target[8:-1]), pid)
    return owners


def listeners():
    sockets = []
    for proto in ("tcp", "udp"):
        for suffix in ("", "6"):
            sockets += pf.parse_proc_net(read_text("/proc/net/%s%s" % (proto, suffix)), proto)
    if not sockets:
        return []
    owners = socket_owners()
    for item in sockets:
        pid = owners.get(item["inode"])
        item["pid"] = pid
        item["name"] = (read_text("/proc/%d/comm" % pid) or "").strip() if pid else None
    return sockets


def parse_port(text):
    proto, _sep, port = str(text).partition("/")
    if proto not in ("tcp", "udp") or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    known = [dict(want) for want in pf.DEFAULT_PORTS if want["proto"] == proto and want["port"] == int(port)]
    return known[0] if known else {"proto": proto, "port": int(port), "use": "EKS"}


def split_endpoint(text):
    host, _sep, port = str(text).rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def probe(endpoint, proxy, timeout):
    host, port = split_endpoint(endpoint)
    try:
        if not proxy:
            conn = socket.create_connection((host, port), timeout=timeout)
            conn.close()
            return {"endpoint": endpoint, "ok": True, "error": None}
        parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        conn = socket.create_connection((parts.hostname, parts.port or 3128), timeout=timeout)
        try:
            request = "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n" % (host, port, host, port)
            if parts.username:
                token = base64.b64encode(("%s:%s" % (parts.username, parts.password or "")).encode()).decode()
                request += "Proxy-Authorization: Basic %s\r\n" % token
            conn.sendall((request + "\r\n").encode())
            status = conn.recv(1024).decode("latin-1").split("\r\n", 1)[0]
        finally:
            conn.close()
        fields = status.split()
        if len(fields) >= 2 and fields[1] == "200":
            return {"endpoint": endpoint, "ok": True, "error": None}
        return {"endpoint": endpoint, "ok": False, "error": "proxy answered %r" % status}
    except (socket.error, socket.timeout, OSError, ValueError) as exc:
        return {"endpoint": endpoint, "ok": False, "error": str(exc) or exc.__class__.__name__}


def probe_all(endpoints, proxy, timeout):
    results = [None] * len(endpoints)

    def run(index, endpoint):
        results[index] = probe(endpoint, proxy, timeout)

    threads = [threading.Thread(target=run, args=(i, e)) for i, e in enumerate(endpoints)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join(timeout + 2)
    return [r or {"endpoint": endpoints[i], "ok": False, "error": "timed out"} for i, r in enumerate(results)]


def free_disk(paths):
    result = {}
    for path in paths:
        try:
            stat = os.statvfs(path)
        except OSError:
            continue
        result[path] = stat.f_bavail * stat.f_frsize
    return result


def public_proxy(proxy):
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    return "%s://%s%s" % (parts.scheme, parts.hostname, ":%d" % parts.port if parts.port else "")


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            remote_node_cidrs=dict(type="list", elements="str", required=True),
            credential_provider=dict(type="str", default="ssm", choices=list(pf.cp.NAMES)),
            allow_unsupported_os=dict(type="bool", default=False),
            cilium_version=dict(type="str"),
            palette_agent_mode=dict(type="bool", default=False),
            skip_cni_validation=dict(type="bool", default=False),
            containerd_source=dict(type="str", choices=list(pf.nodeadm_rules.CONTAINERD_SOURCES)),
            architecture=dict(type="str", choices=sorted(set(pf.ARCHITECTURES.values()))),
            nic=dict(type="str", default="auto"),
            manage_ntp=dict(type="bool", default=False),
            manage_dns=dict(type="bool", default=False),
            manage_network=dict(type="bool", default=False),
            ports=dict(type="list", elements="str", default=["tcp/10250", "tcp/10256", "tcp/4240", "udp/8472"]),
            endpoints=dict(type="list", elements="str", default=[]),
            region=dict(type="str", default="us-west-2"),
            palette_endpoint=dict(type="str", default="api.spectrocloud.com"),
            proxy=dict(type="str", no_log=True),
            skip_network_checks=dict(type="bool", default=False),
            connect_timeout=dict(type="int", default=3),
            min_disk_gb=dict(type="int", default=20),
            disk_paths=dict(type="list", elements="str", default=["/", "/var/lib"]),
            min_memory_mb=dict(type="int", default=2048),
            expect_prepared=dict(type="bool", default=False),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )


def read_options(module):
    """(ports, endpoints) of the options, or the module fails naming every invalid one."""
    params = module.params
    problems = []
    ports = []
    for text in params["ports"]:
        port = parse_port(text)
        if port is None:
            problems.append("ports: %r is not tcp/PORT or udp/PORT" % text)
        else:
            ports.append(port)
    endpoints = list(params["endpoints"])
    if not endpoints:
        endpoints = pf.default_endpoints(params["region"], params["credential_provider"], params["palette_endpoint"])
    problems += ["endpoints: %r is not host:port" % e for e in endpoints if split_endpoint(e) is None]
    if not 0 < params["connect_timeout"] <= 60:
        problems.append("connect_timeout must be between 1 and 60 seconds, not %s" % params["connect_timeout"])
    if params["cilium_version"] is not None and pf.version_tuple(params["cilium_version"]) == ():
        problems.append("cilium_version %r is not a version such as 1.18.3-0" % params["cilium_version"])
    if problems:
        module.fail_json(msg="hybrid_preflight: invalid options: %s" % "; ".join(problems), problems=problems)
    return ports, endpoints


def read_facts(module, endpoints):
    """Everything the checks look at, read from the host (and the endpoints probed unless skipped)."""
    params = module.params
    os_info = pf.parse_os_release(read_text("/etc/os-release") or read_text("/usr/lib/os-release"))
    uname = os.uname()
    nic = default_route_nic() if params["nic"] == "auto" else params["nic"]
    required = pf.required_commands(params["manage_ntp"], params["manage_dns"], params["manage_network"])
    facts = {
        "os": os_info,
        "kernel": uname[2],
        "machine": uname[4],
        "required_commands": required,
        "commands": dict((name, find_command(module, pf.COMMANDS[name][0])) for name in required),
        "root_shell": root_shell(module),
        "docker": docker_traces(module),
        "firewalls": firewalls(module),
        "nic": nic,
        "addresses": addresses(module, nic),
        "listeners": listeners(),
        "swaps": pf.parse_swaps(read_text("/proc/swaps")),
        "free_disk": free_disk(params["disk_paths"]),
        "mem_total_kb": pf.parse_meminfo(read_text("/proc/meminfo")),
        "endpoints": None if params["skip_network_checks"] else probe_all(endpoints, params["proxy"],
                                                                          params["connect_timeout"]),
    }
    return facts


def report_checks(module, facts, checks):
    """Warn about the warnings; exit with the report, or fail on a failed check (fail_on_error)."""
    failed, warnings = pf.summary(checks)
    for item in warnings:
        module.warn("%s: %s. %s" % (item["name"], item["message"], item["fix"]))
    os_info = facts["os"]
    report = {
        "host": {"os": os_info.get("pretty_name") or os_info.get("id"), "kernel": facts["kernel"],
                 "architecture": pf.ARCHITECTURES.get(facts["machine"], facts["machine"]), "nic": facts["nic"],
                 "addresses": ["%s/%s" % (a["address"], a["prefixlen"]) for a in facts["addresses"]]},
        "checks": checks,
        "failed": [c["name"] for c in failed],
        "warnings": [c["name"] for c in warnings],
        "ok": not failed,
    }
    if failed and module.params["fail_on_error"]:
        module.fail_json(msg=pf.failure_message(failed), report=report)
    module.exit_json(changed=False, report=report)


def main():
    module = build_module()
    ports, endpoints = read_options(module)
    facts = read_facts(module, endpoints)
    checks = pf.evaluate(facts, dict(module.params, ports=ports, proxy=public_proxy(module.params["proxy"])))
    report_checks(module, facts, checks)


if __name__ == "__main__":
    main()
