# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The flow IAM Roles Anywhere trust anchors, profiles and CRLs share.

All are found by name in one paginated list call, deleted by ID, created with
their tags, updated with only the fields that differ and enabled or disabled
with a call of its own. The API names the calls and fields of both the same
way (``list_trust_anchors``/``trustAnchors``, ``trustAnchorId``,
``CreateTrustAnchor``/``trustAnchor``): a ``Resource`` derives them from the
noun ('trust anchor', 'profile', 'crl'; a CRL is imported, not created:
``ImportCrl``). The client comes from aws.aws_client().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hybridnodes.eks.plugins.module_utils.aws import calls as aws

SERVICE = "rolesanywhere"


class Resource:
    """The API names of one kind of IAM Roles Anywhere resource, derived from its noun."""

    def __init__(self, noun, api_noun=None):
        words = (api_noun or noun).split()                                  # the API's words, when the noun is not
        self.noun = noun                                                    # trust anchor
        self.plural = noun + "s"                                            # trust anchors
        self.snake = "_".join(words)                                        # trust_anchor
        self.pascal = "".join(word.capitalize() for word in words)          # TrustAnchor
        self.camel = words[0] + self.pascal[len(words[0]):]                 # trustAnchor
        self.id_key = self.camel + "Id"                                     # trustAnchorId
        self.arn_key = self.camel + "Arn"                                   # trustAnchorArn

    def describe(self, name):
        return "IAM Roles Anywhere %s %s" % (self.noun, name)


TRUST_ANCHOR = Resource("trust anchor")
PROFILE = Resource("profile")
CRL = Resource("CRL", api_noun="crl")


def tag_list(tags):
    """{'k': 1} -> [{'key': 'k', 'value': '1'}], sorted by key, as the API takes tags."""
    return [{"key": key, "value": str(value)} for key, value in sorted((tags or {}).items())]


def call(module, client, kind, method, label, **kwargs):
    """client.<method>(**kwargs), retried; a failure names the operation and the resource (its name: ``label``)."""
    return aws.call(module, client, method, kind.describe(label), SERVICE, **kwargs)


def find_by_name(module, client, kind, name):
    """The one resource of that name, or None; fails when the name is taken more than once."""
    listed = aws.list_all(module, client, "list_" + kind.snake + "s", kind.camel + "s",
                          "(looking for %s %s)" % (kind.noun, name), SERVICE,
                          overflow_resource="(looking for %s)" % name)
    found = [item for item in listed if item.get("name") == name]
    if len(found) > 1:
        module.fail_json(msg="%d IAM Roles Anywhere %s are named %s; delete the extra ones (IDs %s) or choose "
                             "another name." % (len(found), kind.plural, name,
                                                ", ".join(item[kind.id_key] for item in found)))
    return found[0] if found else None


def ensure_absent(module, client, kind, current, name):
    """Delete ``current`` (unless in check mode); one already gone counts as deleted. Returns (changed, None)."""
    if current is not None and not module.check_mode:
        aws.call(module, client, "delete_" + kind.snake, kind.describe(name), SERVICE,
                 absent=("ResourceNotFoundException",), **{kind.id_key: current[kind.id_key]})
    return current is not None, None


def create(module, client, kind, name, fields, enabled, tags, verb="create"):
    """Create (or ``verb``: 'import') the resource from ``fields`` (predicted in check mode). Returns (True, resource)."""
    predicted = dict(fields, name=name, enabled=enabled)
    if module.check_mode:
        return True, predicted
    request = dict(predicted)
    if tags:
        request["tags"] = tag_list(tags)
    return True, call(module, client, kind, verb + "_" + kind.snake, name,
                      **request)[kind.camel]


def add_missing_tags(module, client, kind, current, name, tags):
    """Tag ``current`` with the tags of ``tags`` it lacks or has another value of (others are left alone).

    Returns whether a tag was missing (in check mode too, without the write)."""
    if not tags:
        return False
    arn = current[kind.arn_key]
    existing = call(module, client, kind, "list_tags_for_resource", name,
                    resourceArn=arn).get("tags") or []
    have = dict((tag["key"], tag["value"]) for tag in existing)
    missing = [tag for tag in tag_list(tags) if have.get(tag["key"]) != tag["value"]]
    if missing and not module.check_mode:
        call(module, client, kind, "tag_resource", name, resourceArn=arn, tags=missing)
    return bool(missing)


def update_existing(module, client, kind, current, name, update, enabled, tags=None):
    """Write the fields of ``update``, then enable or disable, then add the ``tags`` it lacks, each only when needed.

    Returns (changed, after); a kind whose tags are set at creation only (profile) passes no ``tags``."""
    changed = False
    after = dict(current)
    resource_id = {kind.id_key: current[kind.id_key]}
    if update:
        changed = True
        after.update(update)
        if not module.check_mode:
            after = call(module, client, kind, "update_" + kind.snake, name,
                         **dict(resource_id, **update))[kind.camel]
    if bool(current.get("enabled")) != enabled:
        changed = True
        after["enabled"] = enabled
        if not module.check_mode:
            verb = "enable" if enabled else "disable"
            after = call(module, client, kind, verb + "_" + kind.snake, name,
                         **resource_id)[kind.camel]
    tagged = add_missing_tags(module, client, kind, current, name, tags)
    return changed or tagged, after


def run(module, kind, summary, ensure_present, *extra):
    """A module's run: find the resource by its name, delete it (state=absent) or hand it to
    ``ensure_present(module, client, current, *extra)``, then exit with the diff of ``summary`` before and after,
    the result under ``kind.snake`` (trust_anchor, profile, crl)."""
    client = aws.aws_client(module, SERVICE)
    name = module.params["name"]
    current = find_by_name(module, client, kind, name)
    if module.params["state"] == "absent":
        changed, after = ensure_absent(module, client, kind, current, name)
    else:
        changed, after = ensure_present(module, client, current, *extra)
    aws.exit_with_diff(module, changed, kind.snake, summary, current, after)
