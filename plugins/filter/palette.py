# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of Palette registration artefacts for EKS Hybrid Nodes (documented in palette_*_problems.yml).

user-data: the registration token must be there; in appliance mode the
``install`` block that keeps the EKS Hybrid Nodes directories across the
immutable OS (extra-dirs-rootfs and bind_mounts) must be complete; the host
must be in connected mode. .arg (CanvOS): K8S_DISTRIBUTION=nodeadm and a
Kubernetes version CanvOS builds for nodeadm. Agent install: the installer URL is
https (plain http only when explicitly allowed, and then with a sha256), the
sha256 is 64 hex digits. Every problem is returned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import yaml

from ansible.errors import AnsibleFilterError

BIND_MOUNTS = ("/eks-hybrid", "/etc/aws", "/etc/containerd", "/etc/eks", "/etc/iam", "/etc/modules-load.d",
               "/var/lib/amazon")
EXTRA_DIRS = ("/eks-hybrid",)
NODEADM_K8S_VERSIONS = ("1.28.0", "1.29.0", "1.30.0", "1.31.0")
ARG_REQUIRED = ("K8S_DISTRIBUTION", "K8S_VERSION", "IMAGE_REGISTRY", "IMAGE_REPO", "OS_DISTRIBUTION", "CUSTOM_TAG",
                "ISO_NAME", "ARCH")


def _problem(code, message, fix):
    return {"code": code, "message": message, "fix": fix}


def _as_data(value, what):
    if isinstance(value, dict):
        return value
    try:
        data = yaml.safe_load(value or "")
    except yaml.YAMLError as exc:
        # The parser's message quotes the lines around the error, which may hold the edgeHostToken (a secret): name
        # the problem, the line and the column only, and chain nothing (-vvv would print the cause).
        mark = getattr(exc, "problem_mark", None)
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or "a YAML syntax error"
        raise AnsibleFilterError("%s is not valid YAML%s: %s" % (what, where, problem)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AnsibleFilterError("%s must be a mapping, not %s" % (what, type(data).__name__))
    return data


def palette_user_data_problems(user_data, mode="appliance"):
    """Every problem of a Palette user-data document (a dict or YAML text) for EKS Hybrid Nodes."""
    if mode not in ("agent", "appliance"):
        raise AnsibleFilterError("mode must be agent or appliance, not %r" % mode)
    data = _as_data(user_data, "user-data")
    problems = []
    if not str(data.get("edgeHostToken") or "").strip():
        problems.append(_problem("token-missing", "edgeHostToken is missing or empty",
                                 "Set edgeHostToken to a Palette registration token (keep it in a vault)."))
    stylus = data.get("stylus") or {}
    if isinstance(stylus, dict) and stylus.get("installationMode") not in (None, "connected"):
        problems.append(_problem("not-connected", "stylus.installationMode is %r" % stylus.get("installationMode"),
                                 "EKS Hybrid Nodes need connected mode: remove stylus.installationMode."))
    if mode == "appliance":
        install = data.get("install") or {}
        if not isinstance(install, dict):
            install = {}
        mounts = [str(m).rstrip("/") or "/" for m in install.get("bind_mounts") or []]
        missing = [m for m in BIND_MOUNTS if m not in mounts]
        if missing:
            problems.append(_problem("bind-mounts", "install.bind_mounts lacks %s" % ", ".join(missing),
                                     "Keep the install block of the EKS Hybrid Nodes guide: bind_mounts %s."
                                     % ", ".join(BIND_MOUNTS)))
        dirs = [str(d).rstrip("/") for d in install.get("extra-dirs-rootfs") or []]
        missing = [d for d in EXTRA_DIRS if d not in dirs]
        if missing:
            problems.append(_problem("extra-dirs", "install.extra-dirs-rootfs lacks %s" % ", ".join(missing),
                                     "Add %s to install.extra-dirs-rootfs." % ", ".join(missing)))
    return problems


def palette_arg_problems(args):
    """Every problem of a CanvOS .arg (a dict of its variables) for EKS Hybrid Nodes."""
    args = dict((str(k), "" if v is None else str(v)) for k, v in (args or {}).items())
    problems = []
    missing = [key for key in ARG_REQUIRED if not args.get(key)]
    if missing:
        problems.append(_problem("arg-missing", ".arg lacks %s" % ", ".join(missing), "Set %s." % ", ".join(missing)))
    if args.get("K8S_DISTRIBUTION") and args["K8S_DISTRIBUTION"] != "nodeadm":
        problems.append(_problem("distribution", "K8S_DISTRIBUTION is %s" % args["K8S_DISTRIBUTION"],
                                 "Set K8S_DISTRIBUTION=nodeadm for EKS Hybrid Nodes."))
    if args.get("K8S_VERSION") and args["K8S_VERSION"] not in NODEADM_K8S_VERSIONS:
        problems.append(_problem("k8s-version", "K8S_VERSION %s is not one CanvOS builds for nodeadm" % args["K8S_VERSION"],
                                 "Use one of %s (see CanvOS k8s_version.json)." % ", ".join(NODEADM_K8S_VERSIONS)))
    if args.get("ARCH") and args["ARCH"] not in ("amd64", "arm64"):
        problems.append(_problem("arch", "ARCH is %s" % args["ARCH"], "Set ARCH to amd64 or arm64."))
    if args.get("OS_DISTRIBUTION") == "ubuntu" and not args.get("OS_VERSION"):
        problems.append(_problem("os-version", "OS_VERSION is missing for ubuntu", "Set OS_VERSION (22.04 or 24.04)."))
    if args.get("OS_DISTRIBUTION") and args["OS_DISTRIBUTION"] not in ("ubuntu", "rhel"):
        problems.append(_problem("os", "OS_DISTRIBUTION is %s" % args["OS_DISTRIBUTION"],
                                 "Use ubuntu or rhel: Palette supports the operating systems AWS supports for hybrid nodes."))
    return problems


SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def palette_agent_install_problems(url, sha256="", allow_http=False, mode="agent"):
    """Every problem of the Palette agent installer source (URL, sha256, plain http allowed or not)."""
    url = str(url or "").strip()
    sha256 = str(sha256 or "").strip()
    problems = []
    if mode != "agent":
        problems.append(_problem("agent-mode", "the agent is installed in agent mode only, not in %s mode" % mode,
                                 "Set palette_artifacts_mode=agent (appliance mode installs the agent from the EdgeForge ISO)."))
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not url:
        problems.append(_problem("installer-url", "the agent installer URL is empty",
                                 "Set palette_artifacts_agent_installer_url to the palette-agent-install.sh of your Palette version."))
    elif scheme not in ("https", "http") or not url.split("://", 1)[1].split("/", 1)[0]:
        problems.append(_problem("installer-url", "the agent installer URL %s is not an https URL" % url,
                                 "Give an https:// URL with a host name."))
    elif scheme == "http" and not allow_http:
        problems.append(_problem("installer-http", "the agent installer URL %s is plain http" % url,
                                 "Use https, or set palette_artifacts_agent_installer_allow_http=true and "
                                 "palette_artifacts_agent_installer_sha256 for a trusted local mirror."))
    elif scheme == "http" and not sha256:
        problems.append(_problem("installer-http-checksum", "the agent installer URL %s is plain http without a sha256" % url,
                                 "Set palette_artifacts_agent_installer_sha256: a script fetched over http runs as root "
                                 "only when its checksum is verified."))
    if url and not sha256 and re.search(r"/latest(/|$)", url):
        problems.append(_problem("installer-unpinned", "the agent installer URL %s is not pinned (latest changes "
                                 "under you) and has no sha256" % url,
                                 "Use the URL of one release (.../releases/download/vX.Y.Z/palette-agent-install.sh), "
                                 "or set palette_artifacts_agent_installer_sha256: the script runs as root on every host."))
    if sha256 and not SHA256_RE.match(sha256):
        problems.append(_problem("installer-sha256", "palette_artifacts_agent_installer_sha256 is not 64 hex digits",
                                 "Give the bare sha256 hex digest of the installer (sha256sum palette-agent-install.sh)."))
    return problems


class FilterModule:
    """hybridnodes.eks Palette filters."""

    def filters(self):
        return {
            "palette_user_data_problems": palette_user_data_problems,
            "palette_arg_problems": palette_arg_problems,
            "palette_agent_install_problems": palette_agent_install_problems,
        }
