# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""nodeadm's NodeConfig (node.eks.aws/v1alpha1), rendered and checked as pure functions.

``render`` builds the document from plain options, ``problems`` checks it the
way ``nodeadm init`` would (and a little earlier: the node IP against the
remote node networks, whose violation nodeadm only shows as Pending CSRs),
and ``masked`` replaces the secrets for diffs and return values. Runs on edge
hosts too: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import re

API_VERSION = "node.eks.aws/v1alpha1"
KIND = "NodeConfig"
MASK = "********"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACTIVATION_CODE_LENGTH = (20, 250)
NODE_NAME_MAX = 64
FORBIDDEN_KUBELET_FLAGS = ("--hostname-override",)
# Flags the module owns; given again in extra kubelet flags they would contradict it.
OWNED_KUBELET_FLAGS = ("--node-ip", "--node-labels", "--register-with-taints")
TAINT_RE = re.compile(r"^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")


def _flag_name(flag):
    return str(flag).split("=", 1)[0]


def kubelet_flags(node_ip=None, labels=None, taints=None, extra=None):
    """The kubelet flags: --node-ip, --node-labels (sorted), --register-with-taints, then the extra ones."""
    flags = []
    if node_ip:
        flags.append("--node-ip=%s" % node_ip)
    if labels:
        flags.append("--node-labels=%s" % ",".join("%s=%s" % (key, labels[key]) for key in sorted(labels)))
    if taints:
        flags.append("--register-with-taints=%s" % ",".join(taints))
    flags.extend(extra or [])
    return flags


def render(cluster_name, region, credential_provider, ssm=None, iam_roles_anywhere=None, node_ip=None,
           node_labels=None, node_taints=None, kubelet_extra_flags=None, kubelet_config=None,
           containerd_config=None, enable_credentials_file=False):
    """The NodeConfig document as a dict.

    ``ssm`` is {"activationId", "activationCode"}; ``iam_roles_anywhere`` is
    {"nodeName", "trustAnchorArn", "profileArn", "roleArn", "certificatePath",
    "privateKeyPath", "awsConfigPath"} (empty values are left out).
    """
    hybrid = {}
    if enable_credentials_file:
        hybrid["enableCredentialsFile"] = True
    if credential_provider == "ssm":
        hybrid["ssm"] = dict((key, value) for key, value in (ssm or {}).items() if value)
    elif credential_provider == "iam-ra":
        hybrid["iamRolesAnywhere"] = dict((key, value) for key, value in (iam_roles_anywhere or {}).items() if value)
    spec = {"cluster": {"name": cluster_name, "region": region}, "hybrid": hybrid}
    flags = kubelet_flags(node_ip, node_labels, node_taints, kubelet_extra_flags)
    kubelet = {}
    if kubelet_config:
        kubelet["config"] = copy.deepcopy(kubelet_config)
    if flags:
        kubelet["flags"] = flags
    if kubelet:
        spec["kubelet"] = kubelet
    if containerd_config:
        spec["containerd"] = {"config": containerd_config}
    return {"apiVersion": API_VERSION, "kind": KIND, "spec": spec}


def _problem(field, message, fix):
    return {"field": field, "message": message, "fix": fix}


def _address_problems(node_ip, remote_node_cidrs):
    try:
        address = ipaddress.ip_address(str(node_ip))
    except ValueError:
        return [_problem("node_ip", "node_ip %r is not an IP address." % (node_ip,),
                         "Set node_ip to the host's IPv4 address in the remote node network.")]
    if address.version != 4:
        return [_problem("node_ip", "node_ip %s is not IPv4." % address, "Use the host's IPv4 address.")]
    networks = []
    for value in remote_node_cidrs:
        try:
            networks.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            continue
    if not any(address in network for network in networks):
        return [_problem(
            "node_ip", "node_ip %s is outside the remote node networks %s: the kubelet's certificate requests "
            "would stay Pending." % (address, ", ".join(str(value) for value in remote_node_cidrs)),
            "Use the host's address inside the remote node networks, or add its network to them.")]
    return []


def problems(doc, remote_node_cidrs=None):
    """Every reason nodeadm would refuse (or a join would fail with) this NodeConfig.

    Messages never contain the activation code.
    """
    found = []
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        found.append(_problem("apiVersion", "apiVersion/kind must be %s/%s." % (API_VERSION, KIND), "Render with this module."))
    spec = doc.get("spec") or {}
    cluster = spec.get("cluster") or {}
    for key in ("name", "region"):
        if not cluster.get(key):
            found.append(_problem("cluster_name" if key == "name" else "region", "spec.cluster.%s is required." % key,
                                  "Set the cluster's %s." % key))
    hybrid = spec.get("hybrid") or {}
    ssm = hybrid.get("ssm")
    ira = hybrid.get("iamRolesAnywhere")
    if "ssm" in hybrid and not ssm and not ira:
        found.append(_problem("ssm_activation_id", "No SSM activation is given, and none is in the existing NodeConfig.",
                              "Pass ssm_activation_id and ssm_activation_code from hybridnodes.eks.ssm_activation "
                              "(created at join time for the hosts not registered yet)."))
    elif bool(ssm) == bool(ira):
        found.append(_problem("credential_provider",
                              "Exactly one of the ssm and iamRolesAnywhere blocks must be set (found %s)." % (
                                  "both" if ssm else "neither"),
                              "Give the SSM activation or the IAM Roles Anywhere settings, not both."))
    if ssm:
        if not UUID_RE.match(str(ssm.get("activationId") or "")):
            found.append(_problem("ssm_activation_id", "The SSM activation id %r is not a UUID." % (ssm.get("activationId"),),
                                  "Use the ActivationId returned by ssm:CreateActivation."))
        code_length = len(str(ssm.get("activationCode") or ""))
        if not ACTIVATION_CODE_LENGTH[0] <= code_length <= ACTIVATION_CODE_LENGTH[1]:
            found.append(_problem("ssm_activation_code",
                                  "The SSM activation code has %d characters; nodeadm wants %d to %d." % (
                                      (code_length,) + ACTIVATION_CODE_LENGTH),
                                  "Use the ActivationCode returned by ssm:CreateActivation (it is shown only once)."))
    if ira:
        name = str(ira.get("nodeName") or "")
        if not name or len(name) > NODE_NAME_MAX:
            found.append(_problem("iam_ra_node_name", "The IAM Roles Anywhere nodeName must have 1 to %d characters." % NODE_NAME_MAX,
                                  "Use a shorter node name; it must equal the certificate's CN."))
        for key, option in (("trustAnchorArn", "iam_ra_trust_anchor_arn"), ("profileArn", "iam_ra_profile_arn"),
                            ("roleArn", "iam_ra_role_arn")):
            if not str(ira.get(key) or "").startswith("arn:"):
                found.append(_problem(option, "iamRolesAnywhere.%s must be an ARN." % key, "Set %s." % option))
        for key in ("certificatePath", "privateKeyPath", "awsConfigPath"):
            if ira.get(key) and not str(ira[key]).startswith("/"):
                found.append(_problem(key, "iamRolesAnywhere.%s must be an absolute path." % key, "Use an absolute path."))
    flags = (spec.get("kubelet") or {}).get("flags") or []
    for flag in flags:
        if _flag_name(flag) in FORBIDDEN_KUBELET_FLAGS:
            found.append(_problem("kubelet_extra_flags", "%s is rejected by nodeadm for hybrid nodes." % _flag_name(flag),
                                  "Remove it; the node name comes from the credentials (SSM instance id or nodeName)."))
    names = [_flag_name(flag) for flag in flags]
    for name in OWNED_KUBELET_FLAGS:
        if names.count(name) > 1:
            found.append(_problem("kubelet_extra_flags", "%s is given more than once." % name,
                                  "Set it through the module's option, not in kubelet_extra_flags."))
    for flag in flags:
        if _flag_name(flag) == "--register-with-taints":
            for taint in str(flag).split("=", 1)[1].split(","):
                if not TAINT_RE.match(taint):
                    found.append(_problem("node_taints", "Taint %r is not key[=value]:Effect." % taint,
                                          "Write taints as key=value:NoSchedule (or PreferNoSchedule, NoExecute)."))
    node_ips = [str(flag).split("=", 1)[1] for flag in flags if _flag_name(flag) == "--node-ip"]
    if remote_node_cidrs and node_ips:
        found.extend(_address_problems(node_ips[0], remote_node_cidrs))
    return found


def masked(doc):
    """A copy with the activation code replaced, for diffs, logs and return values."""
    copy_ = copy.deepcopy(doc)
    ssm = ((copy_.get("spec") or {}).get("hybrid") or {}).get("ssm")
    if ssm and ssm.get("activationCode"):
        ssm["activationCode"] = MASK
    return copy_
