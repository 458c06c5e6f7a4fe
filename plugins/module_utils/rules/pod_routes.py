# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pod-CIDR routes of hybrid nodes running Cilium, as pure functions over plain data.

Without BGP, the site's router (or the VPN gateway) needs one static route
per hybrid node: "the node's pod CIDR via the node". Cilium's cluster-pool
IPAM writes each node's pod CIDRs in its CiliumNode (``spec.ipam.podCIDRs``).

The next hop is the node's ``InternalIP`` (from the Node object) by default.
The Palette page that describes this table says InternalIP in its text but
shows the CiliumInternalIP (``spec.addresses`` type ``CiliumInternalIP``) in
its example. The InternalIP is the right one: it is the node's address on the
remote node network, which the gateway reaches directly; the CiliumInternalIP
is the node's address *inside its own pod CIDR*, so a route "pod CIDR via an
address inside that pod CIDR" cannot be resolved by the gateway.

``plan_routes`` is linear apart from one sort (overlaps are found with a
sweep over the CIDRs ordered by start address), so 10,000 nodes plan well
under a second.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

NEXT_HOPS = ("internal_ip", "cilium_internal_ip")


def node_internal_ips(nodes):
    """{node name: first InternalIP} of a list of Node objects (dicts, as the API returns them)."""
    found = {}
    for node in nodes or []:
        name = (node.get("metadata") or {}).get("name")
        for address in ((node.get("status") or {}).get("addresses") or []):
            if address.get("type") == "InternalIP" and address.get("address") and name not in found:
                found[name] = address["address"]
    return found


def cilium_internal_ip(cilium_node):
    for address in ((cilium_node.get("spec") or {}).get("addresses") or []):
        if address.get("type") == "CiliumInternalIP" and address.get("ip"):
            return address["ip"]
    return None


class Cidr(object):
    """A network as (version, first, last) integers: cheap to compare for 10,000 nodes."""

    __slots__ = ("version", "first", "last", "text")

    def __init__(self, version, first, last, text):
        self.version, self.first, self.last, self.text = version, first, last, text

    def __str__(self):
        return self.text

    def within(self, other):
        return self.version == other.version and other.first <= self.first and self.last <= other.last


def _parse(text):
    """A Cidr, or None when the text is not a network (host bits set included). IPv4 without ipaddress (speed)."""
    text = str(text).strip()
    address, sep, length = text.partition("/")
    parts = address.split(".")
    if sep and len(parts) == 4 and length.isdigit() and all(part.isdigit() and len(part) <= 3 for part in parts):
        prefix = int(length)
        octets = [int(part) for part in parts]
        if prefix > 32 or max(octets) > 255:
            return None
        value = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
        size = 1 << (32 - prefix)
        if value % size:
            return None
        return Cidr(4, value, value + size - 1, "%d.%d.%d.%d/%d" % tuple(octets + [prefix]))
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None
    return Cidr(network.version, int(network.network_address), int(network.broadcast_address), str(network))


def plan_routes(cilium_nodes, internal_ips, remote_pod_cidrs, next_hop="internal_ip"):
    """{'routes': [{'destination', 'next_hop', 'node'}], 'problems': [str]} for CiliumNode objects.

    Problems (all reported): a remote pod CIDR or pod CIDR that is not a network, a node without pod CIDRs or
    without a next hop, a pod CIDR outside every remote pod CIDR, pod CIDRs that overlap (within one node or
    across nodes). Routes are sorted by node name, then by CIDR as allocated.
    """
    if next_hop not in NEXT_HOPS:
        raise ValueError("next_hop must be one of %s" % ", ".join(NEXT_HOPS))
    problems = []
    remote = []
    for text in remote_pod_cidrs or []:
        network = _parse(text)
        if network is None:
            problems.append("remote_pod_cidrs: %r is not a network in CIDR notation; give it like 10.201.0.0/16." % text)
        else:
            remote.append(network)
    if not remote_pod_cidrs:
        problems.append("remote_pod_cidrs is empty; give the cluster's remote pod networks (hybrid_remote_pod_cidrs).")

    routes = []
    allocated = []  # (network, node)
    for cilium_node in sorted(cilium_nodes or [], key=lambda item: (item.get("metadata") or {}).get("name") or ""):
        name = (cilium_node.get("metadata") or {}).get("name")
        pod_cidrs = (((cilium_node.get("spec") or {}).get("ipam") or {}).get("podCIDRs")) or []
        hop = internal_ips.get(name) if next_hop == "internal_ip" else cilium_internal_ip(cilium_node)
        if not pod_cidrs:
            problems.append("CiliumNode %s has no pod CIDR (spec.ipam.podCIDRs) yet; wait for the Cilium operator to "
                            "allocate one, or check that cilium-config uses cluster-pool IPAM." % name)
            continue
        if not hop:
            if next_hop == "internal_ip":
                problems.append("node %s has no InternalIP in its Node status (or no Node object); check the kubelet's "
                                "--node-ip (nodeadm's node IP) on that host." % name)
            else:
                problems.append("CiliumNode %s has no CiliumInternalIP in spec.addresses; is the Cilium agent running "
                                "on it?" % name)
        for text in pod_cidrs:
            network = _parse(text)
            if network is None:
                problems.append("CiliumNode %s: pod CIDR %r is not a network in CIDR notation." % (name, text))
                continue
            if remote and not any(network.within(outer) for outer in remote):
                problems.append("CiliumNode %s: pod CIDR %s lies outside the remote pod networks %s; make Cilium's "
                                "cluster-pool-ipv4-cidr one of them (or add it to the cluster's remote pod networks)."
                                % (name, network, ", ".join(str(outer) for outer in remote)))
            allocated.append((network, name))
            if hop:
                routes.append({"destination": str(network), "next_hop": hop, "node": name})
    problems.extend(overlaps(allocated))
    return {"routes": routes, "problems": problems}


def overlaps(allocated):
    """Problems for pod CIDRs that overlap, from [(network, node)], by one sort and a sweep."""
    problems = []
    for version in (4, 6):
        items = sorted(((net.first, net.last, net, node)
                        for net, node in allocated if net.version == version), key=lambda item: (item[0], -item[1]))
        widest = None  # the item reaching furthest so far
        for item in items:
            if widest is not None and item[0] <= widest[1]:
                problems.append("pod CIDR %s of %s overlaps %s of %s; Cilium's IPAM must give each node its own pod "
                                "CIDR: check for a second IPAM pool or a CiliumNode edited by hand."
                                % (item[2], item[3], widest[2], widest[3]))
            if widest is None or item[1] > widest[1]:
                widest = item
    return problems
