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

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers as cp
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import eks_endpoints as ep
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import nodeadm as nodeadm_rules

# OS support matrix of EKS Hybrid Nodes: os-release ID -> supported VERSION_IDs (major for RHEL).
SUPPORTED_OS = {
    "ubuntu": ("20.04", "22.04", "24.04"),
    "rhel": ("8", "9"),
    "amzn": ("2023",),
}
# IAM Roles Anywhere is not supported on these (the registry's rule, module_utils/credential_providers.py).
IAM_RA_UNSUPPORTED = set(tuple(os_version) for os_version in cp.PROVIDERS["iam-ra"]["unsupported_os"])

# Minimum kernel per Cilium version: the first entry whose Cilium version is <= the chosen one wins. The EKS user
# guide (hybrid-nodes-cni, "Version compatibility") says Cilium v1.18.3 needs Linux >= 5.10 and is therefore not
# supported on Ubuntu 20.04 or RHEL 8; Cilium's system requirements for the earlier releases ask for Linux >= 5.4 "or
# equivalent (e.g., 4.18 on RHEL 8.6)" (docs.cilium.io operations/system_requirements).
CILIUM_KERNEL = (
    ((1, 18, 3), (5, 10)),
    ((0, 0, 0), (5, 4)),
)
# (Cilium versions below this one, RHEL from this version): RHEL's 4.18 kernel counts as 5.4 (the backports).
RHEL_KERNEL_EQUIVALENT = ((1, 18, 3), (8, 6), (4, 18))
# The strictest minimum, used when the Cilium version is not given.
STRICTEST_KERNEL = CILIUM_KERNEL[0][1]

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

# "owners": the processes (their comm) that hold the port on a host that has joined already; a re-run finds the
# kubelet nodeadm started on 10250, and that is no conflict. The VXLAN port is the kernel's (no process) once Cilium
# runs, which a preflight cannot tell from another overlay's, so it has none.
DEFAULT_PORTS = ({"proto": "tcp", "port": 10250, "use": "kubelet", "owners": ("kubelet",)},
                 {"proto": "tcp", "port": 10256, "use": "kube-proxy health", "owners": ("kube-proxy",)},
                 {"proto": "tcp", "port": 4240, "use": "Cilium health", "owners": ("cilium-agent",)},
                 {"proto": "udp", "port": 8472, "use": "Cilium VXLAN"})


def default_endpoints(region, credential_provider, palette_endpoint=None):
    """The endpoints a hybrid node reaches on TCP 443 (EKS user guide), as host:port strings.

    The ECR account and the domain depend on the partition and region (opt-in regions, GovCloud, China): see
    module_utils/eks_endpoints.py for the table and its sources."""
    hosts = [ep.hybrid_assets_host(region), ep.service_host("eks", region), ep.service_host("api.ecr", region),
             ep.ecr_registry(region)]
    hosts += cp.endpoints(credential_provider if credential_provider in cp.PROVIDERS else cp.DEFAULT, region)
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
    provider = cp.PROVIDERS.get(credential_provider)
    if provider and provider["unsupported_os"]:
        bad = not cp.os_supported(credential_provider, os_id, key_version)
        checks.append(check("credential_provider", not bad, "hard",
                            "%s is %ssupported on %s" % (provider["title"], "not " if bad else "", name),
                            provider["unsupported_os_fix"]))
    return checks


def minimum_kernel(cilium_version, os_info=None):
    """The minimum kernel for ``cilium_version`` (the cilium role's chart version, such as 1.18.3-0) on ``os_info``."""
    chosen = version_tuple(cilium_version)
    if os_info and os_info.get("id") == "rhel" and chosen < RHEL_KERNEL_EQUIVALENT[0] and \
            version_tuple(os_info.get("version_id", "")) >= RHEL_KERNEL_EQUIVALENT[1]:
        return RHEL_KERNEL_EQUIVALENT[2]
    for cilium, kernel in CILIUM_KERNEL:
        if chosen >= cilium:
            return kernel
    return CILIUM_KERNEL[-1][1]


def check_kernel(release, cilium_version, os_info=None):
    """The kernel against the Cilium version the cilium role deploys; without a version, the strictest minimum (soft)."""
    have = version_tuple(release)
    if not cilium_version:
        text = ".".join(str(p) for p in STRICTEST_KERNEL)
        return check("kernel", have >= STRICTEST_KERNEL, "soft",
                     "kernel %s %s %s, the minimum of the newest Cilium (no cilium_version given)" % (
                         release, "meets" if have >= STRICTEST_KERNEL else "is below", text),
                     "Give cilium_version (playbooks/preflight.yml passes the cilium role's cilium_chart_version).")
    need = minimum_kernel(cilium_version, os_info)
    text = ".".join(str(p) for p in need)
    return check("kernel", have >= need, "hard",
                 "kernel %s %s Cilium %s's minimum %s" % (release, "meets" if have >= need else "is below", cilium_version, text),
                 "Upgrade the kernel to %s or later, or choose an older Cilium version (hybrid_cilium_version, such as "
                 "1.17.9-0, whose minimum is 5.4, 4.18 on RHEL 8.6+)." % text)


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


def check_docker(docker, palette_agent_mode):
    """Docker must be absent in Palette agent mode (Palette's requirement). EKS does not require it: nodeadm install
    leaves an installed containerd and runc in place (aws/eks-hybrid internal/containerd/install.go), so elsewhere a
    Docker installation is a warning."""
    found = [item for item in docker if item]
    if palette_agent_mode:
        fix = ("Remove Docker (the docker-ce, docker.io or moby packages and their binaries): Palette agent mode "
               "requires a host without Docker.")
    else:
        fix = ("EKS Hybrid Nodes do not require Docker's absence: nodeadm then keeps the installed containerd (recorded "
               "as source none, so nodeadm uninstall leaves it). Remove Docker if the host is to run Palette agent mode "
               "(palette_agent_mode, hybrid_palette_agent_mode), which requires its absence.")
    return check("docker_absent", not found, "hard" if palette_agent_mode else "soft",
                 "Docker %s" % ("is installed (%s)" % ", ".join(found) if found else "is absent"), fix)


# --------------------------------------------------------------------------
# Host firewall: firewalld or ufw
#
# nodeadm init's cni-validation (aws/eks-hybrid cmd/nodeadm/init/init.go) fails when the firewall nodeadm manages is
# active and neither Cilium's VXLAN port 8472/udp nor Calico's 4789/udp is open; "--skip cni-validation" turns it off.
# nodeadm manages ufw on Ubuntu and firewalld elsewhere (internal/system/ports.go); it reloads firewalld before its
# query (firewall-cmd --reload: only the permanent configuration counts), asks firewalld --query-port, and reads ufw's
# "PORT/PROTO ALLOW Anywhere" rules of "ufw status" (internal/firewall). init itself opens 10250/tcp, 10256/tcp and
# 30000-32767/tcp on that firewall (internal/system/ports.go). The other ports are Cilium's (EKS user guide,
# hybrid-nodes-networking: 4240/tcp health, ICMP echo for health).
FIREWALL_PORTS = (
    {"proto": "udp", "port": 8472, "use": "Cilium VXLAN", "nodeadm": "cni-validation"},
    {"proto": "tcp", "port": 10250, "use": "kubelet", "nodeadm": "opens"},
    {"proto": "tcp", "port": 10256, "use": "kube-proxy health", "nodeadm": "opens"},
    {"proto": "tcp", "port": 4240, "use": "Cilium health"},
    {"proto": "icmp", "port": "echo-request", "use": "Cilium health (ICMP echo)"},
)
CALICO_VXLAN_PORT = 4789
_UFW_RULE_RE = re.compile(r"^(?P<lo>\d+)(:(?P<hi>\d+))?(/(?P<proto>\w+))?\s+(?P<action>ALLOW|DENY|REJECT|LIMIT)(\s+IN)?\s+"
                          r"(?P<source>.+?)\s*$")


def _port_ranges(text):
    """[(low, high, proto)] of firewalld's "8472/udp 30000-32767/tcp"."""
    ranges = []
    for item in (text or "").split():
        port, _sep, proto = item.partition("/")
        low, _sep, high = port.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            ranges.append((int(low), int(high or low), proto))
    return ranges


def parse_firewalld_zone(text):
    """The zone of ``firewall-cmd [--permanent] --list-all`` (the default zone, the one nodeadm queries)."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and line.startswith((" ", "\t")):
            fields[key.strip()] = value.strip()
    return {"target": fields.get("target", "default"), "ports": _port_ranges(fields.get("ports")),
            "protocols": (fields.get("protocols") or "").split(), "icmp_blocks": (fields.get("icmp-blocks") or "").split(),
            "icmp_block_inversion": fields.get("icmp-block-inversion") == "yes"}


def parse_ufw_status(text):
    """``ufw status``: {"active", "rules": [{low, high, proto (None: both), action, anywhere}]}, IPv4 rules only."""
    rules = []
    for line in (text or "").splitlines():
        match = _UFW_RULE_RE.match(line.strip())
        if not match or "(v6)" in line:
            continue
        rules.append({"low": int(match.group("lo")), "high": int(match.group("hi") or match.group("lo")),
                      "proto": match.group("proto"), "action": match.group("action"),
                      "anywhere": match.group("source").startswith("Anywhere")})
    return {"active": "Status: active" in (text or ""), "rules": rules}


def parse_ufw_defaults(text):
    """DEFAULT_INPUT_POLICY of /etc/default/ufw (DROP when unset)."""
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "DEFAULT_INPUT_POLICY":
            return value.strip().strip('"').strip("'").upper()
    return "DROP"


def ufw_echo_request_action(before_rules):
    """The action of ufw's echo-request rule in /etc/ufw/before.rules (ACCEPT by default), None when unreadable."""
    if before_rules is None:
        return None
    for line in before_rules.splitlines():
        fields = line.split()
        if "ufw-before-input" in fields and "echo-request" in fields and "-j" in fields:
            return fields[fields.index("-j") + 1] if fields.index("-j") + 1 < len(fields) else None
    return "DROP"


def _firewalld_open(zone, proto, port):
    if zone["target"] == "ACCEPT":
        return True
    if proto == "icmp":
        listed = port in zone["icmp_blocks"]
        if zone["icmp_block_inversion"]:
            return listed
        return not listed and zone["target"] not in ("DROP", "REJECT", "%%REJECT%%")
    return proto in zone["protocols"] or any(low <= port <= high and proto == p for low, high, p in zone["ports"])


def _ufw_open(state, proto, port, strict=False):
    """Whether ufw lets ``proto/port`` in; ``strict`` is nodeadm's reading (an explicit single-port ALLOW from Anywhere)."""
    if strict:
        return any(r["low"] == r["high"] == port and r["proto"] == proto and r["action"] == "ALLOW" and r["anywhere"]
                   for r in state["rules"])
    if proto == "icmp":
        action = ufw_echo_request_action(state.get("before_rules"))
        return None if action is None else action == "ACCEPT"
    if state.get("default_input") == "ACCEPT":
        return True
    return any(r["low"] <= port <= r["high"] and r["proto"] in (None, proto) and r["action"] in ("ALLOW", "LIMIT")
               for r in state["rules"])


def _firewall_state(fw):
    if fw["name"] == "firewalld":
        zone = parse_firewalld_zone(fw.get("permanent"))
        return {"name": "firewalld", "zone": zone,
                "runtime": parse_firewalld_zone(fw.get("runtime")) if fw.get("runtime") else zone}
    return dict(parse_ufw_status(fw.get("status")), name="ufw", default_input=fw.get("default_input", "DROP"),
                before_rules=fw.get("before_rules"))


def _firewall_open(state, proto, port, strict=False):
    """Whether the firewall lets proto/port in; ``strict``: nodeadm's reading (firewalld: the permanent zone, the
    same; ufw: an explicit rule)."""
    if state["name"] == "firewalld":
        return _firewalld_open(state["zone"], proto, port)
    return _ufw_open(state, proto, port, strict)


def _open_command(name, proto, port, zone=None):
    if name == "firewalld":
        if proto == "icmp":
            verb = "--add-icmp-block" if zone and zone["icmp_block_inversion"] else "--remove-icmp-block"
            return "firewall-cmd --permanent %s=%s && firewall-cmd --reload" % (verb, port)
        return "firewall-cmd --permanent --add-port=%s/%s && firewall-cmd --reload" % (port, proto)
    if proto == "icmp":
        return "restore '-A ufw-before-input -p icmp --icmp-type echo-request -j ACCEPT' in /etc/ufw/before.rules, then ufw reload"
    return "ufw allow %s/%s" % (port, proto)


def _port_reading(state, want):
    """One wanted port (FIREWALL_PORTS) as one active firewall has it, with what the messages name."""
    name, proto, port = state["name"], want["proto"], want["port"]
    label = "%s/%s" % (proto, port)
    opened = _firewall_open(state, proto, port)
    note = " (open at runtime only: nodeadm init reloads firewalld and loses it)" if (
        name == "firewalld" and not opened and _firewalld_open(state["runtime"], proto, port)) else ""
    return {"name": name, "label": label, "use": want["use"], "opened": opened, "note": note,
            "item": "firewall:%s:%s" % (name, label), "command": _open_command(name, proto, port, state.get("zone"))}


def _cni_validation_check(state, want, seen, nodeadm_reads, skip_cni_validation):
    """The VXLAN port, which nodeadm init's cni-validation reads itself: an explicit rule for 8472/udp or 4789/udp."""
    label, name = seen["label"], seen["name"]
    nodeadm_ok = not nodeadm_reads or _firewall_open(state, want["proto"], want["port"], True) or \
        _firewall_open(state, want["proto"], CALICO_VXLAN_PORT, True)
    if seen["opened"] and nodeadm_ok:
        return check(seen["item"], True, "hard", "%s (%s) is open in %s" % (label, want["use"], name))
    if not seen["opened"]:
        message = "%s (%s) is not open in %s%s" % (label, want["use"], name, seen["note"])
        if nodeadm_reads and not nodeadm_ok:
            message += ("; nodeadm init's cni-validation fails unless %s or udp/%d is open"
                        % (label, CALICO_VXLAN_PORT))
        elif nodeadm_reads:
            message += "; nodeadm accepts udp/%d, but Cilium's VXLAN uses %s" % (CALICO_VXLAN_PORT, label)
    else:
        message = ("%s (%s) is open in %s only by its default policy; nodeadm init's cni-validation reads "
                   "only an explicit rule and fails" % (label, want["use"], name))
    return check(
        seen["item"], False, "soft" if skip_cni_validation else "hard",
        message + (" (cni-validation is skipped)" if skip_cni_validation else ""),
        "Open it: %s. Or, when the nodes do not use VXLAN, skip nodeadm's check: add cni-validation to "
        "nodeadm_skip_phases (nodeadm init --skip cni-validation)." % seen["command"])


def _port_check(state, want, nodeadm_reads, skip_cni_validation):
    """One wanted port (FIREWALL_PORTS) in one active firewall."""
    seen = _port_reading(state, want)
    label, name, item_name = seen["label"], seen["name"], seen["item"]
    if seen["opened"] is None:
        return check(item_name, False, "soft", "%s (%s) in %s: unknown (rules unreadable)" % (
            label, want["use"], name), "Run the preflight as root, or check that %s is allowed." % label)
    if want.get("nodeadm") == "cni-validation":
        return _cni_validation_check(state, want, seen, nodeadm_reads, skip_cni_validation)
    if seen["opened"]:
        return check(item_name, True, "hard", "%s (%s) is open in %s" % (label, want["use"], name))
    if want.get("nodeadm") == "opens" and nodeadm_reads:
        return check(item_name, True, "hard", "%s (%s) is closed in %s; nodeadm init opens it" % (
            label, want["use"], name))
    return check(item_name, False, "hard", "%s (%s) is not open in %s%s" % (
        label, want["use"], name, seen["note"]), "Open it: %s." % seen["command"])


def check_firewall(firewalls, os_info, skip_cni_validation=False):
    """firewalls: [{name: firewalld|ufw, active: True|None, error, permanent, runtime (firewalld: --list-all texts) |
    status, default_input, before_rules (ufw)}] of the firewalls found installed and not stopped."""
    checks = []
    if not any(f.get("active") is not False for f in firewalls):
        return [check("firewall", True, "hard", "no firewalld or ufw active")]
    managed = "ufw" if (os_info or {}).get("id") == "ubuntu" else "firewalld"
    for fw in firewalls:
        name = fw["name"]
        if fw.get("active") is None or fw.get("error"):
            checks.append(check("firewall:%s" % name, False, "soft", "%s state unreadable (%s)" % (name, fw.get("error")),
                                "Run the preflight as root (become: true) so that it can read %s, or check by hand "
                                "that 8472/udp, 4240/tcp, 10250/tcp, 10256/tcp and ICMP echo are open." % name))
            continue
        if not fw.get("active"):
            continue
        state = _firewall_state(fw)
        checks.extend(_port_check(state, want, name == managed, skip_cni_validation) for want in FIREWALL_PORTS)
    return checks


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
    """listeners: [{proto, port, pid, name}]; ports: [{proto, port, use, owners}]."""
    checks = []
    for want in ports:
        holders = [item for item in listeners if item["proto"] == want["proto"] and item["port"] == int(want["port"])]
        who = ", ".join("%s (pid %s)" % (h.get("name") or "?", h.get("pid") or "?") for h in holders)
        owned = bool(holders) and all(h.get("name") in want.get("owners", ()) for h in holders)
        state = "held by %s, its own (the host has joined)" % who if owned else "taken by %s" % who if holders else "free"
        checks.append(check("port:%s/%s" % (want["proto"], want["port"]), owned or not holders, "hard",
                            "%s/%s (%s) is %s" % (want["proto"], want["port"], want.get("use", ""), state),
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
    checks.append(check_kernel(facts["kernel"], options.get("cilium_version"), facts["os"]))
    checks.append(check_architecture(facts["machine"], options.get("architecture")))
    checks += check_commands(facts.get("commands") or {}, facts.get("required_commands") or BASE_COMMANDS,
                             os_family(facts["os"]), host_prep)
    checks.append(check_root_shell(facts.get("root_shell"), host_prep))
    checks.append(check_docker(facts.get("docker") or [], options.get("palette_agent_mode")))
    checks.append(check_containerd_source(facts["os"], options.get("containerd_source")))
    checks += check_firewall(facts.get("firewalls") or [], facts["os"], options.get("skip_cni_validation"))
    checks += check_address(facts.get("addresses") or [], facts.get("nic"), options.get("remote_node_cidrs"))
    checks += check_ports(facts.get("listeners") or [], options.get("ports") or DEFAULT_PORTS)
    if facts.get("endpoints") is not None:
        checks += check_endpoints(facts["endpoints"], options.get("proxy"))
    checks += check_resources(facts.get("swaps") or [], facts.get("free_disk") or {}, facts.get("mem_total_kb"),
                              options.get("min_disk_gb", 20), options.get("min_memory_mb", 2048), host_prep)
    return checks


def check_containerd_source(os_info, wanted):
    """The containerd source nodeadm install will use on this OS (wanted, else the OS's default) is one nodeadm takes
    there (aws/eks-hybrid internal/containerd/install.go refuses distro on RHEL and docker on AL2023)."""
    source, problem = nodeadm_rules.containerd_source_for((os_info or {}).get("id"), wanted or None)
    return check("containerd_source", problem is None, "hard",
                 "containerd source %s %s" % (source, "is refused by nodeadm on this OS" if problem else "is taken"),
                 problem or "")


def summary(checks):
    failed = [c for c in checks if not c["ok"] and c["severity"] == "hard"]
    warnings = [c for c in checks if not c["ok"] and c["severity"] == "soft"]
    return failed, warnings


def failure_message(failed):
    return "%d preflight check(s) failed: %s" % (
        len(failed), " | ".join("%s: %s. Fix: %s" % (c["name"], c["message"], c["fix"]) for c in failed))
