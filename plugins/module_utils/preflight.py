# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Whether an edge host can become an EKS hybrid node, as pure functions over facts.

The module hybrid_preflight gathers the facts on the host (os-release, uname,
passwd, PATH, /proc/net, /proc/swaps, statvfs, /proc/meminfo, TCP connects)
and hands them to ``evaluate``, which returns every check as data:
``{name, ok, severity, message, fix}`` with severity ``hard`` (the host
cannot join as it is) or ``soft`` (a warning, or something host preparation
fixes). Parsers for the /proc files are here too, so that they are tested
on recorded text. Runs on the managed host: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# OS support matrix of EKS Hybrid Nodes: os-release ID -> supported VERSION_IDs (major for RHEL).
SUPPORTED_OS = {
    "ubuntu": ("20.04", "22.04", "24.04"),
    "rhel": ("8", "9"),
    "amzn": ("2023",),
}
# IAM Roles Anywhere is not supported on these.
IAM_RA_UNSUPPORTED = {("ubuntu", "20.04"), ("rhel", "8")}

# Minimum kernel per Cilium version: the first entry whose Cilium version is <= the chosen one wins.
CILIUM_KERNEL = (
    ((1, 18, 3), (5, 10)),
    ((0, 0, 0), (4, 19, 57)),
)

ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

# Requirement -> (names looked up on PATH or absolute paths, package per OS family).
COMMANDS = {
    "bash": (("bash",), {"Debian": "bash", "RedHat": "bash"}),
    "jq": (("jq",), {"Debian": "jq", "RedHat": "jq"}),
    "zstd": (("zstd",), {"Debian": "zstd", "RedHat": "zstd"}),
    "rsync": (("rsync",), {"Debian": "rsync", "RedHat": "rsync"}),
    "systemd": (("systemctl",), {"Debian": "systemd", "RedHat": "systemd"}),
    "iptables": (("iptables",), {"Debian": "iptables", "RedHat": "iptables-nft"}),
    "rsyslog": (("rsyslogd",), {"Debian": "rsyslog", "RedHat": "rsyslog"}),
    "systemd-timesyncd": (("/lib/systemd/systemd-timesyncd", "/usr/lib/systemd/systemd-timesyncd"),
                          {"Debian": "systemd-timesyncd", "RedHat": "systemd-timesyncd"}),
    "systemd-resolved": (("/lib/systemd/systemd-resolved", "/usr/lib/systemd/systemd-resolved"),
                         {"Debian": "systemd-resolved", "RedHat": "systemd-resolved"}),
    "systemd-networkd": (("/lib/systemd/systemd-networkd", "/usr/lib/systemd/systemd-networkd"),
                         {"Debian": "systemd", "RedHat": "systemd-networkd"}),
}
BASE_COMMANDS = ("bash", "jq", "zstd", "rsync", "systemd", "iptables", "rsyslog")

DEFAULT_PORTS = ({"proto": "tcp", "port": 10250, "use": "kubelet"},
                 {"proto": "tcp", "port": 10256, "use": "kube-proxy health"},
                 {"proto": "tcp", "port": 4240, "use": "Cilium health"},
                 {"proto": "udp", "port": 8472, "use": "Cilium VXLAN"})


def default_endpoints(region, credential_provider, palette_endpoint=None):
    """The endpoints a hybrid node reaches on TCP 443 (EKS user guide), as host:port strings."""
    hosts = ["hybrid-assets.eks.amazonaws.com", "eks.%s.amazonaws.com" % region, "api.ecr.%s.amazonaws.com" % region,
             "602401143452.dkr.ecr.%s.amazonaws.com" % region]
    if credential_provider == "iam-ra":
        hosts += ["rolesanywhere.amazonaws.com", "rolesanywhere.%s.amazonaws.com" % region]
    else:
        hosts += ["ssm.%s.amazonaws.com" % region, "amazon-ssm-%s.s3.%s.amazonaws.com" % (region, region)]
    if palette_endpoint:
        hosts.append(palette_endpoint)
    return [h if ":" in h else "%s:443" % h for h in hosts]


def check(name, ok, severity, message, fix=""):
    return {"name": name, "ok": bool(ok), "severity": severity, "message": message, "fix": "" if ok else fix}


# --------------------------------------------------------------------------
# Parsers of host files (text in, data out)


def parse_os_release(text):
    values = {}
    for line in (text or "").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return {"id": values.get("ID", "").lower(), "version_id": values.get("VERSION_ID", ""),
            "id_like": values.get("ID_LIKE", "").lower().split(), "pretty_name": values.get("PRETTY_NAME", "")}


def os_family(os_info):
    ids = [os_info.get("id", "")] + list(os_info.get("id_like") or [])
    if any(i in ("debian", "ubuntu") for i in ids):
        return "Debian"
    if any(i in ("rhel", "fedora", "centos", "amzn") for i in ids):
        return "RedHat"
    return None


def version_tuple(text):
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3])


def parse_passwd_shell(line):
    fields = (line or "").strip().split(":")
    return fields[6] if len(fields) >= 7 else None


def _hex_port(text):
    return int(text.rsplit(":", 1)[1], 16)


def parse_proc_net(text, proto):
    """Sockets bound to a port from /proc/net/{tcp,tcp6,udp,udp6}: listening TCP (state 0A), any bound UDP."""
    sockets = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        state = fields[3]
        if proto == "tcp" and state != "0A":
            continue
        try:
            port = _hex_port(fields[1])
            inode = int(fields[9])
        except (ValueError, IndexError):
            continue
        if port:
            sockets.append({"proto": proto, "port": port, "inode": inode})
    return sockets


def parse_swaps(text):
    swaps = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            swaps.append({"name": fields[0], "size_kb": int(fields[2]) if fields[2].isdigit() else 0})
    return swaps


def parse_meminfo(text):
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return None


# --------------------------------------------------------------------------
# The checks


def check_os(os_info, credential_provider, allow_unsupported):
    os_id, version = os_info.get("id"), os_info.get("version_id", "")
    name = os_info.get("pretty_name") or ("%s %s" % (os_id, version)).strip()
    key_version = version.split(".")[0] if os_id == "rhel" else version
    supported = key_version in SUPPORTED_OS.get(os_id, ())
    checks = []
    matrix = "AL2023, Ubuntu 20.04/22.04/24.04, RHEL 8/9"
    if supported:
        checks.append(check("os", True, "hard", "%s is supported by EKS Hybrid Nodes" % name))
    elif allow_unsupported:
        checks.append(check("os", False, "soft", "%s is outside the EKS Hybrid Nodes support matrix (%s); allowed by "
                            "allow_unsupported_os" % (name, matrix), "Use a supported OS in production."))
    else:
        checks.append(check("os", False, "hard", "%s is outside the EKS Hybrid Nodes support matrix (%s)" % (name, matrix),
                            "Install a supported OS, or set allow_unsupported_os (hybrid_allow_unsupported_os) to go "
                            "on at your own risk."))
    if credential_provider == "iam-ra":
        bad = (os_id, key_version) in IAM_RA_UNSUPPORTED
        checks.append(check("credential_provider", not bad, "hard",
                            "IAM Roles Anywhere is %ssupported on %s" % ("not " if bad else "", name),
                            "Use hybrid_credential_provider=ssm on this host, or upgrade to Ubuntu 22.04+ / RHEL 9."))
    return checks


def minimum_kernel(cilium_version):
    chosen = version_tuple(cilium_version)
    for cilium, kernel in CILIUM_KERNEL:
        if chosen >= cilium:
            return kernel
    return CILIUM_KERNEL[-1][1]


def check_kernel(release, cilium_version):
    need = minimum_kernel(cilium_version)
    have = version_tuple(release)
    text = ".".join(str(p) for p in need)
    return check("kernel", have >= need, "hard",
                 "kernel %s %s Cilium %s's minimum %s" % (release, "meets" if have >= need else "is below", cilium_version, text),
                 "Upgrade the kernel to %s or later, or choose an older Cilium version." % text)


def check_architecture(machine, wanted):
    have = ARCHITECTURES.get(machine, machine)
    if not wanted:
        return check("architecture", have in ("amd64", "arm64"), "hard", "architecture %s" % have,
                     "EKS Hybrid Nodes run on amd64 or arm64 only.")
    return check("architecture", have == wanted, "hard",
                 "architecture %s %s the pool's %s" % (have, "matches" if have == wanted else "differs from", wanted),
                 "Move the host to a pool whose hybrid_architecture is %s, or fix hybrid_architecture." % have)


def check_commands(found, required, family, severity):
    checks = []
    for name in required:
        package = COMMANDS.get(name, ((name,), {}))[1].get(family or "Debian", name)
        ok = bool(found.get(name))
        checks.append(check("command:%s" % name, ok, severity,
                            "%s %s" % (name, "found at %s" % found.get(name) if ok else "is missing"),
                            "Install the package %s (prepare_hosts.yml does)." % package))
    return checks


def check_root_shell(shell, severity):
    ok = bool(shell) and shell.rsplit("/", 1)[-1] == "bash"
    return check("root_shell", ok, severity, "root's default shell is %s" % (shell or "unknown"),
                 "Set bash as root's shell: chsh -s /bin/bash root (prepare_hosts.yml does).")


def check_docker(docker):
    found = [item for item in docker if item]
    return check("docker_absent", not found, "hard",
                 "Docker %s" % ("is installed (%s)" % ", ".join(found) if found else "is absent"),
                 "Remove Docker (the docker-ce, docker.io or moby packages and their binaries): "
                 "the Palette agent and nodeadm need containerd without Docker.")


def check_address(addresses, nic, remote_node_cidrs):
    """addresses: [{nic, address, prefixlen, dynamic}] of the chosen NIC."""
    mine = [a for a in addresses if a.get("nic") == nic]
    if not nic:
        return [check("node_address", False, "hard", "no interface found (no default route and nic=auto)",
                      "Set hybrid_nic to the interface on the hybrid node network.")]
    if not mine:
        return [check("node_address", False, "hard", "%s has no IPv4 address" % nic,
                      "Give %s a static IPv4 address inside hybrid_remote_node_cidrs, or fix hybrid_nic." % nic)]
    checks = []
    static = [a for a in mine if not a.get("dynamic")]
    checks.append(check("static_address", bool(static), "hard",
                        "%s has %s" % (nic, "a static IPv4 address %s" % static[0]["address"] if static
                                       else "only DHCP addresses (%s)" % ", ".join(a["address"] for a in mine)),
                        "Configure a static IPv4 address on %s: a node's address must not change." % nic))
    nets = []
    for text in remote_node_cidrs or []:
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    candidates = static or mine
    inside = [a for a in candidates if any(ipaddress.ip_address(a["address"]) in n for n in nets)]
    shown = ", ".join(a["address"] for a in candidates)
    checks.append(check("node_network", bool(inside), "hard",
                        "%s address %s %s hybrid_remote_node_cidrs (%s)" % (
                            nic, inside[0]["address"] if inside else shown, "lies inside" if inside else "is outside",
                            ", ".join(remote_node_cidrs or []) or "empty"),
                        "Add the host's network to hybrid_remote_node_cidrs (and the cluster's remote node networks), "
                        "or readdress the host: a node outside them keeps its certificate requests Pending."))
    return checks


def check_ports(listeners, ports):
    """listeners: [{proto, port, pid, name}]; ports: [{proto, port, use}]."""
    checks = []
    for want in ports:
        holders = [item for item in listeners if item["proto"] == want["proto"] and item["port"] == int(want["port"])]
        who = ", ".join("%s (pid %s)" % (h.get("name") or "?", h.get("pid") or "?") for h in holders)
        checks.append(check("port:%s/%s" % (want["proto"], want["port"]), not holders, "hard",
                            "%s/%s (%s) is %s" % (want["proto"], want["port"], want.get("use", ""),
                                                  "taken by %s" % who if holders else "free"),
                            "Stop or reconfigure %s so that %s/%s is free for %s." % (
                                who, want["proto"], want["port"], want.get("use", "EKS"))))
    return checks


def check_endpoints(results, proxy):
    """results: [{endpoint, ok, error}] from TCP connects (through the proxy when set)."""
    checks = []
    via = " through proxy %s" % proxy if proxy else ""
    for item in results:
        checks.append(check("endpoint:%s" % item["endpoint"], item["ok"], "hard",
                            "%s %s%s" % (item["endpoint"], "reachable" if item["ok"] else "unreachable (%s)" % item.get("error"), via),
                            "Open outbound TCP 443 to %s%s (firewall, proxy allow-list, DNS), or set "
                            "skip_network_checks for an air-gapped site with mirrors." % (item["endpoint"], via)))
    return checks


def check_resources(swaps, free_disk, mem_total_kb, min_disk_gb, min_memory_mb, swap_severity):
    checks = []
    active = [s["name"] for s in swaps]
    checks.append(check("swap", not active, swap_severity,
                        "swap is %s" % ("on (%s)" % ", ".join(active) if active else "off"),
                        "Turn swap off (swapoff -a and remove it from /etc/fstab; prepare_hosts.yml does): the kubelet "
                        "refuses to run with swap by default."))
    for path, free in sorted(free_disk.items()):
        gib = round(free / float(1 << 30), 1)
        checks.append(check("disk:%s" % path, gib >= min_disk_gb, "soft",
                            "%s GiB free on %s (wanted %s)" % (gib, path, min_disk_gb),
                            "Free or add disk space on %s: images and logs need at least %s GiB." % (path, min_disk_gb)))
    if mem_total_kb is not None:
        mib = mem_total_kb // 1024
        checks.append(check("memory", mib >= min_memory_mb, "soft", "%s MiB of memory (wanted %s)" % (mib, min_memory_mb),
                            "Give the host at least %s MiB of memory." % min_memory_mb))
    return checks


def required_commands(manage_ntp, manage_dns, manage_network):
    names = list(BASE_COMMANDS)
    if manage_ntp:
        names.append("systemd-timesyncd")
    if manage_dns:
        names.append("systemd-resolved")
    if manage_network:
        names.append("systemd-networkd")
    return names


def evaluate(facts, options):
    """Every check of the host. ``facts`` from the module; ``options`` its parameters."""
    host_prep = "hard" if options.get("expect_prepared") else "soft"
    checks = check_os(facts["os"], options.get("credential_provider"), options.get("allow_unsupported_os"))
    checks.append(check_kernel(facts["kernel"], options.get("cilium_version") or "1.18.3"))
    checks.append(check_architecture(facts["machine"], options.get("architecture")))
    checks += check_commands(facts.get("commands") or {}, facts.get("required_commands") or BASE_COMMANDS,
                             os_family(facts["os"]), host_prep)
    checks.append(check_root_shell(facts.get("root_shell"), host_prep))
    checks.append(check_docker(facts.get("docker") or []))
    checks += check_address(facts.get("addresses") or [], facts.get("nic"), options.get("remote_node_cidrs"))
    checks += check_ports(facts.get("listeners") or [], options.get("ports") or DEFAULT_PORTS)
    if facts.get("endpoints") is not None:
        checks += check_endpoints(facts["endpoints"], options.get("proxy"))
    checks += check_resources(facts.get("swaps") or [], facts.get("free_disk") or {}, facts.get("mem_total_kb"),
                              options.get("min_disk_gb", 20), options.get("min_memory_mb", 2048), host_prep)
    return checks


def summary(checks):
    failed = [c for c in checks if not c["ok"] and c["severity"] == "hard"]
    warnings = [c for c in checks if not c["ok"] and c["severity"] == "soft"]
    return failed, warnings


def failure_message(failed):
    return "%d preflight check(s) failed: %s" % (
        len(failed), " | ".join("%s: %s. Fix: %s" % (c["name"], c["message"], c["fix"]) for c in failed))
