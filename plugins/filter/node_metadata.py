# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The labels and taints of a joined Node (documented in node_metadata_patch.yml); the rules are
module_utils.node_metadata."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import node_metadata


def node_metadata_patch(node, labels=None, taints=None):
    if not isinstance(node, dict):
        raise AnsibleFilterError("node_metadata_patch wants a Node as kubernetes.core.k8s_info returns it")
    return node_metadata.plan_patch(node, labels, taints)


class FilterModule:
    """hybridnodes.eks Node metadata filters."""

    def filters(self):
        return {"node_metadata_patch": node_metadata_patch}
