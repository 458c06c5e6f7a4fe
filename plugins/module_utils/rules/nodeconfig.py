# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""nodeadm's NodeConfig (node.eks.aws/v1alpha1), rendered and checked as pure functions.

``render`` builds the document from plain options, ``problems`` checks it the
way ``nodeadm init`` would, before anything is written (the node IP against the
remote node networks too: nodeadm init refuses an IP outside them in its
node-ip-validation, aws/eks-hybrid internal/network/interface.go; with that
check skipped the kubelet's certificate requests stay Pending), and ``masked`` replaces the secrets for diffs and return values. Runs on edge
hosts too: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import re

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers

API_VERSION = "node.eks.aws/v1alpha1"
KIND = "NodeConfig"
MASK = "********"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACTIVATION_CODE_LENGTH = (20, 250)
# A node name must be at once: a Kubernetes Node name (a lower-case DNS-1123 subdomain, at most 253 characters:
# apimachinery's IsDNS1123Subdomain), nodeadm's IAM Roles Anywhere nodeName (at most 64 characters:
# aws/eks-hybrid internal/node/hybrid/validator.go), which is also the IAM role session name and the certificate CN,
# and, when hybrid_node_name is set, the host's name (roles/host_prep; Linux host names have at most 64 characters,
# labels at most 63). The kubelet lower-cases the name it registers (--hostname-override), so an upper-case name
# would register a Node that the session's user system:node:<Name> may not update.
NODE_NAME_MAX = 64
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = r"%s(\.%s)*" % (_DNS_LABEL, _DNS_LABEL)
NODE_NAME_RE = re.compile(r"^%s$" % _DNS_SUBDOMAIN)
# Kubernetes label keys and values (apimachinery IsQualifiedName, IsValidLabelValue).
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY_RE = re.compile(r"^(%s/)?%s$" % (r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", _LABEL_NAME))
LABEL_KEY_MAX = 317  # a prefix of up to 253 characters, '/', a name of up to 63
LABEL_VALUE_RE = re.compile(r"^(%s)?$" % _LABEL_NAME)
# The labels the kubelet sets on its own Node with --node-labels inside the kubernetes.io and k8s.io namespaces; it
# refuses to start with any other label of those namespaces ("unknown 'kubernetes.io' or 'k8s.io' labels specified
# with --node-labels"): kubernetes/kubernetes cmd/kubelet/app/options/options.go ValidateKubeletFlags, with
# pkg/kubelet/apis/well_known_labels.go (kubeletLabels, kubeletLabelNamespaces). node-role.kubernetes.io/* is refused.
KUBELET_LABELS = frozenset((
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type", "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
))
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
KUBERNETES_LABEL_DOMAINS = ("kubernetes.io", "k8s.io")
FORBIDDEN_KUBELET_FLAGS = ("--hostname-override",)
# Flags the module owns; given again in extra kubelet flags they would contradict it.
OWNED_KUBELET_FLAGS = ("--node-ip", "--node-labels", "--register-with-taints")
TAINT_RE = re.compile(r"^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")


def _flag_name(flag):
    return str(flag).split("=", 1)[0]


def _in_namespace(namespace, domain):
    return namespace == domain or namespace.endswith("." + domain)


def node_name_problem(name):
    """Why ``name`` cannot be a hybrid node's name (see NODE_NAME_MAX), or None."""
    if not isinstance(name, str) or not name:
        return "it is not a non-empty string"
    if len(name) > NODE_NAME_MAX:
        return "it has %d characters; nodeadm allows at most %d (IAM Roles Anywhere nodeName)" % (len(name), NODE_NAME_MAX)
    if not NODE_NAME_RE.match(name):
        return ("it is not a lower-case RFC 1123 name (letters a-z, digits, '-' and '.', each dot-separated part of 1 "
                "to 63 characters starting and ending with a letter or digit)")
    return None


def label_problem(key, value):
    """Why the kubelet would refuse the node label ``key=value`` in --node-labels, or None."""
    if not isinstance(key, str) or len(key) > LABEL_KEY_MAX or not LABEL_KEY_RE.match(key):
        return "key", "%r is not a Kubernetes label key" % (key,)
    if not isinstance(value, str) or not LABEL_VALUE_RE.match(value):
        return "value", "%s=%r is not a Kubernetes label value" % (key, value)
    namespace = key.split("/", 1)[0] if "/" in key else ""
    if (any(_in_namespace(namespace, domain) for domain in KUBERNETES_LABEL_DOMAINS) and key not in KUBELET_LABELS
            and not any(_in_namespace(namespace, allowed) for allowed in KUBELET_LABEL_NAMESPACES)):
        allowed = (", ".join(KUBELET_LABEL_NAMESPACES), ", ".join(sorted(KUBELET_LABELS)))
        return "restricted", (
            "%s is in the kubernetes.io/k8s.io namespace, which the kubelet refuses in --node-labels (it would not "
            "start) except under %s or for %s" % ((key,) + allowed))
    return None


def parse_node_labels_flag(flag):
    """{key: value} of a --node-labels=k=v,k2=v2 flag."""
    labels = {}
    text = str(flag).split("=", 1)[1] if "=" in str(flag) else ""
    for item in text.split(","):
        if item:
            key, _sep, value = item.partition("=")
            labels[key] = value
    return labels


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
    # spec.hybrid.<the provider's section> (module_utils/credential_providers.py).
    section = {"ssm": ssm, "iam-ra": iam_roles_anywhere}.get(credential_provider)
    if credential_provider in credential_providers.PROVIDERS:
        hybrid[credential_providers.PROVIDERS[credential_provider]["nodeconfig_key"]] = dict(
            (key, value) for key, value in (section or {}).items() if value)
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
            "node_ip", "node_ip %s is outside the remote node networks %s: nodeadm init refuses it "
            "(node-ip-validation), and with that check skipped the kubelet's certificate requests would stay "
            "Pending." % (address, ", ".join(str(value) for value in remote_node_cidrs)),
            "Use the host's address inside the remote node networks, or add its network to them.")]
    return []


def _document_problems(doc, spec):
    """The document's type and the cluster it joins."""
    found = []
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        found.append(_problem("apiVersion", "apiVersion/kind must be %s/%s." % (API_VERSION, KIND), "Render with this module."))
    cluster = spec.get("cluster") or {}
    for key in ("name", "region"):
        if not cluster.get(key):
            found.append(_problem("cluster_name" if key == "name" else "region", "spec.cluster.%s is required." % key,
                                  "Set the cluster's %s." % key))
    return found


def _credential_provider_problems(hybrid, ssm, ira):
    """Exactly one credential provider block."""
    if "ssm" in hybrid and not ssm and not ira:
        return [_problem("ssm_activation_id", "No SSM activation is given, and none is in the existing NodeConfig.",
                         "Pass ssm_activation_id and ssm_activation_code from hybridnodes.eks.ssm_activation "
                         "(created at join time for the hosts not registered yet).")]
    if bool(ssm) == bool(ira):
        return [_problem("credential_provider",
                         "Exactly one of the ssm and iamRolesAnywhere blocks must be set (found %s)." % (
                             "both" if ssm else "neither"),
                         "Give the SSM activation or the IAM Roles Anywhere settings, not both.")]
    return []


def _ssm_problems(ssm):
    """The SSM activation id and code (the messages give the code's length only)."""
    found = []
    if not UUID_RE.match(str(ssm.get("activationId") or "")):
        found.append(_problem("ssm_activation_id", "The SSM activation id %r is not a UUID." % (ssm.get("activationId"),),
                              "Use the ActivationId returned by ssm:CreateActivation."))
    code_length = len(str(ssm.get("activationCode") or ""))
    if not ACTIVATION_CODE_LENGTH[0] <= code_length <= ACTIVATION_CODE_LENGTH[1]:
        found.append(_problem("ssm_activation_code",
                              "The SSM activation code has %d characters; nodeadm wants %d to %d." % (
                                  (code_length,) + ACTIVATION_CODE_LENGTH),
                              "Use the ActivationCode returned by ssm:CreateActivation (it is shown only once)."))
    return found


def _iam_ra_problems(ira):
    """The IAM Roles Anywhere node name, ARNs and paths."""
    found = []
    reason = node_name_problem(ira.get("nodeName") or "")
    if reason:
        found.append(_problem("iam_ra_node_name", "The IAM Roles Anywhere nodeName %r is refused: %s." % (
            ira.get("nodeName"), reason), "Use a lower-case name of up to %d characters (letters, digits, '-', "
            "'.'); it is the Node's name and must equal the certificate's CN." % NODE_NAME_MAX))
    for key, option in (("trustAnchorArn", "iam_ra_trust_anchor_arn"), ("profileArn", "iam_ra_profile_arn"),
                        ("roleArn", "iam_ra_role_arn")):
        if not str(ira.get(key) or "").startswith("arn:"):
            found.append(_problem(option, "iamRolesAnywhere.%s must be an ARN." % key, "Set %s." % option))
    for key in ("certificatePath", "privateKeyPath", "awsConfigPath"):
        if ira.get(key) and not str(ira[key]).startswith("/"):
            found.append(_problem(key, "iamRolesAnywhere.%s must be an absolute path." % key, "Use an absolute path."))
    return found


def _kubelet_flag_problems(flags):
    """Flags nodeadm rejects, and the flags this module owns given more than once."""
    found = []
    for flag in flags:
        if _flag_name(flag) in FORBIDDEN_KUBELET_FLAGS:
            found.append(_problem("kubelet_extra_flags", "%s is rejected by nodeadm for hybrid nodes." % _flag_name(flag),
                                  "Remove it; the node name comes from the credentials (SSM instance id or nodeName)."))
    names = [_flag_name(flag) for flag in flags]
    for name in OWNED_KUBELET_FLAGS:
        if names.count(name) > 1:
            found.append(_problem("kubelet_extra_flags", "%s is given more than once." % name,
                                  "Set it through the module's option, not in kubelet_extra_flags."))
    return found


def _taint_and_label_problems(flags):
    """The taints and labels the kubelet registers the Node with, in the order of the flags."""
    found = []
    for flag in flags:
        if _flag_name(flag) == "--register-with-taints":
            for taint in str(flag).split("=", 1)[1].split(","):
                if not TAINT_RE.match(taint):
                    found.append(_problem("node_taints", "Taint %r is not key[=value]:Effect." % taint,
                                          "Write taints as key=value:NoSchedule (or PreferNoSchedule, NoExecute)."))
        if _flag_name(flag) == "--node-labels":
            for key, value in sorted(parse_node_labels_flag(flag).items()):
                found_label = label_problem(key, value)
                if found_label:
                    found.append(_problem("node_labels", "Node label %s." % found_label[1],
                                          "Remove it or use your own prefix (such as example.com/role); a label the "
                                          "kubelet may not set itself is set afterwards with kubectl label."))
    return found


def problems(doc, remote_node_cidrs=None):
    """Every reason nodeadm would refuse (or a join would fail with) this NodeConfig.

    Messages never contain the activation code.
    """
    spec = doc.get("spec") or {}
    found = _document_problems(doc, spec)
    hybrid = spec.get("hybrid") or {}
    ssm = hybrid.get("ssm")
    ira = hybrid.get("iamRolesAnywhere")
    found.extend(_credential_provider_problems(hybrid, ssm, ira))
    if ssm:
        found.extend(_ssm_problems(ssm))
    if ira:
        found.extend(_iam_ra_problems(ira))
    flags = (spec.get("kubelet") or {}).get("flags") or []
    found.extend(_kubelet_flag_problems(flags))
    found.extend(_taint_and_label_problems(flags))
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
