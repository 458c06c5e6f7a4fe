# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The credential-provider registry for roles and playbooks (documented in credential_provider.yml); the entries are
module_utils.credential_providers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers


def credential_provider(name, partition=None, region=None, account_id=None, trust_anchor_arn=None, cluster_arn=None):
    try:
        return credential_providers.describe(name, partition, region, account_id, trust_anchor_arn, cluster_arn)
    except KeyError as exc:
        raise AnsibleFilterError("%s (hybrid_credential_provider)" % exc.args[0])


class FilterModule:
    """hybridnodes.eks credential-provider filters."""

    def filters(self):
        return {"credential_provider": credential_provider}
