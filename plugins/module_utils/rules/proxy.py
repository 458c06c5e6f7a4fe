# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The HTTP(S) proxy of the edge hosts, as pure functions (standard library only).

nodeadm init's proxy-validation (aws/eks-hybrid internal/network/proxy_validator.go) requires the upper- and
lower-case proxy variables to be equal, NO_PROXY included, and finds the proxy in fixed files: one NO_PROXY list
for every consumer, and one URL written the same way everywhere. The URL goes into apt's configuration, systemd
drop-ins and /etc/environment, so it must be a plain URL that can inject nothing there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from urllib.parse import unquote, urlsplit

# What nodeadm reads, per consumer (internal/network/proxy_validator.go, v1.0.19).
KUBELET_DROP_IN = "/etc/systemd/system/kubelet.service.d/http-proxy.conf"
CONTAINERD_DROP_IN = "/usr/lib/systemd/system/containerd.service.d/http-proxy.conf"
SSM_DROP_IN = "/etc/systemd/system/amazon-ssm-agent.service.d/http-proxy.conf"  # RHEL, AL2023
SSM_SNAP_DROP_IN = "/etc/systemd/system/snap.amazon-ssm-agent.amazon-ssm-agent.service.d/http-proxy.conf"  # Ubuntu
APT_CONF = "/etc/apt/apt.conf.d/proxy.conf"

# Characters that could end a quoted apt value or a systemd Environment= assignment, or start a new line of either.
_UNSAFE = re.compile(r"[\s\"'\\;`$]")
_HOST = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")


def proxy_problems(url, name="hybrid_proxy"):
    """Why ``url`` cannot be the proxy of the edge hosts (empty when it can, or when it is empty). The messages never
    quote the URL: it may hold credentials."""
    if not url:
        return []
    url = str(url)
    problems = []
    if _UNSAFE.search(url):
        problems.append("%s holds white space, a quote, a backslash, ';', '`' or '$'; it is written into apt's "
                        "configuration, systemd drop-ins and /etc/environment, where such a character could add a "
                        "directive. Fix: give a plain URL such as http://proxy.example.com:3128 (percent-encode "
                        "special characters of a password)." % name)
        return problems
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ["%s is not a URL (its port is not a number from 1 to 65535). Fix: give a URL such as "
                "http://proxy.example.com:3128." % name]
    if parts.scheme not in ("http", "https"):
        problems.append("%s must start with http:// or https:// (the scheme of the proxy itself). Fix: give a URL such "
                        "as http://proxy.example.com:3128." % name)
    host = parts.netloc.rsplit("@", 1)[-1]
    if port is not None:
        host = host[:host.rfind(":")]
    if not host or not _HOST.match(host):
        problems.append("%s names no proxy host. Fix: give a URL such as http://proxy.example.com:3128." % name)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        problems.append("%s has a path, query or fragment; a proxy URL is scheme://[user:password@]host[:port]. "
                        "Fix: remove what follows the port." % name)
    return problems


def has_credentials(url):
    """Whether the proxy URL carries a user name or password (its files are then readable by root only)."""
    try:
        parts = urlsplit(str(url or ""))
    except ValueError:
        return False
    return bool(parts.username or parts.password)


def proxy_environment(url, no_proxy_list=None, names=("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"),
                      no_proxy_names=("NO_PROXY", "no_proxy")):
    """The environment a program run by a module gets the proxy from, upper and lower case equal as nodeadm's
    proxy-validation requires; empty without a proxy. Modules take the URL as a no_log option and hand this to
    run_command(environ_update=...): a task's ``environment`` is shown at -vvv (the remote command line) and in the
    remote process list, with whatever user:password the URL holds."""
    if not url:
        return {}
    environment = dict.fromkeys(names, str(url))
    if no_proxy_names:
        value = no_proxy_list if isinstance(no_proxy_list, str) else ",".join(no_proxy_list or [])
        environment.update(dict.fromkeys(no_proxy_names, value))
    return environment


def secret_parts(url):
    """What of a proxy URL must not appear in a module's output, in every form a program may print it: the password as
    written and percent-decoded, and user:password. Empty when the URL carries no password. (The whole URL is masked
    by the module's no_log option already.)"""
    try:
        parts = urlsplit(str(url or ""))
    except ValueError:
        return set()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    _user, colon, password = userinfo.partition(":")
    if not colon or not password:
        return set()
    return {value for value in (password, unquote(password), userinfo, unquote(userinfo)) if value}


def no_proxy(vpc_cidrs=None, service_cidr=None, remote_node_cidrs=None, remote_pod_cidrs=None, extra=None):
    """The one NO_PROXY list of every consumer (apt, containerd, the kubelet, the SSM agent, nodeadm itself): loopback,
    the instance metadata address, the cluster's DNS suffixes, the VPC, service, node and pod networks, then extra."""
    items = ["localhost", "127.0.0.1", "169.254.169.254", ".svc", ".cluster.local"]
    for group in (vpc_cidrs, [service_cidr] if service_cidr else [], remote_node_cidrs, remote_pod_cidrs, extra):
        for item in group or []:
            if item and item not in items:
                items.append(str(item))
    return items
