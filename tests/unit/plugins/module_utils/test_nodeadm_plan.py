# -*- coding: utf-8 -*-
"""The nodeadm planner: which verbs a host needs, from the tracker and the kubelet."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.nodeadm_plan import parse_version, plan, version_matches

SSM = {"Kubelet": True, "Ssm": True, "IamRolesAnywhere": False, "Containerd": "distro"}
IAMRA = {"Kubelet": True, "Ssm": False, "IamRolesAnywhere": True, "Containerd": "distro"}
NOTHING = {"tracker": None, "kubelet_version": None, "kubeconfig": False, "kubelet_active": False}
INSTALLED = {"tracker": SSM, "kubelet_version": "1.31.7", "kubeconfig": False, "kubelet_active": False}
NODE = {"tracker": SSM, "kubelet_version": "1.31.7", "kubeconfig": True, "kubelet_active": True}


def opts(state="initialized", version="1.31", provider="ssm", **extra):
    base = {"state": state, "kubernetes_version": version, "credential_provider": provider,
            "config_changed": False, "allow_disruptive": False}
    base.update(extra)
    return base


def test_versions():
    assert parse_version("Kubernetes v1.31.7") == (1, 31, 7)
    assert parse_version("v1.0.20-dirty") == (1, 0, 20)
    assert parse_version("nonsense") is None
    assert version_matches("1.31", "1.31.7")
    assert version_matches("1.31.7", "1.31.7")
    assert not version_matches("1.31.2", "1.31.7")
    assert not version_matches("1.32", "1.31.7")
    assert not version_matches("1.31", None)


@pytest.mark.parametrize("facts,options,actions", [
    (NOTHING, opts("installed"), ["install"]),
    (NOTHING, opts(), ["install", "init"]),
    (INSTALLED, opts("installed"), []),
    (INSTALLED, opts(), ["init"]),
    (NODE, opts(), []),
    (NODE, opts("installed"), []),
    # kubeconfig present but kubelet stopped: not initialised, init again
    (dict(NODE, kubelet_active=False), opts(), ["init"]),
    # installed at another version, not a node yet: install over it
    (INSTALLED, opts(version="1.32"), ["install", "init"]),
    # installed with the other provider, not a node yet: uninstall first
    (dict(INSTALLED, tracker=IAMRA), opts(), ["uninstall", "install", "init"]),
    (NODE, opts("upgraded", version="1.32"), ["upgrade"]),
    (NODE, opts("upgraded", version="1.31"), []),
    (NOTHING, opts("upgraded", version="1.32"), ["install", "init"]),
    (NODE, opts("absent"), ["uninstall"]),
    (INSTALLED, opts("absent"), ["uninstall"]),
    (NOTHING, opts("absent"), []),
])
def test_actions(facts, options, actions):
    result = plan(facts, options)
    assert result["actions"] == actions
    assert result["problems"] == [] and result["needs"] == []


def test_config_change_on_a_node_reruns_init_as_upstream_documents():
    # EKS user guide (hybrid-nodes-nodeadm): a NodeConfig change on a joined node is applied by running init again;
    # no uninstall, which would deregister the SSM managed instance.
    for allowed in (False, True):
        result = plan(NODE, opts(config_changed=True, allow_disruptive=allowed))
        assert result["actions"] == ["init"] and result["disruptive"] is False
        assert result["needs"] == [] and result["warnings"] == []


def test_config_change_before_init_is_just_init():
    assert plan(INSTALLED, opts(config_changed=True))["actions"] == ["init"]


def test_provider_change_on_a_node_needs_permission():
    result = plan(dict(NODE, tracker=IAMRA), opts())
    assert result["actions"] == [] and "credential provider is iam-ra" in result["needs"][0]
    assert plan(dict(NODE, tracker=IAMRA), opts(allow_disruptive=True))["actions"] == ["uninstall", "install", "init"]


def test_version_change_on_a_node_outside_an_upgrade_is_not_taken():
    result = plan(NODE, opts(version="1.32"))
    assert result["actions"] == []
    assert "Kubernetes 1.31.7 is installed, not 1.32" in result["needs"][0]


def test_downgrade_is_refused():
    result = plan(NODE, opts("upgraded", version="1.30"))
    assert result["actions"] == []
    assert "cannot downgrade" in result["problems"][0]


def test_bad_inputs_are_problems():
    assert plan(NODE, opts(version="latest"))["problems"]
    assert plan(NODE, opts(state="joined"))["problems"]
