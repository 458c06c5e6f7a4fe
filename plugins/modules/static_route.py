#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: static_route
short_description: Static routes on a Linux host (edge host or VPN gateway), applied now and made persistent
version_added: 0.1.0
description:
  - Ensures the routes O(destinations) (the EKS VPC CIDRs, C(hybrid_vpc_cidrs)) via O(gateway)
    (the VPN server IP, C(hybrid_vpn_server_ip)) on the host it runs on.
  - Or, with O(routes), destinations each with its own next hop, such as the pod CIDR of every hybrid
    node via the node's InternalIP on a Linux VPN gateway (from M(hybridnodes.eks.cilium_pod_routes_info)),
    all in one execution.
  - Applies them at once with C(ip route replace) and makes them survive a reboot with one file for the
    network stack in charge of the interface, detected on the host (or given with O(network_stack)),
    that is a systemd-networkd drop-in C(<network file>.d/hybridnodes-eks-routes.conf), a netplan file
    C(/etc/netplan/90-hybridnodes-eks-routes.yaml), a NetworkManager dispatcher script, an ifupdown
    C(if-up.d) hook, or a RHEL C(route-<nic>) file.
  - That file is the record of what the module manages. With O(state=absent), or when a destination
    leaves O(destinations) or O(routes), only the routes the file lists are deleted from the kernel; routes written
    by others are never touched. Each O(route_set) has its own file, so the VPC routes of an edge host and the
    pod routes of a VPN gateway are managed apart.
  - Checks before any change, reporting every problem at once, that the options are IPv4 and that the
    next hop is on-link (reached directly, not through another router) on the interface (every next hop of
    O(routes), on one interface).
  - Reads the kernel's routes once (C(ip -j route)) and changes only what differs; a re-run changes nothing.
  - Runs on the managed host with the Python standard library and C(iproute2) only.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  destinations:
    description:
      - The networks to route, normally the EKS VPC CIDRs (C(hybrid_vpc_cidrs)).
      - Required with O(state=present).
    type: list
    elements: str
    default: []
  gateway:
    description:
      - The next hop, normally the VPN server IP on the edge network (C(hybrid_vpn_server_ip)).
      - Required with O(state=present) and O(destinations); must be on-link on O(nic).
    type: str
  routes:
    description:
      - Destinations each with its own next hop, instead of O(destinations) and O(gateway); the items of
        M(hybridnodes.eks.cilium_pod_routes_info)'s C(routes) fit as they are.
      - With O(state=present), exactly these routes are the route set; an empty list removes the set's routes
        (within O(purge_within)).
      - A destination may appear once; every next hop must be on-link on the same interface.
    type: list
    elements: dict
    suboptions:
      destination:
        description: The network to route (a pod CIDR).
        type: str
        required: true
      next_hop:
        description: The address the network is reached through (the node's InternalIP).
        type: str
        required: true
        aliases: [gateway]
      node:
        description: What the route serves (the node name), shown in problems.
        type: str
  route_set:
    description:
      - Names the routes this execution manages and their file (V(vpc) keeps the file name
        C(hybridnodes-eks-routes); another name such as V(pods) gives C(hybridnodes-eks-routes-pods)).
      - A run changes and removes only the routes of its own set. RHEL's C(route-<nic>) is one file per
        interface, so there one set per interface only.
    type: str
    default: vpc
  purge_within:
    description:
      - The networks this route set manages, normally the remote pod networks (C(hybrid_remote_pod_cidrs)).
      - When given, every wanted route must lie inside them, and a managed route that is no longer wanted
        is deleted only when it lies inside them (the others stay, in the kernel and in the file).
      - Empty means every managed route that is no longer wanted is deleted.
    type: list
    elements: str
    default: []
  max_removal_percent:
    description:
      - With O(routes), the share of the routes this route set holds that one run may remove (delete, or send to
        another next hop), in per cent. A plan that removes more, or every one of them, is refused before any change.
        An empty or far smaller read of the wanted routes (another cluster's API server, Cilium not running) must not
        cut every node's pods off.
    type: int
    default: 50
  allow_mass_removal:
    description:
      - With O(routes), allow a plan beyond O(max_removal_percent), or one that removes every route the set holds.
    type: bool
    default: false
  nic:
    description:
      - The interface the routes leave by. V(auto) means the interface of the default route.
    type: str
    default: auto
  network_stack:
    description:
      - Which configuration makes the routes persistent. V(auto) detects it on the host (netplan files,
        then an active NetworkManager that manages O(nic), then an active systemd-networkd with a
        C(.network) file for O(nic), then ifupdown, then RHEL network-scripts).
      - V(none) applies the routes to the kernel only (they are lost at reboot and cannot be removed by a
        later run with O(state=absent)).
    type: str
    default: auto
    choices: [auto, networkd, netplan, networkmanager, ifupdown, ifcfg, none]
  reload:
    description:
      - With systemd-networkd, run C(networkctl reload) after the drop-in changes, so that networkd's view
        matches the kernel's.
    type: bool
    default: true
  state:
    description:
      - V(present) ensures exactly O(destinations) via O(gateway) among the managed routes;
        V(absent) removes every route the module manages and its file.
attributes:
  check_mode:
    support: full
    details: Reads the host and predicts the plan without changing anything.
  diff_mode:
    support: full
    details: The managed routes and the persistent file, before and after.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.state]
"""

EXAMPLES = r"""
- name: Reach the EKS VPC through the VPN server
  hybridnodes.eks.static_route:
    destinations: "{{ hybrid_vpc_cidrs }}"
    gateway: "{{ hybrid_vpn_server_ip }}"
    nic: "{{ hybrid_nic | default('auto') }}"
  when: hybrid_vpn_server_ip is defined

- name: Read the pod CIDR of every hybrid node
  hybridnodes.eks.cilium_pod_routes_info:
    remote_pod_cidrs: "{{ hybrid_remote_pod_cidrs }}"
  register: pod_routes
  delegate_to: localhost
  run_once: true

- name: Route each pod CIDR via its node on the VPN gateway; the routes of departed nodes go
  hybridnodes.eks.static_route:
    routes: "{{ pod_routes.routes }}"
    route_set: pods
    purge_within: "{{ hybrid_remote_pod_cidrs }}"

- name: Remove the routes the collection manages
  hybridnodes.eks.static_route:
    state: absent
"""

RETURN = r"""
nic:
  description: The interface of the routes.
  returned: when it could be determined
  type: str
  sample: eth0
network_stack:
  description: The network stack whose configuration holds the routes, or V(none).
  returned: always
  type: str
  sample: networkd
network_stack_reason:
  description: Why that stack was chosen.
  returned: always
  type: str
  sample: systemd-networkd is active and /etc/systemd/network/10-eth0.network configures eth0
path:
  description: The file that makes the routes persistent (and records what the module manages).
  returned: when a network stack is in use
  type: str
  sample: /etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf
route_set:
  description: The route set of this run.
  returned: always
  type: str
  sample: pods
routes:
  description: The managed routes of the route set after the run (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"dst": "10.100.0.0/16", "gateway": "10.200.1.1", "dev": "eth0"}]
plan:
  description:
    - The kernel changes, C(replace) and C(delete) lists of routes, those already right in C(keep), and in
      C(retain) the managed routes no longer wanted that lie outside O(purge_within) and are left alone.
  returned: always
  type: dict
  sample: {"replace": [{"dst": "10.100.0.0/16", "gateway": "10.200.1.1", "dev": "eth0"}], "delete": [], "keep": [],
           "retain": []}
file_changed:
  description: Whether the persistent file was (or would be) written or removed.
  returned: always
  type: bool
  sample: true
"""

import glob
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import routes as rt
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.host_files import read_text


def _ip_json(module, ip_binary, args, what):
    rc, out, err = module.run_command([ip_binary, "-j", "-4"] + args)
    if rc != 0:
        return None, "`ip %s` failed (rc=%s): %s" % (" ".join(args), rc, err.strip() or out.strip())
    try:
        return json.loads(out or "[]"), None
    except ValueError:
        return None, "`ip -j %s` printed no JSON (%s); iproute2 with JSON output is needed for %s" % (
            " ".join(args), out.strip()[:200], what)


def _systemctl_active(module, unit):
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return False
    rc, out, _err = module.run_command([systemctl, "is-active", unit])
    return rc == 0 and out.strip() == "active"


def gather_stack_facts(module, nic):
    facts = {"nic": nic, "netplan_files": sorted(glob.glob("/etc/netplan/*.yaml") + glob.glob("/etc/netplan/*.yml"))}
    facts["networkmanager_active"] = _systemctl_active(module, "NetworkManager")
    if facts["networkmanager_active"]:
        nmcli = module.get_bin_path("nmcli")
        manages = False
        if nmcli:
            rc, out, _err = module.run_command([nmcli, "-t", "-f", "DEVICE,STATE", "device"])
            if rc == 0:
                for line in out.splitlines():
                    device, _sep, state = line.partition(":")
                    if device == nic and state not in ("unmanaged", ""):
                        manages = True
        facts["networkmanager_manages_nic"] = manages
    facts["networkd_active"] = _systemctl_active(module, "systemd-networkd")
    files = {}
    for directory in rt.NETWORKD_DIRS:
        for path in glob.glob(directory + "/*.network"):
            text = read_text(path)
            if text is not None:
                files[path] = text
    facts["networkd_files"] = files
    stanzas = []
    for path in ["/etc/network/interfaces"] + glob.glob("/etc/network/interfaces.d/*"):
        for line in (read_text(path) or "").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "iface":
                stanzas.append(words[1])
    facts["ifupdown_nics"] = stanzas
    facts["ifcfg_nics"] = [p.rsplit("ifcfg-", 1)[1] for p in glob.glob("/etc/sysconfig/network-scripts/ifcfg-*")]
    return facts


def write_file(module, path, content, mode):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".hybridnodes-eks-")
    with os.fdopen(handle, "w") as out:
        out.write(content)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)
    os.chmod(path, mode)


def remove_file(path, stack):
    if os.path.exists(path):
        os.unlink(path)
    directory = os.path.dirname(path)
    if stack == "networkd" and directory.endswith(".network.d") and os.path.isdir(directory) and not os.listdir(directory):
        os.rmdir(directory)


def _fail(module, problems, **extra):
    module.fail_json(msg="static_route: %d problem(s), nothing changed: %s" % (len(problems), " ".join(problems)),
                     problems=problems, **extra)


def _next_hops_dev(module, ip_binary, hops, nic, problems, source):
    """The interface on which every next hop is on-link (one `ip route get` per next hop), or None."""
    devs = {}
    for hop in hops:
        route_get, error = _ip_json(module, ip_binary, ["route", "get", hop], "checking the next hop")
        problem = rt.next_hop_problem(hop, None if error else route_get, nic, source)
        if problem:
            problems.append(problem)
        else:
            devs.setdefault(route_get[0].get("dev"), []).append(hop)
    if len(devs) > 1:
        problems.append("the next hops are on-link on different interfaces (%s); one run manages the routes of one "
                        "interface: set nic (a route set per interface)."
                        % "; ".join("%s: %s" % (dev, ", ".join(h)) for dev, h in sorted(devs.items())))
        return None
    return next(iter(devs)) if devs else None


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            destinations=dict(type="list", elements="str", default=[]),
            gateway=dict(type="str"),
            routes=dict(type="list", elements="dict", options=dict(
                destination=dict(type="str", required=True),
                next_hop=dict(type="str", required=True, aliases=["gateway"]),
                node=dict(type="str"),
            )),
            route_set=dict(type="str", default=rt.DEFAULT_ROUTE_SET),
            purge_within=dict(type="list", elements="str", default=[]),
            max_removal_percent=dict(type="int", default=50),
            allow_mass_removal=dict(type="bool", default=False),
            nic=dict(type="str", default="auto"),
            network_stack=dict(type="str", default="auto", choices=["auto", "none"] + list(rt.STACKS)),
            reload=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        mutually_exclusive=[("routes", "destinations"), ("routes", "gateway")],
        supports_check_mode=True,
    )


def option_problems(params):
    """(problems, next hops) of the options, before anything is read."""
    present = params["state"] == "present"
    problems = [problem for problem in (rt.route_set_problem(params["route_set"]), rt.interface_problem(params["nic"]))
                if problem]
    if params["routes"] is not None:
        # An empty list is a valid wish: no route in this set (every managed one inside purge_within goes).
        problems += rt.routes_problems(params["routes"] if present else [], params["purge_within"])
        hops = sorted(set(str(r["next_hop"]).strip() for r in params["routes"])) if present and not problems else []
    else:
        problems += rt.input_problems(params["destinations"] if present else [], params["gateway"] if present else None,
                                      params["state"])
        problems += rt.purge_networks(params["purge_within"])[1]
        hops = [params["gateway"]] if present and params["gateway"] else []
    return problems, hops


def read_kernel(module, ip_binary):
    data, error = _ip_json(module, ip_binary, ["route", "show", "table", "main"], "reading routes")
    if error:
        module.fail_json(msg=error)
    return rt.parse_ip_routes(data)


def read_dev(module, ip_binary, kernel, hops, problems):
    """The interface the routes go out of: nic, or (nic=auto) the next hops' or the default route's."""
    params = module.params
    nic = params["nic"]
    if nic == "auto":
        defaults = [r for r in kernel if r["dst"] == "0.0.0.0/0" and r.get("dev")]
        nic = defaults[0]["dev"] if defaults else None
    if params["state"] == "present" and not nic and hops:
        problems.append("nic=auto but the host has no default route; set hybrid_nic to the interface of the edge network.")
    dev = nic
    if hops:
        hop_dev = _next_hops_dev(module, ip_binary, hops, nic if params["nic"] != "auto" else None, problems,
                                 "the node's InternalIP" if params["routes"] is not None else "hybrid_vpn_server_ip")
        if hop_dev and params["nic"] == "auto":
            dev = hop_dev
    return dev


def read_stack(module, dev, hops, problems):
    """(network stack, why) that keeps the routes across reboots; 'none' when there is none."""
    stack, reason = module.params["network_stack"], "given by network_stack"
    if stack != "auto":
        return stack, reason
    if dev:
        stack, reason = rt.detect_stack(gather_stack_facts(module, dev))
    else:
        stack, reason = None, "no interface to look for (no default route and nic=auto)"
    if stack is None:
        if module.params["state"] == "present" and hops:
            problems.append("%s; set network_stack (or none to apply the routes until the next reboot only)." % reason)
        stack = "none"
    return stack, reason


def read_file(module, stack, dev, problems):
    """(path, its text) of the route set's persistent file; (None, None) without a stack."""
    route_set = module.params["route_set"]
    path, before_text = None, None
    if stack == "none":
        return path, before_text
    network_file = None
    if stack == "networkd":
        network_file = rt.networkd_network_file(gather_stack_facts(module, dev)["networkd_files"], dev)
    try:
        path = rt.persistent_path(stack, dev, network_file, route_set)
    except rt.RouteInputError as exc:
        problems.append("%s; fix hybrid_nic or set network_stack." % exc)
    if path:
        before_text = read_text(path)
        if before_text is not None and not rt.owned(before_text, route_set):
            problems.append("%s exists and is not the file of route set %s (managed by %s); merge the routes into "
                            "it by hand, move it away, or use the route set that owns it." % (path, route_set, rt.MARKER))
    return path, before_text


def apply_routes(module, ip_binary, change):
    for route in change["delete"]:
        rc, out, err = module.run_command(rt.route_argv(ip_binary, "del", route))
        if rc != 0 and "No such process" not in err:
            module.fail_json(msg="Failed to delete route %s via %s: %s" % (route["dst"], route["gateway"], err or out))
    for route in change["replace"]:
        rc, out, err = module.run_command(rt.route_argv(ip_binary, "replace", route))
        if rc != 0:
            module.fail_json(msg="Failed to add route %s via %s dev %s: %s; check that %s is reachable on %s."
                             % (route["dst"], route["gateway"], route["dev"], err or out, route["gateway"], route["dev"]))


def apply_file(module, state, after_text):
    path, stack = state["path"], state["stack"]
    if after_text is None:
        remove_file(path, stack)
    else:
        write_file(module, path, after_text, rt.file_mode(stack))
    if stack == "networkd" and module.params["reload"] and _systemctl_active(module, "systemd-networkd"):
        networkctl = module.get_bin_path("networkctl")
        if networkctl:
            rc, out, err = module.run_command([networkctl, "reload"])
            if rc != 0:
                module.fail_json(msg="Wrote %s but `networkctl reload` failed: %s" % (path, err or out))


def route_diff(state, planned):
    """The managed routes in the kernel and the persistent file, before and after."""
    kernel, change, path = state["kernel"], planned["change"], state["path"]
    kernel_before = [r for r in planned["managed"]
                     if any(k["dst"] == r["dst"] and k.get("gateway") == r["gateway"] for k in kernel)]
    kernel_before += [r for r in change["keep"]
                      if not any(b["dst"] == r["dst"] and b["gateway"] == r["gateway"] for b in kernel_before)]
    diffs = [dict(before_header="managed routes (ip route)", after_header="managed routes (ip route)",
                  before=rt.describe([dict(r, dev=None) for r in kernel_before]),
                  after=rt.describe([dict(r, dev=None) for r in planned["recorded"]]))]
    if path:
        diffs.append(dict(before_header=path, after_header=path, before=state["before_text"] or "",
                          after=planned["after_text"] or ""))
    return diffs


def report(module, state, planned):
    result = dict(changed=planned["changed"], nic=state["dev"], network_stack=state["stack"],
                  network_stack_reason=state["reason"], route_set=module.params["route_set"],
                  routes=planned["recorded"], plan=planned["change"], file_changed=planned["file_changed"])
    if state["path"]:
        result["path"] = state["path"]
    if module._diff:
        result["diff"] = route_diff(state, planned)
    module.exit_json(**result)


def read_state(module, hops, problems):
    """The kernel's routes, the interface, the network stack and the persistent file (problems: appended to)."""
    ip_binary = module.get_bin_path("ip", required=True)
    kernel = read_kernel(module, ip_binary)
    dev = read_dev(module, ip_binary, kernel, hops, problems)
    stack, reason = read_stack(module, dev, hops, problems)
    path, before_text = read_file(module, stack, dev, problems)
    return {"ip": ip_binary, "kernel": kernel, "dev": dev, "stack": stack, "reason": reason, "path": path,
            "before_text": before_text}


def main():
    module = build_module()
    problems, hops = option_problems(module.params)
    if problems:
        _fail(module, problems)
    state = read_state(module, hops, problems)
    if problems:
        _fail(module, problems, network_stack=state["stack"], network_stack_reason=state["reason"])
    planned = rt.plan_route_set(module.params, state)
    if planned["problem"]:
        _fail(module, [planned["problem"]], network_stack=state["stack"], plan=planned["change"])
    if planned["changed"] and not module.check_mode:
        apply_routes(module, state["ip"], planned["change"])
        if planned["file_changed"]:
            apply_file(module, state, planned["after_text"])
    report(module, state, planned)


if __name__ == "__main__":
    main()
