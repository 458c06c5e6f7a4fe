# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One Kubernetes client factory for the collection's Kubernetes modules.

It stands on kubernetes.core: the same authentication options
(``kubeconfig``, ``context``, ``host``, ``api_key``, ``validate_certs``, ...,
documented by the ``kubernetes.core.k8s_auth_options`` fragment), the same
module class (check mode becomes server-side dry run) and the same client.
What it adds: an error that says which cluster could not be reached and how
to fix it, and bounded paginated listing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:  # the kubernetes library is missing: AnsibleK8SModule reports it
    get_api_client = None
    CoreException = Exception

DEFAULT_PAGE_SIZE = 500


def k8s_argument_spec(extra=None):
    """kubernetes.core's authentication options plus the module's own."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(extra or {})
    return spec


def k8s_module(argument_spec, **kwargs):
    """An AnsibleK8SModule with the authentication options merged in."""
    return AnsibleK8SModule(argument_spec=k8s_argument_spec(argument_spec), **kwargs)


def describe_target(params):
    """Name the cluster a module was pointed at, for error messages."""
    parts = []
    if params.get("host"):
        parts.append("host=%s" % params["host"])
    kubeconfig = params.get("kubeconfig")
    if isinstance(kubeconfig, str):
        parts.append("kubeconfig=%s" % kubeconfig)
    elif isinstance(kubeconfig, dict):
        parts.append("kubeconfig=(inline)")
    if params.get("context"):
        parts.append("context=%s" % params["context"])
    return ", ".join(parts) or "the default kubeconfig (~/.kube/config or K8S_AUTH_KUBECONFIG)"


def k8s_client(module):
    """A kubernetes.core K8SClient, or fail naming the cluster and the fix."""
    try:
        return get_api_client(module=module)
    except CoreException as exc:
        module.fail_json(msg=(
            "Cannot build a Kubernetes client for %s: %s. Fix: point kubeconfig/context (or host and "
            "api_key) at the EKS cluster, e.g. after 'aws eks update-kubeconfig --name CLUSTER'."
            % (describe_target(module.params), exc)))
    return None


def list_all(client, api_version, kind, label_selector=None, namespace=None,
             page_size=DEFAULT_PAGE_SIZE, max_pages=1000):
    """Every object of a kind, page by page (``limit``/``continue``), as plain dicts.

    Bounded by ``max_pages`` so that a misbehaving server cannot loop a run.
    """
    resource = client.resource(kind, api_version)
    items = []
    token = None
    for _page in range(max_pages):
        params = {"limit": page_size}
        if label_selector:
            params["label_selector"] = label_selector
        if namespace:
            params["namespace"] = namespace
        if token:
            params["_continue"] = token
        page = client.get(resource, **params).to_dict()
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items
    raise RuntimeError("Listing %s/%s returned more than %d pages; stopped." % (api_version, kind, max_pages))
