# -*- coding: utf-8 -*-
"""roles/nodeadm/tasks/download.yml: where nodeadm comes from, checked before anything is fetched, rendered by Ansible's
own templating from the role's task file and defaults: a pinned release (never latest), https unless allowed, and a
digest pinned in the inventory that wins over the published one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "nodeadm")
DIGEST = "a" * 64


def tasks():
    loader = DataLoader()
    found = loader.load_from_file(os.path.join(ROLE, "tasks", "download.yml"), trusted_as_template=True)
    return loader, {task["name"]: task for task in found}


def templar(**inventory):
    loader, _tasks = tasks()
    variables = dict(loader.load_from_file(os.path.join(ROLE, "defaults", "main.yml"), trusted_as_template=True))
    variables.update({"hybrid_nodeadm_version": "v1.0.19"}, **inventory)
    return Templar(loader=loader, variables=variables)


def problems(**inventory):
    _loader, found = tasks()
    check = found["Check the nodeadm release, its source and the pinned digests before anything is fetched"]
    return templar(**dict(inventory, **check["vars"])).template(check["vars"]["nodeadm_download_problems"])


def test_a_pinned_https_release_passes():
    assert problems() == []


def test_latest_and_an_unset_version_are_refused():
    assert "pin a release vX.Y.Z" in " ".join(problems(hybrid_nodeadm_version="latest"))
    assert "pin a release vX.Y.Z" in " ".join(problems(hybrid_nodeadm_version=""))


def test_http_only_where_allowed():
    http = {"hybrid_nodeadm_base_url": "http://10.200.0.2:8080"}
    assert "is not https" in " ".join(problems(**http))
    assert problems(hybrid_nodeadm_allow_insecure_url=True, **http) == []


def test_pinned_digests_must_be_digests_and_win_over_the_published_one():
    assert problems(hybrid_nodeadm_sha256={"amd64": DIGEST}) == []
    assert problems(hybrid_nodeadm_sha256={"arm64": "XYZ"}) == [
        "hybrid_nodeadm_sha256[arm64] is not a sha256 digest (64 lower-case hex digits)."]
    _loader, found = tasks()
    pick = found["Pick this host's digest (the one pinned in the inventory, else the first word of the .sha256 file)"]
    published = {"amd64": "b" * 64 + "  _bin/amd64/nodeadm\n", "arm64": "c" * 64 + "  _bin/arm64/nodeadm\n"}
    expression = pick["ansible.builtin.set_fact"]["nodeadm_sha256"]
    pinned = templar(hybrid_nodeadm_sha256={"amd64": DIGEST}, nodeadm_published_sha256=published, nodeadm_architecture="amd64")
    assert pinned.template(expression).strip() == DIGEST
    other = templar(hybrid_nodeadm_sha256={"amd64": DIGEST}, nodeadm_published_sha256=published, nodeadm_architecture="arm64")
    assert other.template(expression).strip() == "c" * 64
