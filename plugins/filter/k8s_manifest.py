# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The documents of a manifest that an apply would change (documented in k8s_unapplied.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _key(doc):
    meta = doc.get("metadata") or {}
    return (doc.get("apiVersion"), doc.get("kind"), meta.get("namespace") or "", meta.get("name"))


def _empty(value):
    return value is None or value == {} or value == []


def _contained(want, have):
    """Whether every field of want is in have with the same value (lists item by item, same length).

    A field that is null or empty in want may be missing in have: the API server drops empty fields.
    Scalars compare as text when their types differ (a port 80 written as "80").
    """
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return _empty(want) and _empty(have)
        return all(_contained(value, have.get(key)) if key in have else _empty(value) for key, value in want.items())
    if isinstance(want, list):
        if not isinstance(have, list):
            return _empty(want) and _empty(have)
        return len(want) == len(have) and all(_contained(w, h) for w, h in zip(want, have))
    if want is None:
        return _empty(have)
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    return want == have or (type(want) is not type(have) and str(want) == str(have))


def _normal(doc):
    """The document as the JSON of the last-applied annotation gives it back (tuples as lists, keys as text)."""
    return json.loads(json.dumps(doc, sort_keys=True, default=str))


def k8s_unapplied(desired, live):
    """The documents of desired that an apply would change: absent from live, applied last from another document
    (kubectl.kubernetes.io/last-applied-configuration differs), or changed since (a field of the document differs in
    the live object). live: the objects as read from the API server, any order, absent ones left out."""
    if not isinstance(desired, list) or not isinstance(live, list):
        raise AnsibleFilterError("k8s_unapplied: the manifest's documents and the live objects must both be lists, "
                                 "not %s and %s" % (type(desired).__name__, type(live).__name__))
    current = {}
    for obj in live:
        if isinstance(obj, dict) and obj:
            current[_key(obj)] = obj
    out = []
    for index, doc in enumerate(desired):
        if not isinstance(doc, dict) or not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
            raise AnsibleFilterError("k8s_unapplied: document %d has no kind or metadata.name: %r" % (index, doc))
        obj = current.get(_key(doc))
        if obj is None:
            # Cluster-scoped objects come back without a namespace: match them by the rest of the key.
            obj = current.get(_key(dict(doc, metadata=dict(doc["metadata"], namespace=None))))
        if obj is None:
            out.append(doc)
            continue
        applied = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        try:
            same_as_applied = applied is not None and json.loads(applied) == _normal(doc)
        except ValueError:
            same_as_applied = False
        if not same_as_applied or not _contained(_normal(doc), obj):
            out.append(doc)
    return out


class FilterModule:
    """hybridnodes.eks Kubernetes manifest filters."""

    def filters(self):
        return {"k8s_unapplied": k8s_unapplied}
