# -*- coding: utf-8 -*-
"""The execution environment: `ansible-builder create` on execution-environment.yml (with the collection tarball built
from this tree, as scripts/ee-context.sh does) makes a build context with the Containerfile, the Python and system
requirements and the collection; the collection's meta/execution-environment.yml, requirements.txt and bindep.txt agree
with each other and with the collection's imports. No image is built and nothing is fetched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from bindep.depends import Depends

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# Python packages the collection may import that are optional by design: the module works without them.
OPTIONAL_IMPORTS = {
    "certifi": "module_utils/private_ca.py adds certifi's bundle to the system trust stores only when importable",
}
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"yaml": "PyYAML"}


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def requirement_names(text):
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.match(r"[A-Za-z0-9_.\-]+", line).group(0).lower())
    return names


def dev_pin(name):
    with open(os.path.join(ROOT, "requirements-dev.txt")) as handle:
        for line in handle:
            if line.split("==")[0].strip().lower() == name:
                return line.strip()
    raise AssertionError("%s is not pinned in requirements-dev.txt" % name)


def run(args, cwd):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(args), result.returncode, result.stdout, result.stderr)
    return result.stdout


def build_context(tmp_path):
    """scripts/ee-context.sh in a scratch copy: the tarball, then ansible-builder create."""
    work = tmp_path / "ee"
    (work / "build" / "ee").mkdir(parents=True)
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(os.path.join(ROOT, name), str(work / name))
    out = tmp_path / "tarball"
    run([sys.executable, "-m", "ansible.cli.galaxy", "collection", "build", "--output-path", str(out), ROOT], cwd=ROOT)
    (tarball,) = glob.glob(str(out / "hybridnodes-eks-*.tar.gz"))
    shutil.move(tarball, str(work / "build" / "ee" / "hybridnodes-eks.tar.gz"))
    context = tmp_path / "context"
    run([sys.executable, "-m", "ansible_builder", "create", "--file", str(work / "execution-environment.yml"),
         "--context", str(context), "--output-filename", "Containerfile"], cwd=str(work))
    return context


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    return build_context(tmp_path_factory.mktemp("ee"))


def test_ansible_builder_create_makes_the_build_context(context):
    ee = load("execution-environment.yml")
    galaxy = load("galaxy.yml")
    build = context / "_build"

    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="%s %s"' % (dev_pin("ansible-core"), dev_pin("ansible-runner")) in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert "COPY _build/requirements.txt requirements.txt" in containerfile
    assert "COPY _build/bindep.txt bindep.txt" in containerfile

    # The collection's own Python and system requirements, as they are.
    for name in ("requirements.txt", "bindep.txt"):
        with open(os.path.join(ROOT, name)) as handle:
            assert (build / name).read_text() == handle.read()

    # The collection tarball is in the context where the galaxy requirements name it, and it is this collection.
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "collections/hybridnodes-eks.tar.gz", "type": "file"}]}
    with tarfile.open(str(build / "collections" / "hybridnodes-eks.tar.gz")) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        members = set(tar.getnames())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("hybridnodes", "eks", galaxy["version"])
    assert manifest["dependencies"] == galaxy["dependencies"]
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt", "playbooks/join.yml"} <= members
    assert not [m for m in members if m.startswith(("tests/lab", "scripts/", ".venv", "build/"))]


def test_the_galaxy_stage_installs_the_collection_and_finds_its_requirements(context, tmp_path):
    """What the image build runs in /build, here without network: the collection installs from the context's
    requirements.yml, and ansible-builder's introspection finds its requirements through meta/execution-environment.yml."""
    build = context / "_build"
    installed = tmp_path / "installed"
    run([sys.executable, "-m", "ansible.cli.galaxy", "collection", "install", "-r", "requirements.yml", "--no-deps", "--force",
         "-p", str(installed)], cwd=str(build))
    with open(str(installed / "ansible_collections" / "hybridnodes" / "eks" / "MANIFEST.json")) as handle:
        assert json.load(handle)["collection_info"]["version"] == load("galaxy.yml")["version"]

    found = yaml.safe_load(run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", str(installed)],
                               cwd=str(build)))
    from_collection = [line.split("#")[0].strip() for line in found["python"] if line.endswith("from collection hybridnodes.eks")]
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        wanted = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    # ansible-builder installs PyYAML itself and leaves it out of the collections' lists.
    assert from_collection == [line for line in wanted if not line.lower().startswith("pyyaml")]
    system = [line.split("#")[0].strip() for line in found["system"] if line.endswith("from collection hybridnodes.eks")]
    with open(os.path.join(ROOT, "bindep.txt")) as handle:
        assert system == [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def test_meta_and_root_definitions_name_the_same_requirement_files():
    meta = load("meta/execution-environment.yml")
    ee = load("execution-environment.yml")
    assert meta["version"] == ee["version"] == 3
    for definition in (meta, ee):
        assert definition["dependencies"]["python"] == "requirements.txt"
        assert definition["dependencies"]["system"] == "bindep.txt"
    assert ee["dependencies"]["ansible_core"]["package_pip"] == dev_pin("ansible-core")
    assert ee["dependencies"]["ansible_runner"]["package_pip"] == dev_pin("ansible-runner")
    # ansible-core 2.19 needs Python 3.11 or newer on the controller.
    assert re.search(r"python3\.(1[1-9])$", ee["dependencies"]["python_interpreter"]["python_path"])


def third_party_imports():
    found = {}
    for path in glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True):
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("ansible", "ansible_collections", "__future__"):
                    continue
                found.setdefault(top, set()).add(os.path.relpath(path, ROOT))
    return found


def test_requirements_txt_covers_every_library_the_plugins_import():
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        listed = set(requirement_names(handle.read()))
    imports = third_party_imports()
    assert {"botocore", "yaml", "cryptography", "netaddr"} <= set(imports)  # the scan sees them
    missing = {
        DISTRIBUTIONS.get(name, name): sorted(paths) for name, paths in imports.items()
        if DISTRIBUTIONS.get(name, name).lower() not in listed and name not in OPTIONAL_IMPORTS
    }
    assert not missing, "imported by the plugins but not in requirements.txt: %s" % missing


def test_bindep_gives_ssh_and_trust_stores_on_both_package_families():
    with open(os.path.join(ROOT, "bindep.txt")) as handle:
        depends = Depends(handle.read())
    rpm = [rule[0] for rule in depends.active_rules(["platform:rpm", "platform:redhat", "platform:centos"])]
    dpkg = [rule[0] for rule in depends.active_rules(["platform:dpkg", "platform:debian"])]
    assert {"openssh-clients", "ca-certificates"} <= set(rpm)
    assert {"openssh-client", "ca-certificates"} <= set(dpkg)
    # Compilers only in the builder stage (bindep's compile profile), never in the final image.
    assert "gcc" not in rpm + dpkg
