# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rules of a whole hybridnodes.eks inventory, as pure functions over plain data.

``check_inventory`` takes the cluster variables (what the controller sees, that
is group_vars/all), the variables of every host of the group ``hybrid_nodes``
and, optionally, the roles' argument specs and defaults, and returns *every*
problem at once. Each problem is a dict (see ``cidr.problem``) naming the rule
(``code``), the variable, the hosts involved and the fix.

The rules:

- the cluster variables as ``CLUSTER_SPEC`` declares them, one entry a variable
  in the manner of an argument spec (required, type, pattern, choices, the AWS
  id prefix, the messages), walked by ``check_cluster``: hybrid_cluster_name,
  hybrid_region, hybrid_kubernetes_version (``1.NN``), hybrid_nodeadm_version
  (``vX.Y.Z``), hybrid_vpc_cidrs, hybrid_remote_node_cidrs; AWS ids (VPC, route
  tables, VPN or transit gateway, VPN connection) of their form;
  hybrid_credential_provider one of the registry's (``credential_providers``).
  What is not table-shaped is a small named rule an entry names or
  ``check_cluster`` runs: the float hint of an unquoted Kubernetes version, an
  https hybrid_nodeadm_base_url, one gateway, and the provider's inputs its
  registry entry lists (iam-ra: hybrid_iam_ra_ca_certificate_path). Adding a
  cluster variable is one entry in ``CLUSTER_SPEC``;
- the EKS CIDR rules (``cidr.check_network_plan``);
- Cilium's cluster pool (cilium_remote_pod_cidrs, mapped from
  hybrid_remote_pod_cidrs by roles/cilium) equal to hybrid_remote_pod_cidrs, not
  empty, and its per-node mask size inside the pool;
- every host's address (hybrid_node_ip, else ansible_host, else its inventory
  name) inside the remote node networks, and no two hosts with one address;
- every host's hybrid_vpn_server_ip on-link: the next hop of a static route
  must be in the host's own subnet. That subnet is taken as the host's address
  with hybrid_nic_prefix when set, else the remote node network that contains
  the address (a remote node network may be larger than the real subnet, so
  set hybrid_nic_prefix to check it exactly);
- the pool variables: hybrid_node_labels a dict of Kubernetes labels the
  kubelet may set itself (none under kubernetes.io or k8s.io but the few it
  allows), hybrid_node_taints a list of ``key[=value]:Effect``,
  hybrid_ntp_servers a list of names, hybrid_architecture amd64 or arm64;
- every host's node name (hybrid_node_name, and with iam-ra the inventory name
  it defaults to) a lower-case Kubernetes node name of at most 64 characters,
  unique;
- cluster variables must not be overridden per host (the controller's plays
  would use another value than the hosts' plays);
- the roles' inputs: where the inventory sets a variable a role reads (its
  hybrid_* name from the role's defaults, or the role option itself), the value
  must pass the option's type and choices in the role's meta/argument_specs.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import cidr
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers, nodeconfig
from ansible_collections.hybridnodes.eks.plugins.module_utils.controller.cidr import problem

NODE_GROUP = "hybrid_nodes"
CREDENTIAL_PROVIDERS = credential_providers.NAMES
ARCHITECTURES = ("amd64", "arm64")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

KUBERNETES_VERSION_RE = re.compile(r"^1\.\d{2}$")
NODEADM_VERSION_RE = re.compile(r"^v\d+\.\d+\.\d+$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$")
# The label and node name rules are nodeconfig's (one rule, one place: the NodeConfig module applies them too).
LABEL_KEY_RE = nodeconfig.LABEL_KEY_RE
LABEL_VALUE_RE = nodeconfig.LABEL_VALUE_RE
NODE_NAME_RE = nodeconfig.NODE_NAME_RE
TAINT_RE = re.compile(r"^(?P<key>[^=:\s]+)(=(?P<value>[^:\s]*))?:(?P<effect>[^:\s]+)$")
ROLE_DEFAULT_RE = re.compile(r"^\s*\{\{\s*(hybrid_\w+)\s*(\||\}\})")

_MISSING = object()
MASK = "********"


def _is_set(value):
    return value is not None and value is not _MISSING and value != "" and value != []


def _type_name(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    return "a %s" % type(value).__name__


def _is_str_list(value):
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def _missing(variable, fix):
    return problem("missing", "%s is not set; the cluster needs it." % variable, fix, variable=variable)


def _yaml_float_hint(value):
    """YAML reads an unquoted 1.30 as the float 1.3: say so where the version is one."""
    return (" (YAML read an unquoted %s as the number %s)" % (value, value)) if isinstance(value, float) else ""


def _check_nodeadm_url_https(cluster):
    """nodeadm runs as root on every host: its URL is https unless the inventory says the network is trusted."""
    base_url = cluster.get("hybrid_nodeadm_base_url")
    if isinstance(base_url, str) and base_url and not base_url.startswith("https://") \
            and cluster.get("hybrid_nodeadm_allow_insecure_url") is not True:
        return [problem(
            "insecure", "hybrid_nodeadm_base_url=%r is not https; nodeadm runs as root on every host." % (base_url,),
            "Use an https mirror, or set hybrid_nodeadm_allow_insecure_url: true for a mirror on a network you trust.",
            variable="hybrid_nodeadm_base_url")]
    return []


def _check_provider_inputs(cluster):
    """The inventory variables the credential provider's registry entry names (inventory_inputs), each a string."""
    provider = cluster.get("hybrid_credential_provider", credential_providers.DEFAULT)
    if provider not in CREDENTIAL_PROVIDERS:
        return []  # the table reports the provider itself
    problems = []
    for variable, fix in credential_providers.PROVIDERS[provider]["inventory_inputs"].items():
        value = cluster.get(variable)
        if not _is_set(value) or not isinstance(value, str):
            problems.append(_missing(variable, fix))
    return problems


_LIST_OF_STRINGS = "{variable} is {type_name}; it must be a list of strings."
# The CIDR lists and the route table ids: absent, null or [] is not set, "" is of the wrong type.
_STRING_LIST = {"type": "list", "elements": "str", "not_set": (None, []), "type_message": _LIST_OF_STRINGS,
                "missing_fix": "Set {variable} in group_vars/all to a list of CIDRs.",
                "type_fix": "Write {variable} as a YAML list, one item per line."}

# The cluster variables (group_vars/all), one entry each, in the manner of an Ansible argument spec: adding a
# cluster variable is one entry here. check_cluster walks the entries in this order (the order of the problems, which
# the lab's bad-input tests compare). Keys, all optional:
#   required      "missing" when the value is absent or one of not_set (default: None, "" and [])
#   default       the value taken when the variable is absent
#   type          "str", or "list" with elements "str"; convert: a value other than a boolean is checked as its str()
#   pattern       the form of the value (re.match); choices: the values allowed
#   aws_id        the prefix of the AWS id (or ids, in a list) it holds: prefix-8 or 17 hex digits; the ids are
#                 checked together, after the values of the entries, then the gateway conflict
#   late          the value is checked after the AWS ids (where its problems were reported before the table)
#   host_scope    a host may set its own value (every other entry is in CLUSTER_VARIABLES)
#   rules         named rules for what is not table-shaped, run right after the entry's own check
# and the words, str.format templates of {variable}, {value} (write {value!r}), {type_name}, {choices}, {hint} (the
# entry's hint function of the value): missing_fix; type_message and type_fix (code "type") for a value of the wrong
# type, else invalid and fix (code "invalid") for a wrong type, form or choice.
# Ansible's ArgumentSpecValidator is not used for the types: its "str" converts numbers and its messages are its own.
CLUSTER_SPEC = {
    "hybrid_cluster_name": {
        "required": True, "type": "str",
        "missing_fix": "Set hybrid_cluster_name in group_vars/all to the EKS cluster's name.",
        "type_message": "{variable} is {type_name}, not a string.",
        "type_fix": "Set hybrid_cluster_name to the EKS cluster's name."},
    "hybrid_region": {
        "required": True, "type": "str", "pattern": REGION_RE,
        "missing_fix": "Set hybrid_region in group_vars/all to the cluster's AWS region, such as us-west-2.",
        "invalid": "{variable}={value!r} is not an AWS region name.",
        "fix": "Set hybrid_region to the cluster's region, such as us-west-2."},
    "hybrid_kubernetes_version": {
        "required": True, "type": "str", "convert": True, "pattern": KUBERNETES_VERSION_RE, "hint": _yaml_float_hint,
        "missing_fix": "Set hybrid_kubernetes_version to the cluster's version, quoted, such as '1.31'.",
        "invalid": "{variable}={value!r} is not a Kubernetes minor version 1.NN{hint}.",
        "fix": "Set it as a quoted string, such as hybrid_kubernetes_version: '1.31'."},
    "hybrid_nodeadm_version": {
        "required": True, "type": "str", "pattern": NODEADM_VERSION_RE,
        "missing_fix": "Pin the nodeadm release, such as hybrid_nodeadm_version: v1.0.20.",
        "invalid": "{variable}={value!r} is not a nodeadm release vX.Y.Z.",
        "fix": "Pin a release, such as v1.0.20 (latest is not reproducible across runs)."},
    "hybrid_nodeadm_base_url": {"rules": (_check_nodeadm_url_https,)},
    "hybrid_vpc_id": {"aws_id": "vpc"},
    "hybrid_vpc_cidrs": dict(_STRING_LIST, required=True),
    "hybrid_remote_node_cidrs": dict(_STRING_LIST, required=True),
    "hybrid_remote_pod_cidrs": dict(_STRING_LIST),
    "hybrid_route_table_ids": dict(_STRING_LIST, aws_id="rtb"),
    "hybrid_service_cidr": {
        "type": "str", "not_set": (None,),
        "type_message": "{variable} is {type_name}; it must be one CIDR string.",
        "type_fix": "Set hybrid_service_cidr to the cluster's service CIDR, or leave it unset."},
    "hybrid_vpn_gateway_id": {"aws_id": "vgw"},
    "hybrid_transit_gateway_id": {"aws_id": "tgw"},
    "hybrid_vpn_connection_id": {"aws_id": "vpn"},
    "hybrid_validate_vpc_targets": {
        "required": True, "late": True, "host_scope": True, "type": "list", "elements": "str",
        "missing_fix": "Set hybrid_validate_vpc_targets to what every edge host must reach in the VPC for validate.yml "
                       "(the last stage of site.yml): an ADDRESS to ping or ADDRESS:PORT to connect to, such as a "
                       "cloud node or the cluster endpoint's address with :443.",
        "type_message": _LIST_OF_STRINGS,
        "type_fix": "Write hybrid_validate_vpc_targets as a YAML list of ADDRESS or ADDRESS:PORT."},
    # The provider's own inputs are in its registry entry (credential_providers, inventory_inputs).
    "hybrid_credential_provider": {
        "late": True, "not_set": (), "default": credential_providers.DEFAULT, "choices": CREDENTIAL_PROVIDERS,
        "rules": (_check_provider_inputs,),
        "invalid": "{variable}={value!r} is not one of {choices}.",
        "fix": "Set hybrid_credential_provider to ssm (SSM hybrid activations) or iam-ra (IAM Roles Anywhere)."},
    "hybrid_iam_ra_ca_certificate_path": {},  # iam-ra's input (credential_providers, inventory_inputs)
}

# Variables of the cluster scope (group_vars/all): a host must not override them. The CLUSTER_SPEC entries but the
# host_scope ones, in the order check_hosts reports an override of them (the order of the list before the table).
_OVERRIDE_ORDER = (
    "hybrid_cluster_name", "hybrid_region", "hybrid_kubernetes_version", "hybrid_credential_provider",
    "hybrid_vpc_id", "hybrid_vpc_cidrs", "hybrid_service_cidr", "hybrid_remote_node_cidrs",
    "hybrid_remote_pod_cidrs", "hybrid_route_table_ids", "hybrid_vpn_gateway_id", "hybrid_transit_gateway_id",
    "hybrid_vpn_connection_id", "hybrid_nodeadm_version", "hybrid_nodeadm_base_url",
    "hybrid_iam_ra_ca_certificate_path",
)
CLUSTER_VARIABLES = tuple(sorted(
    (name for name, spec in CLUSTER_SPEC.items() if not spec.get("host_scope")),
    key=lambda name: _OVERRIDE_ORDER.index(name) if name in _OVERRIDE_ORDER else len(_OVERRIDE_ORDER)))
# Variables whose rules are written out here; the argument spec check skips them (one message per mistake).
DEDICATED_VARIABLES = frozenset(CLUSTER_VARIABLES) | frozenset((
    "hybrid_node_labels", "hybrid_node_taints", "hybrid_ntp_servers", "hybrid_architecture",
    "hybrid_vpn_server_ip", "hybrid_node_name", "hybrid_node_ip", "hybrid_nic_prefix",
    "cilium_remote_pod_cidrs", "cilium_pod_cidr_mask_size", "hybrid_pod_cidr_mask_size",
))
# Variables the host rules read, besides the roles' inputs.
HOST_VARIABLES = ("ansible_host", "hybrid_node_ip", "hybrid_vpn_server_ip", "hybrid_nic", "hybrid_nic_prefix",
                  "hybrid_node_name", "hybrid_node_labels", "hybrid_node_taints", "hybrid_ntp_servers",
                  "hybrid_architecture")
# The AWS ids of the cluster scope and their prefixes (CLUSTER_SPEC's aws_id), in the order they are checked.
AWS_ID_PREFIXES = tuple((name, spec["aws_id"]) for name, spec in CLUSTER_SPEC.items() if "aws_id" in spec)
_PYTHON_TYPES = {"str": str, "list": (list, tuple)}


def _has_type(value, kind, elements=None):
    """Whether ``value`` is of the CLUSTER_SPEC type ``kind`` ("str", "list"), a list's items of type ``elements``."""
    if not isinstance(value, _PYTHON_TYPES[kind]):
        return False
    return elements is None or all(_has_type(item, elements) for item in value)


def _say(template, variable, value, spec):
    hint = spec["hint"](value) if "hint" in spec else ""
    return template.format(variable=variable, value=value, type_name=_type_name(value), hint=hint,
                           choices=", ".join(spec.get("choices", ())))


def check_variable(cluster, variable, spec):
    """The problems of one cluster variable against its CLUSTER_SPEC entry ``spec`` (presence, type, form, choice)."""
    value = cluster.get(variable, spec.get("default", _MISSING))
    if value is _MISSING or value in spec.get("not_set", (None, "", [])):
        return [_missing(variable, _say(spec["missing_fix"], variable, value, spec))] if spec.get("required") else []
    checked = str(value) if spec.get("convert") and not isinstance(value, bool) else value
    wrong_type = "type" in spec and not _has_type(checked, spec["type"], spec.get("elements"))
    if wrong_type and "type_message" in spec:
        code, message, fix = "type", spec["type_message"], spec["type_fix"]
    elif wrong_type or ("pattern" in spec and not spec["pattern"].match(checked)) \
            or ("choices" in spec and checked not in spec["choices"]):
        code, message, fix = "invalid", spec["invalid"], spec["fix"]
    else:
        return []
    return [problem(code, _say(message, variable, value, spec), _say(fix, variable, value, spec), variable=variable)]


def _check_values(cluster, late):
    problems = []
    for variable, spec in CLUSTER_SPEC.items():
        if spec.get("late", False) is late:
            problems.extend(check_variable(cluster, variable, spec))
            for rule in spec.get("rules", ()):
                problems.extend(rule(cluster))
    return problems


def _check_aws_ids(cluster):
    """The AWS ids (CLUSTER_SPEC's aws_id) of their form, a list's items each."""
    problems = []
    for variable, prefix in AWS_ID_PREFIXES:
        value = cluster.get(variable)
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if _is_set(item) and not (isinstance(item, str) and re.match(r"^%s-[0-9a-f]{8}([0-9a-f]{9})?$" % prefix, item)):
                problems.append(problem(
                    "aws-id", "%s: %r is not an AWS id of the form %s-0123456789abcdef0." % (variable, item, prefix),
                    "Copy the id from the AWS console or CLI (%s-followed by 8 or 17 hex digits)." % prefix,
                    variable=variable))
    return problems


def _check_gateway_conflict(cluster):
    """One gateway for the VPC routes: the route tables send the hybrid CIDRs to one target."""
    gateways = [variable for variable in ("hybrid_vpn_gateway_id", "hybrid_transit_gateway_id") if _is_set(cluster.get(variable))]
    if len(gateways) > 1:
        return [problem(
            "conflict", "hybrid_vpn_gateway_id and hybrid_transit_gateway_id are both set; the VPC route tables send the "
            "hybrid CIDRs to one target.",
            "Keep the gateway the Site-to-Site VPN is attached to (hybrid_vpn_gateway_id for a virtual private gateway, "
            "hybrid_transit_gateway_id for a transit gateway) and remove the other.", variable="hybrid_transit_gateway_id")]
    return []


def check_cluster(cluster):
    """The cluster variables against CLUSTER_SPEC, in the order of the problems: the values of the entries, with the
    rules an entry names after it; the AWS ids' form and the gateway conflict; the values of the late entries."""
    problems = _check_values(cluster, late=False)
    problems.extend(_check_aws_ids(cluster))
    problems.extend(_check_gateway_conflict(cluster))
    problems.extend(_check_values(cluster, late=True))
    return problems


def _lists(value):
    return list(value) if _is_str_list(value) else []


def check_network(cluster):
    """The EKS CIDR rules over the cluster's networks."""
    service = cluster.get("hybrid_service_cidr")
    return cidr.check_network_plan(
        vpc_cidrs=_lists(cluster.get("hybrid_vpc_cidrs")),
        service_cidr=service if isinstance(service, str) and service else None,
        remote_node_cidrs=_lists(cluster.get("hybrid_remote_node_cidrs")),
        remote_pod_cidrs=_lists(cluster.get("hybrid_remote_pod_cidrs")),
        require_node_cidrs=False)  # check_cluster reports the missing list once


def check_cilium_pool(cluster, hosts):
    """Cilium's cluster pool is the remote pod networks; the per-node mask fits in them."""
    problems = []
    pods = cluster.get("hybrid_remote_pod_cidrs")
    pods = _lists(pods)
    if not pods:
        problems.append(problem(
            "missing", "hybrid_remote_pod_cidrs is empty: Cilium's cluster pool (cilium_remote_pod_cidrs) would be "
            "empty and no pod on a hybrid node would get an address.",
            "Set hybrid_remote_pod_cidrs to the pod networks of the hybrid nodes, such as [192.168.0.0/16].",
            variable="hybrid_remote_pod_cidrs"))
    sources = [("cluster", cluster)] + sorted(hosts.items())
    for where, hostvars in sources:
        pool = hostvars.get("cilium_remote_pod_cidrs", _MISSING)
        if pool is _MISSING or (where != "cluster" and pool == cluster.get("cilium_remote_pod_cidrs", _MISSING)):
            continue
        if not cidr.same_cidr_sets(_as_list(pool), pods):
            problems.append(problem(
                "cilium-pool", "%scilium_remote_pod_cidrs %s differs from hybrid_remote_pod_cidrs %s; Cilium would give "
                "pods addresses EKS does not route." % ("" if where == "cluster" else where + ": ", pool, pods),
                "Remove cilium_remote_pod_cidrs from the inventory (roles/cilium maps it from hybrid_remote_pod_cidrs).",
                variable="cilium_remote_pod_cidrs", host=None if where == "cluster" else where))
    mask = cluster.get("cilium_pod_cidr_mask_size", cluster.get("hybrid_pod_cidr_mask_size", _MISSING))
    if mask is not _MISSING:
        variable = "cilium_pod_cidr_mask_size" if "cilium_pod_cidr_mask_size" in cluster else "hybrid_pod_cidr_mask_size"
        try:
            size = int(mask)
        except (TypeError, ValueError):
            size = None
        shortest = 0
        for text in pods:
            network, dummy = cidr.parse_ipv4_cidr(text, "hybrid_remote_pod_cidrs", strict=False)
            if network is not None:
                shortest = max(shortest, network.prefixlen)
        if size is None or isinstance(mask, bool) or not shortest <= size <= 32:
            problems.append(problem(
                "cilium-mask", "%s=%r: each node's pod CIDR must be a prefix length from /%d (the longest pod network) "
                "to /32." % (variable, mask, shortest),
                "Set %s to an integer such as 25 (128 pod addresses per node)." % variable, variable=variable))
    return problems


def _as_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value is None else [value]


def node_address(host, hostvars):
    """The address a host registers as its node IP, and the variable it comes from."""
    for variable in ("hybrid_node_ip", "ansible_host"):
        if _is_set(hostvars.get(variable)):
            return str(hostvars[variable]), variable
    return host, "inventory_hostname"


def on_link_network(address, hostvars, remote_node_cidrs):
    """The host's own subnet: address/hybrid_nic_prefix, else the remote node network holding the address."""
    netaddr = cidr.netaddr  # check_node_address reported a missing netaddr before this is reached
    ip = netaddr.IPAddress(address.split("/", maxsplit=1)[0])
    prefix = hostvars.get("hybrid_nic_prefix")
    if prefix is not None and not isinstance(prefix, bool):
        network = netaddr.IPNetwork("%s/%d" % (ip, int(prefix))).cidr
        return network, "%s (the address %s with hybrid_nic_prefix %s)" % (network, ip, prefix)
    for text in remote_node_cidrs:
        try:
            network = netaddr.IPNetwork(str(text)).cidr
        except (netaddr.AddrFormatError, ValueError, TypeError):
            continue
        if ip in network:
            return network, "%s (hybrid_remote_node_cidrs)" % network
    return None, None


def check_vpn_server_ip(host, hostvars, address, remote_node_cidrs):
    """The VPN server IP is the next hop of the host's static route to the VPC: it must be on-link."""
    netaddr = cidr.netaddr
    value = hostvars.get("hybrid_vpn_server_ip")
    if not _is_set(value):
        return []
    try:
        gateway = netaddr.IPAddress(str(value))
        if gateway.version != 4:
            raise ValueError(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return [problem("vpn-server-ip-invalid", "%s: hybrid_vpn_server_ip=%r is not an IPv4 address." % (host, value),
                        "Set hybrid_vpn_server_ip to the VPN server's IPv4 address on the host's subnet, or remove it.",
                        variable="hybrid_vpn_server_ip", host=host)]
    prefix = hostvars.get("hybrid_nic_prefix")
    if prefix is not None and (isinstance(prefix, bool) or not str(prefix).isdigit() or not 8 <= int(prefix) <= 32):
        return [problem("type", "%s: hybrid_nic_prefix=%r is not a prefix length from 8 to 32." % (host, prefix),
                        "Set hybrid_nic_prefix to the prefix length of the host's subnet, such as 24.",
                        variable="hybrid_nic_prefix", host=host)]
    try:
        network, described = on_link_network(address, hostvars, remote_node_cidrs)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return []  # the address itself is reported by the node address rule
    if network is None:
        return []  # the address is outside the remote node networks: reported by the node address rule
    if gateway not in network:
        return [problem(
            "vpn-server-ip-off-link",
            "%s: hybrid_vpn_server_ip %s is not on the host's subnet %s; the static route to the VPC needs a next "
            "hop inside the host's own subnet." % (host, gateway, described),
            "Set hybrid_vpn_server_ip to the VPN server's address on %s (the customer gateway's outside address "
            "is not a next hop), or remove it when the default gateway routes the VPC." % network,
            variable="hybrid_vpn_server_ip", cidrs=[network], host=host)]
    if str(gateway) == address.split("/", maxsplit=1)[0]:
        return [problem("vpn-server-ip-self", "%s: hybrid_vpn_server_ip %s is the host's own address." % (host, gateway),
                        "Set hybrid_vpn_server_ip to the VPN server's address, not the host's.",
                        variable="hybrid_vpn_server_ip", host=host)]
    if network.prefixlen < 31 and gateway in (network.network, network.broadcast):
        return [problem("vpn-server-ip-invalid",
                        "%s: hybrid_vpn_server_ip %s is the network or broadcast address of %s." % (host, gateway, network),
                        "Set hybrid_vpn_server_ip to the VPN server's address.", variable="hybrid_vpn_server_ip", host=host)]
    return []


def check_pool_values(hostvars):
    """The pool variables of one host: labels, taints, NTP servers, architecture, node name (without host names)."""
    problems = []

    def bad(variable, code, message, fix):
        problems.append(problem(code, message, fix, variable=variable))

    labels = hostvars.get("hybrid_node_labels", _MISSING)
    if labels is not _MISSING and labels is not None:
        if not isinstance(labels, dict):
            bad("hybrid_node_labels", "type", "hybrid_node_labels is %s, not a dict." % _type_name(labels),
                "Write hybrid_node_labels as a mapping of label keys to string values.")
        else:
            for key, value in sorted(labels.items(), key=lambda item: str(item[0])):
                found = nodeconfig.label_problem(key, value)
                kind = found[0] if found else None
                if kind == "key":
                    bad("hybrid_node_labels", "label", "hybrid_node_labels key %r is not a Kubernetes label key." % (key,),
                        "Use [prefix/]name with a DNS subdomain prefix and a name of up to 63 characters.")
                if kind == "value" or (kind == "key" and nodeconfig.label_problem("key", value)):
                    bad("hybrid_node_labels", "label", "hybrid_node_labels[%s]=%r is not a Kubernetes label value." % (key, value),
                        "Quote it as a string of up to 63 letters, digits, '-', '_' or '.', starting and ending "
                        "alphanumeric (YAML reads true or 1 unquoted as a boolean or a number).")
                elif kind == "restricted":
                    bad("hybrid_node_labels", "label-restricted", "hybrid_node_labels: %s." % found[1],
                        "Remove %s from hybrid_node_labels, or use a prefix of your own (such as example.com/role); "
                        "set a label such as node-role.kubernetes.io/* after the join with kubectl label." % key)

    taints = hostvars.get("hybrid_node_taints", _MISSING)
    if taints is not _MISSING and taints is not None:
        if not isinstance(taints, (list, tuple)):
            bad("hybrid_node_taints", "type", "hybrid_node_taints is %s, not a list." % _type_name(taints),
                "Write hybrid_node_taints as a list of key[=value]:Effect.")
        else:
            for taint in taints:
                match = TAINT_RE.match(taint) if isinstance(taint, str) else None
                if not match or match.group("effect") not in TAINT_EFFECTS:
                    bad("hybrid_node_taints", "taint", "taint %r is not key[=value]:Effect with Effect one of %s."
                        % (taint, ", ".join(TAINT_EFFECTS)), "Write it such as dedicated=edge:NoSchedule.")
                elif not LABEL_KEY_RE.match(match.group("key")) or not LABEL_VALUE_RE.match(match.group("value") or ""):
                    bad("hybrid_node_taints", "taint", "taint %r has an invalid key or value." % (taint,),
                        "Use a Kubernetes label key and value, such as dedicated=edge:NoSchedule.")

    ntp = hostvars.get("hybrid_ntp_servers", _MISSING)
    if ntp is not _MISSING and ntp is not None:
        if not isinstance(ntp, (list, tuple)) or not all(isinstance(item, str) and item.strip() for item in ntp):
            bad("hybrid_ntp_servers", "type", "hybrid_ntp_servers=%r is not a list of server names." % (ntp,),
                "Write hybrid_ntp_servers as a list, such as [0.pool.ntp.org, 1.pool.ntp.org].")

    arch = hostvars.get("hybrid_architecture", _MISSING)
    if arch is not _MISSING and arch not in ARCHITECTURES:
        bad("hybrid_architecture", "invalid", "hybrid_architecture=%r is not one of %s." % (arch, ", ".join(ARCHITECTURES)),
            "Set hybrid_architecture to amd64 or arm64 (the nodeadm build).")
    return problems


def check_node_name(host, hostvars, credential_provider):
    """The host's node name (nodeconfig.NODE_NAME_MAX): hybrid_node_name when set; with iam-ra, else the inventory name.

    With IAM Roles Anywhere the name (hybrid_node_name, else inventory_hostname: roles/nodeadm) is nodeadm's nodeName,
    the role session name and the certificate's CN, so every host is checked. With SSM the Node is named after the
    managed instance (mi-...; aws/eks-hybrid internal/ssm/config.go), and hybrid_node_name, when set, is the host name
    roles/host_prep sets.
    """
    name = hostvars.get("hybrid_node_name")
    if name is None or name == "":
        if credential_provider != "iam-ra":
            return []
        reason = nodeconfig.node_name_problem(host)
        if not reason:
            return []
        return [problem("invalid", "%s: the node name %r (the inventory name, as hybrid_node_name is not set) is not a "
                                   "Kubernetes node name: %s. With iam-ra it is nodeadm's nodeName, the IAM role session "
                                   "name and the certificate's CN." % (host, host, reason),
                        "Use lowercase letters, digits, '-' and '.', starting and ending alphanumeric, at most %d "
                        "characters: set hybrid_node_name for %s." % (nodeconfig.NODE_NAME_MAX, host),
                        variable="hybrid_node_name", host=host)]
    reason = nodeconfig.node_name_problem(name)
    if not reason:
        return []
    return [problem("invalid", "%s: hybrid_node_name=%r is not a Kubernetes node name: %s." % (host, name, reason),
                    "Use lowercase letters, digits, '-' and '.', starting and ending alphanumeric, at most %d "
                    "characters." % nodeconfig.NODE_NAME_MAX, variable="hybrid_node_name", host=host)]


def check_hosts(cluster, hosts):
    """Every host: address, VPN server IP, pool variables, no override of a cluster variable, no duplicates."""
    problems = []
    if not hosts:
        problems.append(problem(
            "missing-hosts", "The group %s has no host." % NODE_GROUP,
            "Put the edge hosts in child groups (one per node pool) of %s." % NODE_GROUP))
    remote_node_cidrs = _lists(cluster.get("hybrid_remote_node_cidrs"))
    addresses = {}
    names = {}
    pool_problems = {}  # one message for all the hosts of a pool with the same mistake
    for host in sorted(hosts):
        hostvars = hosts[host]
        address, variable = node_address(host, hostvars)
        found = cidr.check_node_address(host, address, remote_node_cidrs, variable=variable) if remote_node_cidrs else []
        problems.extend(found)
        if not found:
            addresses.setdefault(address.split("/", maxsplit=1)[0], []).append(host)
            if remote_node_cidrs:
                problems.extend(check_vpn_server_ip(host, hostvars, address, remote_node_cidrs))
        for found in check_pool_values(hostvars):
            pool_problems.setdefault(tuple(sorted(found.items())), []).append(host)
        problems.extend(check_node_name(host, hostvars, cluster.get("hybrid_credential_provider", credential_providers.DEFAULT)))
        names.setdefault(str(hostvars.get("hybrid_node_name") or host), []).append(host)
        for name in CLUSTER_VARIABLES:
            if name in hostvars and hostvars[name] != cluster.get(name, _MISSING):
                problems.append(problem(
                    "host-override", "%s: %s=%r differs from the cluster's value %r; the controller's plays and the "
                    "host's plays would disagree." % (host, name, hostvars[name], cluster.get(name)),
                    "Set %s once in group_vars/all, not per host or pool." % name, variable=name, host=host))
    for found, owners in sorted(pool_problems.items(), key=lambda item: item[1][0]):
        found = dict(found)
        found["message"] = "%s: %s" % (", ".join(owners), found["message"])
        found["host"] = ", ".join(owners)
        problems.append(found)
    for address, owners in sorted(addresses.items()):
        if len(owners) > 1:
            problems.append(problem(
                "duplicate-address", "%s share the node address %s." % (", ".join(owners), address),
                "Give every hybrid node its own address (ansible_host or hybrid_node_ip).",
                variable="ansible_host", host=", ".join(owners)))
    for name, owners in sorted(names.items()):
        if len(owners) > 1:
            problems.append(problem(
                "duplicate-node-name", "%s share the node name %s." % (", ".join(owners), name),
                "Give every hybrid node its own hybrid_node_name.", variable="hybrid_node_name", host=", ".join(owners)))
    return problems


def role_inputs(role_specs, role_defaults=None):
    """{inventory variable: [(role, option, spec)]} of the roles' inputs.

    ``role_specs`` maps a role name to the ``options`` of its main entry point;
    ``role_defaults`` a role name to its defaults, from which the option's
    hybrid_* source (a default of the form ``{{ hybrid_x | ... }}``) is read.
    """
    inputs = {}
    for role, options in sorted((role_specs or {}).items()):
        defaults = (role_defaults or {}).get(role) or {}
        for option, spec in sorted((options or {}).items()):
            inputs.setdefault(option, []).append((role, option, spec))
            default = defaults.get(option)
            match = ROLE_DEFAULT_RE.match(default) if isinstance(default, str) else None
            if match:
                inputs.setdefault(match.group(1), []).append((role, option, spec))
    return inputs


def _spec_errors(option, spec, value):
    spec = dict((key, spec[key]) for key in ("type", "elements", "choices") if key in spec)
    result = ArgumentSpecValidator({option: spec}).validate({option: value})
    return [str(error) for error in result.errors]


def check_role_inputs(cluster, hosts, role_specs, role_defaults=None):
    """Where the inventory sets a role's input, its value passes the role's argument spec."""
    problems = []
    inputs = role_inputs(role_specs, role_defaults)
    for variable in sorted(inputs):
        if variable in DEDICATED_VARIABLES:
            continue
        places = []
        if variable in cluster:
            places.append((None, cluster[variable]))
        for host in sorted(hosts):
            if variable in hosts[host] and (variable not in cluster or hosts[host][variable] != cluster[variable]):
                places.append((host, hosts[host][variable]))
        by_value = {}
        # A secret (an option its argument spec marks no_log) is never quoted, neither in the message nor in the
        # validator's own words.
        secret = any(spec.get("no_log") for _role, _option, spec in inputs[variable])
        for host, value in places:
            for role, option, spec in inputs[variable]:
                for error in _spec_errors(option, spec, value):
                    if secret:
                        error = error.replace(str(value), MASK).replace(repr(value), MASK)
                    key = (role, option, MASK if secret else repr(value), error)
                    by_value.setdefault(key, []).append(host)
        for (role, option, value, error), owners in sorted(by_value.items(), key=lambda item: item[0]):
            where = ", ".join("group_vars/all" if owner is None else owner for owner in owners)
            mapped = "" if option == variable else " (role %s's %s)" % (role, option)
            problems.append(problem(
                "role-input", "%s: %s=%s%s is refused by roles/%s/meta/argument_specs.yml: %s."
                % (where, variable, value, mapped, role, error.replace(option, variable) if mapped else error),
                "Give %s a value of type %s%s." % (variable, spec_type(inputs[variable], option),
                                                   choices_text(inputs[variable], option)),
                variable=variable, host=None if owners == [None] else where))
    return problems


def spec_type(entries, option):
    for dummy, name, spec in entries:
        if name == option:
            kind = spec.get("type", "str")
            return "%s of %s" % (kind, spec["elements"]) if spec.get("elements") else kind
    return "str"


def choices_text(entries, option):
    for dummy, name, spec in entries:
        if name == option and spec.get("choices"):
            return " (one of %s)" % ", ".join(str(choice) for choice in spec["choices"])
    return ""


def check_inventory(cluster, hosts, role_specs=None, role_defaults=None):
    """Every problem of an inventory.

    ``cluster``: the variables the controller sees (group_vars/all).
    ``hosts``: {host name: its variables} for every host of hybrid_nodes.
    ``role_specs``/``role_defaults``: see ``role_inputs``.
    """
    cluster = dict(cluster or {})
    hosts = dict((str(name), dict(values or {})) for name, values in (hosts or {}).items())
    problems = []
    problems.extend(check_cluster(cluster))
    problems.extend(check_network(cluster))
    problems.extend(check_cilium_pool(cluster, hosts))
    problems.extend(check_hosts(cluster, hosts))
    if role_specs:
        problems.extend(check_role_inputs(cluster, hosts, role_specs, role_defaults))
    return problems
