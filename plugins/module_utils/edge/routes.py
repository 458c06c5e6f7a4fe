# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Static routes on an edge host, as pure functions over plain data.

An EKS hybrid node reaches the VPC (the cluster endpoint, the cloud workers)
through the site's VPN server: "the VPC CIDRs via hybrid_vpn_server_ip". This
module turns the desired routes, the kernel's routes (``ip -j route``) and
what the collection wrote before into a plan, and renders the one file that
makes the routes survive a reboot for whichever network stack is in charge:

- systemd-networkd: a drop-in ``<network file>.d/hybridnodes-eks-routes.conf``
  with one ``[Route]`` section per route;
- netplan: ``/etc/netplan/90-hybridnodes-eks-routes.yaml`` (netplan merges it);
- NetworkManager: a dispatcher script that re-applies the routes when the
  interface comes up;
- ifupdown: an ``if-up.d`` hook doing the same;
- RHEL network-scripts: ``route-<nic>`` (only when no one else owns it).

The file is the marker of what the collection manages: routes are removed
only when the file lists them, so routes written by others are never touched.
Each route set has its own file: the edge hosts' VPC routes (set ``vpc``, the
original file name) and, on a Linux VPN gateway, the pod CIDR of every hybrid
node via its InternalIP (set ``pods``, each destination with its own next hop,
``purge_within`` bounding what a run may delete).
Runs on the managed host: Python standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import ipaddress
import re

MARKER = "hybridnodes.eks"
FILE_STEM = "hybridnodes-eks-routes"
# The route set of the edge hosts' VPC routes, whose file keeps the original name and header.
DEFAULT_ROUTE_SET = "vpc"
ROUTE_SET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
STACKS = ("networkd", "netplan", "networkmanager", "ifupdown", "ifcfg")
NETWORKD_DIRS = ("/etc/systemd/network", "/run/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network")
HEADER = "# Managed by %s (static_route): routes to the EKS VPC via the VPN server. Do not edit.\n" % MARKER


class RouteInputError(ValueError):
    """Options that cannot make a valid route, reported before any change."""


def file_stem(route_set=DEFAULT_ROUTE_SET):
    """The file name stem of a route set: each set has its own file, the record of the routes it manages."""
    if route_set in (None, "", DEFAULT_ROUTE_SET):
        return FILE_STEM
    return "%s-%s" % (FILE_STEM, route_set)


def header(route_set=DEFAULT_ROUTE_SET):
    """The first comment line of a route set's file; it tells which set owns the file."""
    if route_set in (None, "", DEFAULT_ROUTE_SET):
        return HEADER
    return "# Managed by %s (static_route, route set %s). Do not edit.\n" % (MARKER, route_set)


def owned(text, route_set=DEFAULT_ROUTE_SET):
    """Whether an existing file was written for this route set (and may be rewritten or removed)."""
    return header(route_set).rstrip("\n") in (text or "").splitlines()


def route_set_problem(route_set):
    """Why ``route_set`` cannot name a route set, or None."""
    if not ROUTE_SET_PATTERN.match(route_set or ""):
        return ("route_set %r must be 1 to 32 lower-case letters, digits or dashes (it names the route file), "
                "such as pods." % (route_set,))
    return None


# A Linux interface name as the kernel accepts it (net/core/dev.c dev_valid_name: 1 to 15 bytes, not "." or "..", no
# "/", ":" or white space), and not starting with "-" so that it can never read as an option of ip.
INTERFACE_PATTERN = re.compile(r"^(?!-)(?!\.{1,2}$)[^/:\s]{1,15}$")


def interface_problem(nic):
    """Why ``nic`` cannot be an interface name (V(auto) aside), or None."""
    if nic == "auto" or INTERFACE_PATTERN.match(nic or ""):
        return None
    return ("nic %r is not an interface name: 1 to 15 characters, without '/', ':', white space or a leading '-' "
            "(such as eth0 or ens192); set hybrid_nic to the interface of the edge network, or auto." % (nic,))


# network() results by text: validating, planning and sorting 10,000 pod routes parse each destination several
# times, and ipaddress is the cost (the objects are immutable; bounded, and a module run is one process).
_NETWORKS = {}
_NETWORKS_MAX = 100000


def network(text):
    """An IPv4 network from a CIDR or an address (a /32), normalised."""
    key = str(text).strip()
    value = _NETWORKS.get(key)
    if value is None:
        value = ipaddress.ip_network(key, strict=False)
        if value.version != 4:
            raise ValueError("%s is not IPv4" % text)
        if len(_NETWORKS) < _NETWORKS_MAX:
            _NETWORKS[key] = value
    return value


def input_problems(destinations, gateway, state):
    """Every problem with the options, as messages naming the value and the fix."""
    problems = []
    if state == "present":
        if not destinations:
            problems.append("destinations is empty: give the EKS VPC CIDRs (hybrid_vpc_cidrs), or use state=absent.")
        if not gateway:
            problems.append("gateway is missing: give the VPN server IP (hybrid_vpn_server_ip), or use state=absent.")
    for dest in destinations or []:
        try:
            network(dest)
        except ValueError:
            problems.append("destination %r is not an IPv4 CIDR such as 10.100.0.0/16; fix hybrid_vpc_cidrs." % dest)
    gw = None
    if gateway:
        try:
            gw = ipaddress.ip_address(str(gateway).strip())
            if gw.version != 4:
                raise ValueError(gateway)
        except ValueError:
            problems.append("gateway %r is not an IPv4 address; fix hybrid_vpn_server_ip." % gateway)
            gw = None
    if gw is not None:
        for dest in destinations or []:
            try:
                if gw in network(dest):
                    problems.append("gateway %s lies inside destination %s: the VPN server must be reachable without "
                                    "this route; fix hybrid_vpn_server_ip or hybrid_vpc_cidrs." % (gw, dest))
            except ValueError:
                continue
    return problems


def _within(net, networks):
    return any(net.subnet_of(outer) for outer in networks)


def purge_networks(purge_within):
    """(networks, problems) of the purge_within option."""
    networks, problems = [], []
    for text in purge_within or []:
        try:
            networks.append(network(text))
        except ValueError:
            problems.append("purge_within %r is not an IPv4 CIDR such as 10.201.0.0/16; fix it (normally "
                            "hybrid_remote_pod_cidrs)." % (text,))
    return networks, problems


def routes_problems(routes, purge_within=None):
    """Every problem with the ``routes`` option (destinations with their own next hops), at once.

    ``routes``: [{"destination", "next_hop", "node"}]. A destination may appear once only; a next hop
    may not lie in its own destination; with ``purge_within`` every destination must lie inside it.
    """
    problems = []
    inside, problems_within = purge_networks(purge_within)
    problems.extend(problems_within)
    seen = {}
    for route in routes or []:
        dest, hop = route.get("destination"), route.get("next_hop")
        what = " (node %s)" % route["node"] if route.get("node") else ""
        try:
            net = network(dest)
        except ValueError:
            problems.append("routes: destination %r%s is not an IPv4 CIDR such as 10.201.0.0/25." % (dest, what))
            continue
        try:
            gw = ipaddress.ip_address(str(hop).strip())
            if gw.version != 4:
                raise ValueError(hop)
        except ValueError:
            problems.append("routes: next hop %r of %s%s is not an IPv4 address." % (hop, net, what))
            continue
        if gw in net:
            problems.append("routes: next hop %s of %s%s lies inside the destination; a next hop must be reachable "
                            "without the route (for pod CIDRs use the node's InternalIP)." % (gw, net, what))
        key, hop_text = str(net), str(gw)
        if key in seen and seen[key] != hop_text:
            problems.append("routes: %s is given twice, via %s and via %s%s; a destination has one next hop (two "
                            "nodes with one pod CIDR: check the CiliumNodes)." % (net, seen[key], gw, what))
        seen.setdefault(key, hop_text)
        if inside and not _within(net, inside):
            problems.append("routes: %s%s lies outside purge_within (%s); the route set manages only routes inside "
                            "it: fix the route or purge_within (hybrid_remote_pod_cidrs)."
                            % (net, what, ", ".join(str(n) for n in inside)))
    return problems


def desired_from_routes(routes, dev):
    """The routes wanted from the ``routes`` option: sorted, one per destination.

    Each destination is parsed once (ipaddress is the cost for 10,000 pod routes) and sorted by that parse.
    """
    seen = {}
    for route in routes or []:
        net = network(route["destination"])
        key = str(net)
        if key not in seen:
            seen[key] = (net, {"dst": key, "gateway": str(ipaddress.ip_address(str(route["next_hop"]).strip())),
                               "dev": dev})
    # (address, prefix length) orders as the networks themselves do, without ipaddress's Python-level comparisons
    return [item for _net, item in sorted(seen.values(),
                                          key=lambda pair: (int(pair[0].network_address), pair[0].prefixlen))]


def desired_routes(destinations, gateway, dev):
    """The routes wanted: one per destination, sorted, deduplicated."""
    seen = {}
    for dest in destinations or []:
        net = str(network(dest))
        seen[net] = {"dst": net, "gateway": str(ipaddress.ip_address(str(gateway).strip())), "dev": dev}
    return [seen[key] for key in sorted(seen, key=network)]


def parse_ip_routes(data):
    """Kernel routes from ``ip -j -4 route show table main`` (a parsed JSON list), IPv4 unicast only."""
    routes = []
    for item in data or []:
        if item.get("type", "unicast") != "unicast":
            continue
        dst = item.get("dst")
        if not dst:
            continue
        if dst == "default":
            dst = "0.0.0.0/0"
        try:
            net = str(network(dst))
        except ValueError:
            continue
        routes.append({"dst": net, "gateway": item.get("gateway"), "dev": item.get("dev"),
                       "protocol": item.get("protocol")})
    return routes


def next_hop_problem(gateway, route_get, nic=None, source="hybrid_vpn_server_ip"):
    """Why ``gateway`` cannot be a next hop, or None. ``route_get`` is ``ip -j route get GW`` parsed (or None).

    A next hop must be on-link: the kernel reaches it directly through an
    interface, not through another router. ``source`` names where the next hop
    comes from, for the fix (the VPN server IP, or a node's InternalIP).
    """
    if not route_get:
        return ("next hop %s is unreachable from this host (no route to it); %s must be an address "
                "on one of the host's networks." % (gateway, source))
    entry = route_get[0]
    if entry.get("type") not in (None, "unicast"):
        return "next hop %s is %s on this host; %s must be a neighbour address." % (gateway, entry.get("type"), source)
    if entry.get("gateway"):
        if source == "hybrid_vpn_server_ip":
            where = "the host's own network (the VPN server's LAN address); fix it or the host's address."
        else:
            where = "a network of this host (the gateway's leg on the edge network); check the node's address."
        return ("next hop %s is not on-link: this host reaches it through %s via %s. %s must be on %s"
                % (gateway, entry.get("gateway"), entry.get("dev"), source, where))
    if nic and entry.get("dev") != nic:
        return ("next hop %s is on-link on %s, not on %s (hybrid_nic); fix hybrid_nic or %s."
                % (gateway, entry.get("dev"), nic, source))
    return None


def plan(desired, kernel, managed, purge_within=None):
    """What to change in the kernel.

    ``desired``: routes wanted; ``kernel``: parse_ip_routes(); ``managed``:
    routes the persistent file lists (what the collection put there before).
    Returns {"replace": [...], "delete": [...], "keep": [...], "retain": [...]}:
    replace the desired routes the kernel lacks or holds otherwise; delete the
    managed routes no longer wanted that the kernel still holds as the file
    says. With ``purge_within`` (a list of CIDRs), only managed routes inside
    those networks are deleted; the others are left alone in the kernel and
    stay in the file (``retain``).
    """
    inside = purge_networks(purge_within)[0]
    by_dst = {}
    for route in kernel:
        by_dst.setdefault(route["dst"], []).append(route)
    replace, keep, delete = [], [], []
    wanted = set()
    for route in desired:
        wanted.add(route["dst"])
        current = by_dst.get(route["dst"], [])
        if any(c.get("gateway") == route["gateway"] and (not route.get("dev") or c.get("dev") == route["dev"])
               for c in current):
            keep.append(route)
        else:
            replace.append(route)
    retain = []
    for route in managed:
        if route["dst"] in wanted:
            continue
        if inside and not _within(network(route["dst"]), inside):
            if route not in retain:
                retain.append({"dst": route["dst"], "gateway": route["gateway"]})
            continue
        for current in by_dst.get(route["dst"], []):
            if current.get("gateway") == route["gateway"]:
                delete.append({"dst": route["dst"], "gateway": route["gateway"], "dev": current.get("dev")})
                break
    return {"replace": replace, "delete": delete, "keep": keep, "retain": retain}


def mass_removal_problem(managed, change, max_percent):
    """Why the plan removes too many of the routes the set holds, or None (pure).

    A removed route is a managed route the plan deletes, or whose destination it sends to another next hop. Refused:
    removing every managed route (there was at least one), or more than ``max_percent`` per cent of them. An empty or
    far smaller read of the wanted routes (the API server of another cluster, Cilium gone, a kubeconfig mix-up) must not
    cut every node's pods off.
    """
    def among(route, routes):
        return any(route["dst"] == other["dst"] and route["gateway"] == other["gateway"] for other in routes)

    held = [r for r in managed if not among(r, change["retain"])]
    if not held:
        return None
    moved = set(r["dst"] for r in change["replace"])
    removed = [r for r in held if among(r, change["delete"]) or (r["dst"] in moved and not among(r, change["keep"]))]
    if not removed:
        return None
    if len(removed) < len(held) and len(removed) * 100 <= max_percent * len(held):
        return None
    return ("the plan removes %d of the %d routes this route set holds (%s%s), more than max_removal_percent=%d%%: the "
            "read of the wanted routes may be wrong (another cluster, Cilium not running, nodes not registered); "
            "nothing was changed. Check the cluster, or allow it once with allow_mass_removal (the role option "
            "vpn_gateway_routes_allow_mass_removal, hybrid_allow_pod_route_mass_removal)."
            % (len(removed), len(held), ", ".join("%s via %s" % (r["dst"], r["gateway"]) for r in removed[:5]),
               ", ..." if len(removed) > 5 else "", max_percent))


def route_argv(ip_binary, action, route):
    """``ip route replace|del`` as an argument list."""
    argv = [ip_binary, "-4", "route", action, route["dst"], "via", route["gateway"]]
    if route.get("dev"):
        argv += ["dev", route["dev"]]
    if action == "replace":
        argv += ["proto", "static"]
    return argv


def describe(routes):
    """Routes as lines for a diff."""
    return "".join("%s via %s%s\n" % (r["dst"], r["gateway"], " dev %s" % r["dev"] if r.get("dev") else "")
                   for r in sorted(routes, key=lambda r: network(r["dst"])))


# --------------------------------------------------------------------------
# Detecting the network stack


def parse_ini_sections(text):
    """systemd-style INI: a list of (section, [(key, value), ...]) in order."""
    sections = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1].strip(), []))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1].append((key.strip(), value.strip()))
    return sections


def networkd_matches(text, nic):
    """Whether a .network file's [Match] Name= selects ``nic`` (other match keys are ignored)."""
    names = []
    for section, items in parse_ini_sections(text):
        if section == "Match":
            for key, value in items:
                if key == "Name":
                    names.extend(value.split())
    if not names:
        return False
    positive = [n for n in names if not n.startswith("!")]
    negative = [n[1:] for n in names if n.startswith("!")]
    if any(fnmatch.fnmatchcase(nic, pattern) for pattern in negative):
        return False
    return not positive or any(fnmatch.fnmatchcase(nic, pattern) for pattern in positive)


def networkd_network_file(files, nic):
    """The .network file systemd-networkd applies to ``nic``: ``files`` maps path -> text.

    networkd orders .network files by file name (a name in an earlier directory
    of NETWORKD_DIRS hides the same name in a later one) and the first whose
    [Match] selects the interface wins.
    """
    by_name = {}
    for directory in NETWORKD_DIRS:
        for path in sorted(p for p in files if p.startswith(directory + "/") and p.endswith(".network")):
            name = path.rsplit("/", 1)[1]
            by_name.setdefault(name, path)
    for name in sorted(by_name):
        if networkd_matches(files[by_name[name]], nic):
            return by_name[name]
    return None


def detect_stack(facts):
    """The network stack in charge of the NIC, from facts gathered on the host.

    ``facts``: nic, netplan_files (list of paths in /etc/netplan),
    networkmanager_active, networkmanager_manages_nic, networkd_active,
    networkd_files (path -> text), ifupdown_nics (NICs with an iface stanza),
    ifcfg_nics (NICs with /etc/sysconfig/network-scripts/ifcfg-NIC).
    Returns (stack or None, reason).
    """
    nic = facts.get("nic")
    netplan = [p for p in facts.get("netplan_files") or [] if not p.rsplit("/", 1)[-1].startswith("90-" + FILE_STEM)]
    if netplan:
        return "netplan", "netplan configuration in /etc/netplan (%s)" % ", ".join(sorted(netplan))
    if facts.get("networkmanager_active") and facts.get("networkmanager_manages_nic"):
        return "networkmanager", "NetworkManager is active and manages %s" % nic
    if facts.get("networkd_active"):
        path = networkd_network_file(facts.get("networkd_files") or {}, nic)
        if path:
            return "networkd", "systemd-networkd is active and %s configures %s" % (path, nic)
    if nic in (facts.get("ifupdown_nics") or []):
        return "ifupdown", "/etc/network/interfaces configures %s" % nic
    if nic in (facts.get("ifcfg_nics") or []):
        return "ifcfg", "/etc/sysconfig/network-scripts/ifcfg-%s configures %s" % (nic, nic)
    return None, "no network stack found in charge of %s (netplan, NetworkManager, systemd-networkd, ifupdown, ifcfg)" % nic


# --------------------------------------------------------------------------
# Persistent configuration per stack


def persistent_path(stack, nic, network_file=None, route_set=DEFAULT_ROUTE_SET):
    """Where the file of a route set lives for this stack (RHEL's route-<nic> is one file for every set)."""
    stem = file_stem(route_set)
    if stack == "networkd":
        if not network_file:
            raise RouteInputError("systemd-networkd needs the .network file that configures %s" % nic)
        name = network_file.rsplit("/", 1)[1]
        return "/etc/systemd/network/%s.d/%s.conf" % (name, stem)
    if stack == "netplan":
        return "/etc/netplan/90-%s.yaml" % stem
    if stack == "networkmanager":
        return "/etc/NetworkManager/dispatcher.d/50-%s" % stem
    if stack == "ifupdown":
        return "/etc/network/if-up.d/%s" % stem
    if stack == "ifcfg":
        return "/etc/sysconfig/network-scripts/route-%s" % nic
    raise RouteInputError("unknown network stack %r (one of %s)" % (stack, ", ".join(STACKS)))


def _hook_script(nic, routes, variable, first_line=HEADER):
    lines = ["#!/bin/sh", first_line.rstrip("\n"),
             '[ "%s" = "%s" ] || exit 0' % (variable, nic)]
    for route in routes:
        lines.append("ip -4 route replace %s via %s dev %s proto static" % (route["dst"], route["gateway"], nic))
    return "\n".join(lines) + "\n"


def render(stack, nic, routes, route_set=DEFAULT_ROUTE_SET):
    """The file content that makes ``routes`` persistent, or None when there are none (the file goes)."""
    if not routes:
        return None
    routes = sorted(routes, key=lambda r: network(r["dst"]))
    first = header(route_set)
    if stack == "networkd":
        return first + "".join("\n[Route]\nDestination=%s\nGateway=%s\n" % (r["dst"], r["gateway"]) for r in routes)
    if stack == "netplan":
        body = "".join("        - to: %s\n          via: %s\n" % (r["dst"], r["gateway"]) for r in routes)
        return first + "network:\n  version: 2\n  ethernets:\n    %s:\n      routes:\n%s" % (nic, body)
    if stack == "networkmanager":
        # NetworkManager runs dispatcher scripts with the interface as $1 and the action as $2.
        return _hook_script(nic, routes, "$1", first).replace(
            "|| exit 0", "|| exit 0\ncase \"$2\" in up|dhcp4-change|reapply) ;; *) exit 0 ;; esac", 1)
    if stack == "ifupdown":
        return _hook_script(nic, routes, "$IFACE", first)
    if stack == "ifcfg":
        return first + "".join("%s via %s dev %s\n" % (r["dst"], r["gateway"], nic) for r in routes)
    raise RouteInputError("unknown network stack %r (one of %s)" % (stack, ", ".join(STACKS)))


_NETPLAN_TO = re.compile(r"^\s*-\s*to:\s*(\S+)\s*$")
_NETPLAN_VIA = re.compile(r"^\s*via:\s*(\S+)\s*$")
_REPLACE = re.compile(r"route replace (\S+) via (\S+)")
_IFCFG = re.compile(r"^(\S+) via (\S+)")


def parse_persistent(stack, text):
    """The routes a file written by render() lists (empty for None or a file that is not ours)."""
    if not text or MARKER not in text:
        return []
    routes = []
    if stack == "networkd":
        for section, items in parse_ini_sections(text):
            if section == "Route":
                values = dict(items)
                if values.get("Destination") and values.get("Gateway"):
                    routes.append({"dst": values["Destination"], "gateway": values["Gateway"]})
    elif stack == "netplan":
        dst = None
        for line in text.splitlines():
            match = _NETPLAN_TO.match(line)
            if match:
                dst = match.group(1)
                continue
            match = _NETPLAN_VIA.match(line)
            if match and dst:
                routes.append({"dst": dst, "gateway": match.group(1)})
                dst = None
    elif stack in ("networkmanager", "ifupdown"):
        routes = [{"dst": m.group(1), "gateway": m.group(2)} for m in _REPLACE.finditer(text)]
    elif stack == "ifcfg":
        for line in text.splitlines():
            match = _IFCFG.match(line.strip())
            if match:
                routes.append({"dst": match.group(1), "gateway": match.group(2)})
    result = []
    for route in routes:
        try:
            result.append({"dst": str(network(route["dst"])), "gateway": route["gateway"]})
        except ValueError:
            continue
    return result


def file_mode(stack):
    """Permissions of the persistent file: hooks must be executable (and NetworkManager wants them root-only)."""
    if stack == "networkmanager":
        return 0o700
    if stack == "ifupdown":
        return 0o755
    return 0o600 if stack == "netplan" else 0o644


def plan_route_set(params, state):
    """The kernel changes, the routes recorded and the file's new text of the static_route module (no I/O).

    ``params`` are the module's options; ``state`` what it read: ``kernel`` (parse_ip_routes), ``dev``,
    ``stack``, ``path`` and ``before_text`` (the persistent file, or None)."""
    present, by_routes, dev = params["state"] == "present", params["routes"] is not None, state["dev"]
    managed = parse_persistent(state["stack"], state["before_text"]) if state["path"] else []
    if not present:
        desired = []
    elif by_routes:
        desired = desired_from_routes(params["routes"], dev)
    else:
        desired = desired_routes(params["destinations"], params["gateway"], dev)
    change = plan(desired, state["kernel"], managed, params["purge_within"] if present else None)
    problem = None
    if by_routes and present and not params["allow_mass_removal"]:
        problem = mass_removal_problem(managed, change, params["max_removal_percent"])
    recorded = sorted(desired + [dict(r, dev=dev) for r in change["retain"]], key=lambda r: network(r["dst"]))
    after_text = render(state["stack"], dev, recorded, params["route_set"]) if state["path"] else None
    file_changed = bool(state["path"]) and after_text != state["before_text"]
    return {"managed": managed, "change": change, "problem": problem, "recorded": recorded, "after_text": after_text,
            "file_changed": file_changed,
            "changed": bool(change["replace"] or change["delete"] or file_changed)}
