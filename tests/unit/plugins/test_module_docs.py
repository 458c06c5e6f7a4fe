# -*- coding: utf-8 -*-
"""Every module documents the choices its argument_spec enforces, option by option and suboption by suboption, and
says how it supports check mode and diff mode (issue 19).

The documentation is read as ansible-doc reads it, with its doc fragments merged (hybridnodes.eks.attributes,
.state, .eks_cluster and the amazon.aws and kubernetes.core ones), so a choice a fragment documents counts. The
argument_spec is the one the module hands to AnsibleModule: main() runs until the module is built, where a double of
AnsibleModule.__init__ records the arguments and stops it. A module whose choices come from a module_utils constant
is thereby held to its documentation when the constant changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import os
import sys

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

MODULES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins", "modules")
MODULES = sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith(".py") and name != "__init__.py")
# The values ansible-test's validate-modules accepts for an attribute's support.
SUPPORT = ("full", "partial", "none", "N/A")


class Built(Exception):
    """Raised by the AnsibleModule double once it has the module's arguments."""

    def __init__(self, kwargs):
        super(Built, self).__init__("module built")
        self.kwargs = kwargs


def import_module(name):
    return importlib.import_module("ansible_collections.hybridnodes.eks.plugins.modules." + name)


def argument_spec(name, monkeypatch):
    def record(self, *args, **kwargs):
        raise Built(kwargs)

    monkeypatch.setattr(AnsibleModule, "__init__", record)
    with pytest.raises(Built) as built:
        import_module(name).main()
    return built.value.kwargs["argument_spec"]


def documentation(name):
    path = os.path.join(MODULES_DIR, name + ".py")
    doc = get_docstring(path, fragment_loader, collection_name="hybridnodes.eks", is_module=True)[0]
    assert doc, "%s: no DOCUMENTATION" % name
    return doc


def choices(options, nested, prefix=""):
    """{option path: its choices, sorted} for every option (and suboption) that has choices (their order is the
    documentation's to choose, as for validate-modules)."""
    found = {}
    for option, spec in (options or {}).items():
        path = prefix + option
        if spec.get("choices") is not None:
            found[path] = sorted(spec["choices"])
        found.update(choices(spec.get(nested), nested, path + "."))
    return found


@pytest.mark.parametrize("name", MODULES)
def test_documented_choices_are_the_argument_spec_choices(name, monkeypatch):
    documented = choices(documentation(name).get("options"), "suboptions")
    enforced = choices(argument_spec(name, monkeypatch), "options")
    assert documented == enforced


@pytest.mark.parametrize("name", MODULES)
def test_check_and_diff_support_is_documented(name):
    attributes = documentation(name).get("attributes") or {}
    for attribute in ("check_mode", "diff_mode"):
        assert attribute in attributes, "%s: no attributes.%s" % (name, attribute)
        assert attributes[attribute].get("description"), "%s: %s has no description (the fragment)" % (name, attribute)
        assert attributes[attribute].get("support") in SUPPORT, "%s: %s support" % (name, attribute)


def test_a_choice_the_documentation_lacks_is_found(monkeypatch):
    """The comparison would catch a module that enforces a choice its documentation does not list."""
    spec = argument_spec("package_index", monkeypatch)
    spec = dict(spec, manager=dict(spec["manager"], choices=spec["manager"]["choices"] + ["zypper"]))
    assert choices(documentation("package_index")["options"], "suboptions") != choices(spec, "options")


def test_nodeadm_literal_choices_are_the_module_utils_constants(monkeypatch):
    """nodeadm's containerd_source and uninstall_skip choices are literals (the module does not import the
    constants); they must stay the values module_utils.nodeadm builds nodeadm's command lines from. The module_utils
    file is found through the module, wherever it lives."""
    runner_module = sys.modules[import_module("nodeadm").NodeadmRunner.__module__]
    spec = argument_spec("nodeadm", monkeypatch)
    assert spec["containerd_source"]["choices"] == list(runner_module.CONTAINERD_SOURCES)
    assert spec["uninstall_skip"]["choices"] == list(runner_module.UNINSTALL_PHASES)
