# -*- coding: utf-8 -*-
"""The layers of plugins/module_utils (issue 19): where a file sits says where it runs and what it may import.

- edge/: runs on the edge hosts, inside the modules executed there, where only the OS's Python is found: the
  standard library, ansible.module_utils (AnsiballZ ships it) and the collection's edge/ and rules/ files.
- rules/: pure rules and planners, importable anywhere: the standard library, ansible.module_utils and other
  rules/ files; and no I/O (no files, processes, sockets, time or module calls).
- controller/: the controller's rules that need its libraries (requirements.txt: netaddr, cryptography; certifi
  when importable) besides those of rules/; no AWS or Kubernetes client.
- aws/ and k8s/: the controller's AWS and Kubernetes access, each blind to the other.

Read from the source with ast, every import wherever it stands (in a try block or a function too), so a new file
is held to its layer without a test of its own; docs/architecture.md describes the layout.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os
import sys

import pytest

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins")
MODULE_UTILS = os.path.join(PLUGINS, "module_utils")
OWN = "ansible_collections.hybridnodes.eks.plugins.module_utils"
ANY = None
# Layer -> (the collection's layers it may import, the other top-level modules it may import; ANY: no limit).
LAYERS = {
    "edge": (("edge", "rules"), ()),
    "rules": (("rules",), ()),
    "controller": (("controller", "rules"), ("netaddr", "cryptography", "certifi")),
    "aws": (("aws", "controller", "rules"), ANY),
    "k8s": (("k8s", "controller", "rules"), ANY),
}
# A plugins/modules file that imports edge/ runs on the edge host: none of these may come along.
NOT_ON_THE_EDGE = ("controller", "aws", "k8s")
# What would make a rules/ file do I/O: modules that reach files, processes, the network or time, and calls.
IO_MODULES = ("os", "io", "pathlib", "glob", "shutil", "tempfile", "subprocess", "socket", "ssl", "select",
              "http", "urllib.request", "ftplib", "time", "signal", "threading", "multiprocessing", "logging")
IO_CALLS = ("open", "input", "print", "exec", "eval", "__import__")
IO_ATTRIBUTES = ("run_command", "get_bin_path", "fetch_url", "open_url", "urlopen", "sleep", "system", "popen",
                 "fail_json", "exit_json", "read_text", "write_text", "read_bytes", "write_bytes")


def _tree(path):
    with open(path) as handle:
        return ast.parse(handle.read(), path)


def _files():
    """(layer or None, path relative to module_utils) of every .py file of module_utils."""
    for root, _dirs, files in os.walk(MODULE_UTILS):
        for name in sorted(files):
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, name), MODULE_UTILS)
                parts = rel.split(os.sep)
                yield (parts[0] if len(parts) > 1 else None), rel


def _imports(tree, layer=None):
    """Every module a source imports, as dotted names; relative imports resolved against module_utils/<layer>."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = [OWN, layer] if layer else [OWN]
                module = ".".join(package[:len(package) + 1 - node.level] + [node.module or ""]).rstrip(".")
            else:
                module = node.module
            if module == OWN:  # from ...module_utils import edge
                for alias in node.names:
                    yield "%s.%s" % (OWN, alias.name)
            else:
                yield module


def _own_layer(module):
    """The module_utils layer of an import of this collection's module_utils, else None."""
    if module.startswith(OWN + "."):
        return module[len(OWN) + 1:].split(".")[0]
    return None


def import_problems(layer, tree):
    """What a file of ``layer`` imports beyond its layer's rule."""
    layers, others = LAYERS[layer]
    found = []
    for module in _imports(tree, layer):
        own = _own_layer(module)
        top = module.split(".")[0]
        if own is not None:
            if own not in layers:
                found.append("%s (layer %s)" % (module, own))
        elif module == "ansible.module_utils" or module.startswith("ansible.module_utils."):
            continue
        elif top in sys.stdlib_module_names:
            continue
        elif others is not ANY and top not in others:
            found.append(module)
    return found


def io_problems(tree):
    """The I/O a rules/ file would do: an I/O module imported, or a call of the I/O names."""
    found = set()
    for module in _imports(tree, "rules"):
        if any(module == name or module.startswith(name + ".") for name in IO_MODULES):
            found.add("import %s" % module)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_CALLS:
            found.add("%s()" % node.func.id)
        elif isinstance(node, ast.Attribute) and node.attr in IO_ATTRIBUTES:
            found.add(".%s" % node.attr)
    return sorted(found)


def _layered_sources():
    for layer, rel in _files():
        if layer in LAYERS:
            yield layer, rel, _tree(os.path.join(MODULE_UTILS, rel))


def test_every_file_is_in_a_layer():
    loose = [rel for layer, rel in _files() if layer not in LAYERS and rel != "__init__.py"]
    assert loose == [], "move these into one of %s (docs/architecture.md, module_utils): %s" % (sorted(LAYERS), loose)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_is_a_package(layer):
    assert os.path.isfile(os.path.join(MODULE_UTILS, layer, "__init__.py"))


def test_layers_import_only_what_they_may():
    found = []
    for layer, rel, tree in _layered_sources():
        found.extend("%s imports %s" % (rel, problem) for problem in import_problems(layer, tree))
    assert found == [], "each layer imports only what runs where it runs (see LAYERS): %s" % found


def test_rules_do_no_io():
    found = []
    for layer, rel, tree in _layered_sources():
        if layer == "rules":
            found.extend("%s: %s" % (rel, problem) for problem in io_problems(tree))
    assert found == [], "rules/ take what was read and do no I/O; move the reading to the caller: %s" % found


def test_modules_on_the_edge_host_import_no_controller_layer():
    found = []
    modules = os.path.join(PLUGINS, "modules")
    for name in sorted(os.listdir(modules)):
        if not name.endswith(".py"):
            continue
        layers = set(_own_layer(module) for module in _imports(_tree(os.path.join(modules, name))))
        if "edge" in layers and layers & set(NOT_ON_THE_EDGE):
            found.append("%s imports %s" % (name, sorted(layers & set(NOT_ON_THE_EDGE))))
    assert found == [], "a module that runs on the edge host imports edge/ and rules/ only: %s" % found


@pytest.mark.parametrize("layer,source,expected", [
    ("rules", "import re\nfrom ansible.module_utils.six import PY3\n", []),
    ("rules", "from %s.rules import proxy\nfrom . import route_plan\n" % OWN, []),
    ("rules", "from %s.edge import routes\n" % OWN, ["%s.edge (layer edge)" % OWN]),
    ("rules", "from %s import aws\n" % OWN, ["%s.aws (layer aws)" % OWN]),
    ("rules", "from ..aws import calls\n", ["%s.aws (layer aws)" % OWN]),
    ("edge", "from %s.rules import nodeconfig\nfrom %s.edge import nodeadm\n" % (OWN, OWN), []),
    ("edge", "try:\n    import botocore\nexcept ImportError:\n    pass\n", ["botocore"]),
    ("edge", "def f():\n    import kubernetes.client\n", ["kubernetes.client"]),
    ("edge", "from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry\n",
     ["ansible_collections.amazon.aws.plugins.module_utils.retries"]),
    ("controller", "import netaddr\nfrom cryptography import x509\n", []),
    ("controller", "import boto3\n", ["boto3"]),
    ("aws", "import boto3\nfrom %s.k8s import api\n" % OWN, ["%s.k8s (layer k8s)" % OWN]),
])
def test_the_import_check_sees_a_foreign_import(layer, source, expected):
    assert import_problems(layer, ast.parse(source)) == expected


@pytest.mark.parametrize("source,expected", [
    ("import ipaddress\n\ndef plan(rows):\n    return sorted(rows)\n", []),
    ("def read(path):\n    with open(path) as handle:\n        return handle.read()\n", ["open()"]),
    ("import subprocess\n", ["import subprocess"]),
    ("from os import path\n", ["import os"]),
    ("from urllib.parse import urlsplit\n", []),
    ("def run(module):\n    return module.run_command(['ip', 'route'])\n", [".run_command"]),
    ("import socket\nsocket.create_connection(('127.0.0.1', 443))\n", ["import socket"]),
])
def test_the_io_check_sees_io(source, expected):
    assert io_problems(ast.parse(source)) == expected
