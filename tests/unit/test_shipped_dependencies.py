# -*- coding: utf-8 -*-
"""What the collection tarball ships needs nothing it does not declare: every collection that a shipped playbook, role,
plugin or unit test uses (module and action group keys, roles, filters, tests and lookups by FQCN, documentation
fragments, Python imports) is in galaxy.yml's `dependencies`, with a range that admits the version tested here (the PyPI
`ansible` package's). The tarball carries no lab, benchmark or development file: galaxy.yml's build_ignore keeps them
out (scripts/collection-check.sh checks the same on the tarball it installs). The tarball is built as Galaxy builds it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import glob
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SELF = ("hybridnodes", "eks")
# Collections every ansible-core carries; nothing to declare.
BUILTIN = {("ansible", "builtin")}
# Folders of the repository that must never ship: the lab and what needs it, the development tools.
NOT_SHIPPED = ("benchmarks/", "tests/lab/", "inventories/lab/", "molecule/", ".ci/", "scripts/", ".venv/", "build/",
               "tests/output/", "tests/unit/benchmarks/", "playbooks/awx/", "tests/unit/awx/")

_NAME = r"[a-z][a-z0-9_]*"
FQCN = re.compile(r"(%s)\.(%s)\.%s(?:\.%s)*$" % (_NAME, _NAME, _NAME, _NAME))
# Jinja: `| ns.coll.filter`, `is ns.coll.test`, `lookup('ns.coll.plugin'`, `query(...)`, `q(...)`.
JINJA = re.compile(r"(?:\|\s*|\bis\s+(?:not\s+)?|\b(?:lookup|query|q)\(\s*['\"])(%s)\.(%s)\.%s" % (_NAME, _NAME, _NAME))
ROLE_KEYS = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}


def _pair(name):
    match = FQCN.match(name) if isinstance(name, str) else None
    return (match.group(1), match.group(2)) if match else None


def yaml_uses(node):
    """(namespace, collection) pairs a YAML document uses by FQCN."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                pair = _pair(key[len("group/"):] if key.startswith("group/") else key)  # a module, a module_defaults group
                if pair:
                    found.add(pair)
                if key in ROLE_KEYS and isinstance(value, dict):
                    found.update(filter(None, [_pair(value.get("name"))]))
                if key in ("roles", "dependencies") and isinstance(value, list):
                    for item in value:
                        name = item.get("role", item.get("name")) if isinstance(item, dict) else item
                        found.update(filter(None, [_pair(name)]))
                if key == "extends_documentation_fragment":
                    fragments = value if isinstance(value, list) else [value]
                    found.update(filter(None, [_pair(fragment) for fragment in fragments]))
            found |= yaml_uses(value)
    elif isinstance(node, list):
        for item in node:
            found |= yaml_uses(item)
    elif isinstance(node, str):
        found.update(match.groups() for match in JINJA.finditer(node))
    return found


def python_uses(text):
    """Imports from ansible_collections.<ns>.<coll>, and the documentation fragments DOCUMENTATION extends."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found |= yaml_uses({k: v for k, v in (yaml.safe_load(node.value.value) or {}).items()
                                    if k == "extends_documentation_fragment"})
        for name in names:
            parts = name.split(".")
            if len(parts) >= 3 and parts[0] == "ansible_collections":
                found.add((parts[1], parts[2]))
    return found


def file_uses(path, text):
    if path.endswith(".py"):
        return python_uses(text)
    if path.endswith((".yml", ".yaml")):
        found = set()
        for document in yaml.safe_load_all(text):
            found |= yaml_uses(document)
        return found
    if path.endswith(".j2"):
        return {match.groups() for match in JINJA.finditer(text)}
    return set()


def undeclared(uses, dependencies):
    """{"ns.coll": [files]} for the collections used but neither declared nor built in."""
    missing = {}
    for path, pairs in sorted(uses.items()):
        for pair in sorted(pairs - BUILTIN - {SELF}):
            if "%s.%s" % pair not in dependencies:
                missing.setdefault("%s.%s" % pair, []).append(path)
    return missing


def galaxy():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """{path: text} of the files in the tarball `ansible-galaxy collection build` makes from this tree."""
    out = tmp_path_factory.mktemp("tarball")
    result = subprocess.run([sys.executable, "-m", "ansible.cli.galaxy", "collection", "build", "--output-path", str(out),
                             ROOT], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (tarball,) = glob.glob(str(out / "hybridnodes-eks-*.tar.gz"))
    files = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name] = tar.extractfile(member).read().decode("utf-8", "replace")
    return files


def shipped_uses(shipped):
    return {path: file_uses(path, text) for path, text in shipped.items() if not path.startswith("changelogs/")}


def test_the_tarball_carries_no_lab_benchmark_or_development_file(shipped):
    assert {"README.md", "playbooks/site.yml", "roles/nodeadm/tasks/main.yml", "plugins/modules/nodeadm.py"} <= set(shipped)
    assert not [path for path in shipped if path.startswith(NOT_SHIPPED)]
    ignored = galaxy()["build_ignore"]
    for folder in ("benchmarks", "tests/lab", "inventories/lab", "molecule", "scripts", "playbooks/awx"):
        assert folder in ignored


def test_the_scan_finds_the_collections_the_roles_and_modules_use(shipped):
    # If the scan missed these, the next test would pass for nothing.
    uses = shipped_uses(shipped)
    assert ("kubernetes", "core") in uses["roles/cilium/tasks/main.yml"]
    assert ("community", "crypto") in uses["roles/nodeadm/tasks/iam_ra_certificates.yml"]
    assert ("amazon", "aws") in uses["plugins/modules/eks_access_entry.py"]  # import and documentation fragment
    assert set().union(*uses.values()) >= {("amazon", "aws"), ("kubernetes", "core"), ("community", "crypto")}


def test_every_collection_the_shipped_files_use_is_a_dependency(shipped):
    missing = undeclared(shipped_uses(shipped), galaxy()["dependencies"])
    assert not missing, "used by shipped files but not in galaxy.yml dependencies (declare or build_ignore): %s" % missing


def test_playbooks_awx_need_awx_awx_and_stay_out_of_the_tarball(shipped):
    """The AWX playbooks run from a checkout against the controller: they use awx.awx, which is not a dependency."""
    uses = set()
    for path in glob.glob(os.path.join(ROOT, "playbooks", "awx", "*.yml")):
        with open(path) as handle:
            uses |= file_uses(path, handle.read())
    assert ("awx", "awx") in uses and "awx.awx" not in galaxy()["dependencies"]
    assert not [path for path in shipped if path.startswith("playbooks/awx/")]


@pytest.mark.parametrize("text, path, expected", [
    ("- name: x\n  community.general.ini_file:\n    path: /x\n", "roles/r/tasks/main.yml", {("community", "general")}),
    ("- ansible.builtin.include_role:\n    name: other.coll.role\n", "playbooks/p.yml", {("ansible", "builtin"), ("other", "coll")}),
    ("- hosts: all\n  roles:\n    - role: my.roles.one\n    - my.roles.two\n", "playbooks/p.yml", {("my", "roles")}),
    ("- debug:\n    msg: \"{{ x | ansible.utils.ipaddr }} {{ lookup('community.general.x', 'y') }}\"\n",
     "playbooks/p.yml", {("ansible", "utils"), ("community", "general")}),
    ("- module_defaults:\n    group/amazon.aws.aws: {}\n", "playbooks/p.yml", {("amazon", "aws")}),
    ("- name: node.cilium.io\n  kind: ciliumnodes.cilium.io\n", "roles/r/tasks/x.yml", set()),  # domains are not FQCNs
    ("from ansible_collections.community.docker.plugins.module_utils import x\n"
     "DOCUMENTATION = '''\nextends_documentation_fragment:\n  - community.aws.boto3\n'''\n",
     "plugins/modules/m.py", {("community", "docker"), ("community", "aws")}),
    ("{{ value | community.general.to_json }}", "roles/r/templates/t.j2", {("community", "general")}),
])
def test_the_scan_reads_each_kind_of_use(text, path, expected):
    assert file_uses(path, text) == expected


def test_an_undeclared_collection_is_reported_with_its_files():
    uses = {"roles/r/tasks/main.yml": {("community", "general"), ("ansible", "builtin"), SELF},
            "plugins/modules/m.py": {("amazon", "aws")}}
    assert undeclared(uses, {"amazon.aws": ">=10.0.0"}) == {"community.general": ["roles/r/tasks/main.yml"]}


def installed_version(namespace, name):
    """The version of a collection the tests run with: beside this one (ansible-test) or in the ansible package."""
    import ansible

    roots = [os.path.join(ROOT, "..", ".."),
             os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)), "ansible_collections")]
    for root in roots:
        manifest = os.path.join(root, namespace, name, "MANIFEST.json")
        if os.path.exists(manifest):
            with open(manifest) as handle:
                return json.load(handle)["collection_info"]["version"]
    raise AssertionError("%s.%s is not installed in %s" % (namespace, name, roots))


@pytest.mark.parametrize("dependency", sorted(galaxy()["dependencies"]))
def test_each_dependency_range_admits_the_tested_version(dependency):
    wanted = galaxy()["dependencies"][dependency]
    version = installed_version(*dependency.split("."))
    assert meets_requirements(version, wanted), "%s %s is tested but galaxy.yml asks for %s" % (dependency, version, wanted)
