# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The network rules of EKS Hybrid Nodes, as pure functions over plain data.

EKS accepts remote node and remote pod networks only when they are IPv4,
inside RFC 1918, between /8 and /32, and overlap neither each other, the VPC
CIDRs nor the cluster's service CIDR. A node whose address lies outside the
remote node networks cannot join: nodeadm init refuses it (node-ip-validation,
aws/eks-hybrid internal/network/interface.go), and with that check skipped its
certificate requests stay Pending.

Every function here returns *all* the problems it finds, each a dict naming
the rule (``code``), the inventory variables and CIDRs involved, and the fix,
so that one run can report everything wrong with an inventory at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

try:
    import netaddr
except ImportError:
    netaddr = None
    NETADDR_IMPORT_ERROR = traceback.format_exc()
else:
    NETADDR_IMPORT_ERROR = None

RFC1918_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
MIN_PREFIX = 8
MAX_PREFIX = 32

# The inventory variables the four groups of CIDRs come from; callers whose
# options have other names (a module's ``remote_node_cidrs``) pass their own.
DEFAULT_NAMES = {
    "vpc": "hybrid_vpc_cidrs",
    "service": "hybrid_service_cidr",
    "node": "hybrid_remote_node_cidrs",
    "pod": "hybrid_remote_pod_cidrs",
}

_GROUP_TITLES = {
    "vpc": "VPC CIDR",
    "service": "service CIDR",
    "node": "remote node network",
    "pod": "remote pod network",
}


class MissingNetaddr(Exception):
    """netaddr is needed on the controller for the CIDR rules."""


def _require_netaddr():
    if netaddr is None:
        raise MissingNetaddr(
            "The Python library netaddr is required on the Ansible controller for the "
            "EKS Hybrid Nodes CIDR rules; install it with 'pip install netaddr'."
        )


def problem(code, message, fix, variable=None, cidrs=None, host=None):
    """Build one problem record (a plain dict, ready for JSON and templates)."""
    record = {"code": code, "message": message, "fix": fix}
    if variable is not None:
        record["variable"] = variable
    if cidrs is not None:
        record["cidrs"] = [str(cidr) for cidr in cidrs]
    if host is not None:
        record["host"] = host
    return record


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def parse_ipv4_cidr(value, variable, strict=True):
    """Parse one CIDR.

    Returns ``(network, problems)``: ``network`` is a netaddr.IPNetwork (or
    None when the value cannot be used at all) and ``problems`` lists what is
    wrong with its form: not CIDR notation, not IPv4, host bits set.
    """
    _require_netaddr()
    text = str(value).strip()
    if "/" not in text:
        return None, [problem(
            "not-cidr", "%s: %r is not in CIDR notation (address/prefix)." % (variable, text),
            "Write it as a network with its prefix length, for example 10.200.0.0/16.",
            variable=variable, cidrs=[text])]
    try:
        network = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None, [problem(
            "invalid", "%s: %r is not a valid CIDR." % (variable, text),
            "Write it as an IPv4 network with its prefix length, for example 10.200.0.0/16.",
            variable=variable, cidrs=[text])]
    if network.version != 4:
        return None, [problem(
            "ipv6", "%s: %s is IPv6; EKS Hybrid Nodes networks are IPv4 only." % (variable, text),
            "Use IPv4 RFC 1918 ranges for the remote networks and an IPv4 cluster.",
            variable=variable, cidrs=[text])]
    problems = []
    if strict and network.ip != network.network:
        problems.append(problem(
            "host-bits", "%s: %s has host bits set; the network is %s." % (variable, text, network.cidr),
            "Write %s." % network.cidr, variable=variable, cidrs=[text]))
    return network.cidr, problems


def check_remote_cidr(network, variable):
    """The per-CIDR rules for a remote node or pod network: RFC 1918, /8 to /32."""
    problems = []
    if network.prefixlen < MIN_PREFIX:
        problems.append(problem(
            "prefix-too-short",
            "%s: %s is larger than a /%d; EKS accepts remote networks from /%d to /%d."
            % (variable, network, MIN_PREFIX, MIN_PREFIX, MAX_PREFIX),
            "Split it into networks of /%d or longer." % MIN_PREFIX, variable=variable, cidrs=[network]))
    if not in_rfc1918(network):
        problems.append(problem(
            "not-rfc1918",
            "%s: %s is not inside RFC 1918 (%s); EKS accepts only private remote networks."
            % (variable, network, ", ".join(RFC1918_CIDRS)),
            "Choose a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.",
            variable=variable, cidrs=[network]))
    return problems


def in_rfc1918(network):
    """True when the whole network lies inside one RFC 1918 block."""
    _require_netaddr()
    return any(network in netaddr.IPNetwork(block) for block in RFC1918_CIDRS)


def _overlap_problem(group_a, net_a, var_a, group_b, net_b, var_b):
    if group_a == group_b:
        message = "%s: %s and %s overlap." % (var_a, net_a, net_b)
        fix = "Merge them into one CIDR or remove one of them."
    else:
        message = "%s %s (%s) overlaps %s %s (%s)." % (
            _GROUP_TITLES[group_a], net_a, var_a, _GROUP_TITLES[group_b], net_b, var_b)
        fix = "Change %s or %s so that the two ranges are disjoint." % (var_a, var_b)
    return problem("overlap", message, fix, variable=var_a, cidrs=[net_a, net_b])


def check_network_plan(vpc_cidrs=None, service_cidr=None, remote_node_cidrs=None,
                       remote_pod_cidrs=None, names=None, require_node_cidrs=True):
    """Check the whole EKS Hybrid Nodes network plan and return every problem.

    ``vpc_cidrs``, ``remote_node_cidrs`` and ``remote_pod_cidrs`` are lists of
    strings; ``service_cidr`` a string or None (unknown yet). ``names`` maps the
    groups ``vpc``, ``service``, ``node`` and ``pod`` to the variable names used
    in messages.
    """
    _require_netaddr()
    names = dict(DEFAULT_NAMES, **(names or {}))
    problems = []
    parsed = []  # (group, network, variable)

    groups = (
        ("vpc", _as_list(vpc_cidrs)),
        ("service", _as_list(service_cidr)),
        ("node", _as_list(remote_node_cidrs)),
        ("pod", _as_list(remote_pod_cidrs)),
    )
    for group, values in groups:
        variable = names[group]
        for value in values:
            network, found = parse_ipv4_cidr(value, variable, strict=group in ("node", "pod"))
            problems.extend(found)
            if network is None:
                continue
            if group in ("node", "pod"):
                problems.extend(check_remote_cidr(network, variable))
            parsed.append((group, network, variable))

    if require_node_cidrs and not _as_list(remote_node_cidrs):
        problems.append(problem(
            "missing", "%s is empty; a hybrid cluster needs at least one remote node network." % names["node"],
            "Set %s to the CIDRs your edge hosts' addresses are in." % names["node"], variable=names["node"]))

    # Overlaps: across groups always; within a group for the remote networks
    # (the VPC's own CIDRs are AWS's business, and there is one service CIDR).
    for index, (group_a, net_a, var_a) in enumerate(parsed):
        for group_b, net_b, var_b in parsed[index + 1:]:
            if group_a == group_b and group_a not in ("node", "pod"):
                continue
            if _overlaps(net_a, net_b):
                problems.append(_overlap_problem(group_a, net_a, var_a, group_b, net_b, var_b))
    return problems


def _overlaps(net_a, net_b):
    return net_a.first <= net_b.last and net_b.first <= net_a.last


def address_in_networks(address, networks):
    """True when the IPv4 address lies in one of the CIDRs (invalid ones are skipped)."""
    _require_netaddr()
    try:
        ip = netaddr.IPAddress(str(address).split("/", maxsplit=1)[0])
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False
    for cidr in _as_list(networks):
        try:
            if ip in netaddr.IPNetwork(str(cidr)):
                return True
        except (netaddr.AddrFormatError, ValueError, TypeError):
            continue
    return False


def check_node_address(host, address, remote_node_cidrs, variable="ansible_host",
                       networks_variable=DEFAULT_NAMES["node"]):
    """A node's address must be an IPv4 address inside the remote node networks.

    Otherwise nodeadm init refuses the node (node-ip-validation); with that
    check skipped the kubelet's certificate requests stay Pending and logs,
    exec and webhooks fail for that node.
    """
    _require_netaddr()
    text = str(address).split("/", maxsplit=1)[0] if address is not None else ""
    try:
        ip = netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return [problem(
            "address-invalid", "%s: %s=%r is not an IPv4 address." % (host, variable, address),
            "Set %s (or hybrid_node_ip) to the node's IPv4 address in %s." % (variable, networks_variable),
            variable=variable, host=host)]
    if ip.version != 4:
        return [problem(
            "address-invalid", "%s: %s=%s is not IPv4; hybrid nodes register an IPv4 node IP." % (host, variable, ip),
            "Give the host an IPv4 address inside %s." % networks_variable, variable=variable, host=host)]
    if not address_in_networks(ip, remote_node_cidrs):
        return [problem(
            "address-outside",
            "%s: node address %s is outside the remote node networks %s (%s); nodeadm init refuses it "
            "(node-ip-validation), and with that check skipped its kubelet certificate requests would stay "
            "Pending." % (
                host, ip, ", ".join(str(c) for c in _as_list(remote_node_cidrs)) or "(none)", networks_variable),
            "Add a CIDR containing %s to %s, or give the host an address inside them." % (ip, networks_variable),
            variable=variable, cidrs=_as_list(remote_node_cidrs), host=host)]
    return []


def same_cidr_sets(left, right):
    """True when two CIDR lists describe the same set of networks (order and spelling aside)."""
    _require_netaddr()
    try:
        return (sorted(str(netaddr.IPNetwork(str(c)).cidr) for c in _as_list(left))
                == sorted(str(netaddr.IPNetwork(str(c)).cidr) for c in _as_list(right)))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False


def format_problems(problems):
    """One line per problem, with its fix: for fail_json messages."""
    return "\n".join("- %s Fix: %s" % (item["message"], item["fix"]) for item in problems)
