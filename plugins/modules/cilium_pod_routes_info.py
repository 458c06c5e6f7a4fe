#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cilium_pod_routes_info
short_description: The pod CIDR routes of hybrid nodes running Cilium, checked against the remote pod networks
version_added: 0.1.0
description:
  - Lists the CiliumNodes (C(cilium.io/v2)) page by page and returns one route per pod CIDR
    (C(spec.ipam.podCIDRs)) with the node as next hop, the table the site's router or VPN gateway needs
    when the pod networks are not advertised with BGP.
  - The next hop is by default the node's C(InternalIP), read from the Node objects (one paginated list).
    The Palette documentation says InternalIP in its text but shows the CiliumInternalIP in its example; this
    module picks the InternalIP deliberately, since it is the node's address on the remote node network, which
    the gateway reaches, whereas the CiliumInternalIP lies inside the very pod CIDR it would route to.
    O(next_hop=cilium_internal_ip) uses the CiliumInternalIP (C(spec.addresses)) anyway.
  - Checks that every pod CIDR lies inside O(remote_pod_cidrs) and that no two pod CIDRs overlap, and that every
    node has a pod CIDR and a next hop; reports every problem at once.
  - Reads only; never changes the cluster.
author:
  - hybridnodes.eks maintainers (!UNKNOWN)
options:
  remote_pod_cidrs:
    description:
      - The cluster's remote pod networks (C(hybrid_remote_pod_cidrs)); every pod CIDR must lie inside one of them.
    type: list
    elements: str
    required: true
  next_hop:
    description:
      - Which address of a node routes point at.
    type: str
    default: internal_ip
    choices: [internal_ip, cilium_internal_ip]
  label_selector:
    description:
      - Only the nodes whose Node object has these labels, for example C(eks.amazonaws.com/compute-type=hybrid)
        (CiliumNodes do not carry the node's labels, so they are matched to the selected Nodes by name).
    type: str
  fail_on_problems:
    description:
      - Fail when a problem is found. With V(false), problems are returned and the run goes on.
    type: bool
    default: true
  page_size:
    description:
      - Objects per list request (C(limit)).
    type: int
    default: 500
attributes:
  check_mode:
    details: Only reads. In check mode, a cluster without the CiliumNode CRD (Cilium not installed yet, as in
      C(site.yml --check) on a new cluster) gives no route and a warning instead of a failure.
extends_documentation_fragment: [hybridnodes.eks.attributes, hybridnodes.eks.attributes.info_module,
                                 kubernetes.core.k8s_auth_options]
notes:
  - "RBAC: list on nodes and on ciliumnodes.cilium.io."
"""

EXAMPLES = r"""
- name: Read the pod routes of the hybrid nodes
  hybridnodes.eks.cilium_pod_routes_info:
    remote_pod_cidrs: "{{ hybrid_remote_pod_cidrs }}"
    label_selector: eks.amazonaws.com/compute-type=hybrid
  register: pod_routes

- name: Show them as the table the network team needs
  ansible.builtin.debug:
    msg: "{{ pod_routes.routes | hybridnodes.eks.route_table_export }}"
"""

RETURN = r"""
routes:
  description: One route per pod CIDR of each node, sorted by node name.
  returned: always
  type: list
  elements: dict
  contains:
    destination:
      description: The pod CIDR.
      type: str
      returned: always
      sample: 10.201.0.0/25
    next_hop:
      description: The node's InternalIP (or CiliumInternalIP with O(next_hop=cilium_internal_ip)).
      type: str
      returned: always
      sample: 10.200.1.23
    node:
      description: Name of the node.
      type: str
      returned: always
      sample: mi-0123456789abcdef0
problems:
  description: Everything wrong with the pod CIDRs, one sentence each; empty when all is well.
  returned: always
  type: list
  elements: str
  sample: []
nodes:
  description: How many CiliumNodes were read.
  returned: always
  type: int
  sample: 3
cilium_installed:
  description: Whether the CiliumNode CRD exists; false only in check mode on a cluster without Cilium yet.
  returned: always
  type: bool
  sample: true
"""

from ansible_collections.hybridnodes.eks.plugins.module_utils.k8s import api as k8s
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import pod_routes


def crd_missing(exc):
    """Whether listing failed because the API server does not know the resource (its CRD is not installed)."""
    return (getattr(exc, "status", None) == 404 or type(exc).__name__ in ("ResourceNotFoundError", "NotFoundError")
            or "could not find the requested resource" in str(exc))


def main():
    argument_spec = dict(
        remote_pod_cidrs=dict(type="list", elements="str", required=True),
        next_hop=dict(type="str", default="internal_ip", choices=list(pod_routes.NEXT_HOPS)),
        label_selector=dict(type="str"),
        fail_on_problems=dict(type="bool", default=True),
        page_size=dict(type="int", default=500),
    )
    module = k8s.k8s_module(argument_spec, supports_check_mode=True)
    params = module.params
    if params["page_size"] < 1:
        module.fail_json(msg="page_size must be at least 1 (it is %d)." % params["page_size"])
    client = k8s.k8s_client(module)
    what = "CiliumNodes (cilium.io/v2)"
    try:
        cilium_nodes = k8s.list_all(client, "cilium.io/v2", "CiliumNode", page_size=params["page_size"])
        internal_ips = {}
        if params["next_hop"] == "internal_ip" or params["label_selector"]:
            what = "Nodes"
            nodes = k8s.list_all(client, "v1", "Node", label_selector=params["label_selector"], page_size=params["page_size"])
            internal_ips = pod_routes.node_internal_ips(nodes)
            if params["label_selector"]:
                selected = set((node.get("metadata") or {}).get("name") for node in nodes)
                cilium_nodes = [item for item in cilium_nodes if (item.get("metadata") or {}).get("name") in selected]
    except Exception as exc:  # pylint: disable=broad-except  # the client raises many kinds; all mean "cannot list"
        if module.check_mode and what.startswith("CiliumNodes") and crd_missing(exc):
            # site.yml --check on a cluster without Cilium: the cilium stage only predicted the CRDs.
            module.warn("The CiliumNode CRD is not installed yet, so there is no pod route to predict; "
                        "a real run installs Cilium first (cilium.yml) and then reads the routes.")
            module.exit_json(changed=False, routes=[], problems=[], nodes=0, cilium_installed=False)
        module.fail_json(msg="Cannot list the %s of %s: %s. Check that Cilium is installed (its CRDs) and that the "
                             "credentials may list nodes and ciliumnodes.cilium.io."
                             % (what, k8s.describe_target(params), exc))
    planned = pod_routes.plan_routes(cilium_nodes, internal_ips, params["remote_pod_cidrs"], params["next_hop"])
    result = dict(changed=False, routes=planned["routes"], problems=planned["problems"], nodes=len(cilium_nodes),
                  cilium_installed=True)
    if planned["problems"] and params["fail_on_problems"]:
        module.fail_json(msg="%d problem(s) with the pod CIDRs: %s" % (len(planned["problems"]), " ".join(planned["problems"])),
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
