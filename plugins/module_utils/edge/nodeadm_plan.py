# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decide which nodeadm verbs a host needs: a pure planner over plain facts.

Facts (read once by the module):
  ``tracker``         the Artifacts of /opt/nodeadm/tracker as a dict, or None when absent
  ``kubelet_version`` the installed kubelet's version ("1.31.7"), or None
  ``kubeconfig``      whether /var/lib/kubelet/kubeconfig exists
  ``kubelet_active``  whether the kubelet service is active

Options: ``state`` (installed, initialized, upgraded, absent), ``kubernetes_version``
("1.31" or "1.31.2"), ``credential_provider`` (ssm or iam-ra), ``config_changed`` and
``allow_disruptive``.

The plan is a dict: ``actions`` (verbs in order, from install, init, upgrade,
uninstall), ``needs`` (what would be needed but is not done, with the reason),
``warnings`` and ``problems`` (refusals: the module fails with them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers

STATES = ("installed", "initialized", "upgraded", "absent")


def parse_version(text):
    """"v1.31.7", "Kubernetes v1.31.7" or "1.31" -> (1, 31, 7) / (1, 31); None when unreadable."""
    if not text:
        return None
    word = str(text).split()[-1].lstrip("v")
    parts = word.split("-", 1)[0].split(".")
    try:
        return tuple(int(part) for part in parts)
    except ValueError:
        return None


def version_matches(requested, installed):
    """A minor ("1.31") matches any of its patches; a patch ("1.31.2") only itself."""
    want, have = parse_version(requested), parse_version(installed)
    if not want or not have:
        return False
    return have[:len(want)] == want


def installed_provider(tracker):
    """The provider nodeadm's tracker records (its key per provider: module_utils/credential_providers.py)."""
    return credential_providers.from_tracker(tracker)


def is_installed(facts):
    return facts.get("tracker") is not None


def is_initialized(facts):
    return bool(facts.get("kubeconfig")) and bool(facts.get("kubelet_active"))


def _install_part(facts, options, plan):
    """Actions that bring the components to the requested version and provider; returns whether
    the host will be (re)installed from scratch by this plan."""
    want = options["kubernetes_version"]
    if not is_installed(facts):
        plan["actions"].append("install")
        return True
    have_provider = installed_provider(facts.get("tracker"))
    provider_differs = have_provider is not None and have_provider != options["credential_provider"]
    version_differs = not version_matches(want, facts.get("kubelet_version"))
    if not provider_differs and not version_differs:
        return False
    reason = ("the credential provider is %s, not %s" % (have_provider, options["credential_provider"])
              if provider_differs else
              "Kubernetes %s is installed, not %s" % (facts.get("kubelet_version") or "(unknown)", want))
    if is_initialized(facts):
        if provider_differs or options["state"] != "upgraded":
            _disruptive(plan, options, reason)
        return False
    # Installed but not running a node: nothing to disrupt.
    if provider_differs:
        plan["actions"].extend(["uninstall", "install"])
    else:
        plan["actions"].append("install")
    return True


def _disruptive(plan, options, reason):
    """The documented path for an initialised node: uninstall, install, init; only when allowed."""
    if options.get("allow_disruptive"):
        plan["actions"][:] = ["uninstall", "install", "init"]
        plan["disruptive"] = True
        return
    need = "uninstall, install and init (set allow_disruptive=true after draining the node): " + reason
    if need not in plan["needs"]:
        plan["needs"].append(need)
        plan["warnings"].append("nodeadm left the node as it is; it would need to " + need)


def plan(facts, options):
    """The plan for one host (see the module docstring)."""
    result = {"actions": [], "needs": [], "warnings": [], "problems": [], "disruptive": False}
    state = options["state"]
    if state not in STATES:
        result["problems"].append("state=%r is not one of %s" % (state, ", ".join(STATES)))
        return result

    if state == "absent":
        if is_installed(facts):
            result["actions"].append("uninstall")
        return result

    want = options.get("kubernetes_version")
    if not parse_version(want):
        result["problems"].append("kubernetes_version=%r is not a Kubernetes version such as 1.31" % (want,))
        return result

    if state == "upgraded" and is_initialized(facts) and is_installed(facts):
        have = parse_version(facts.get("kubelet_version"))
        wanted = parse_version(want)
        if have and have[:len(wanted)] > wanted:
            result["problems"].append(
                "the node runs Kubernetes %s; nodeadm cannot downgrade to %s (uninstall and join again instead)"
                % (facts.get("kubelet_version"), want))
            return result

    fresh = _install_part(facts, options, result)
    if result["disruptive"]:
        return result
    if state == "installed":
        return result

    if fresh or not is_initialized(facts):
        result["actions"].append("init")
        return result

    # Initialised node.
    if state == "upgraded" and not version_matches(want, facts.get("kubelet_version")) \
            and installed_provider(facts.get("tracker")) in (None, options["credential_provider"]):
        result["actions"].append("upgrade")
    # A NodeConfig change on a joined node: nodeadm init again (EKS user guide, hybrid-nodes-nodeadm: "re-run
    # nodeadm init"); it rewrites the kubelet and containerd configuration and restarts both, and keeps the SSM
    # registration. Labels and taints of an existing Node do not change that way (the kubelet applies them only when
    # it registers the Node): the nodeadm role sets them through the API.
    if options.get("config_changed") and "upgrade" not in result["actions"]:
        result["actions"].append("init")
    return result
