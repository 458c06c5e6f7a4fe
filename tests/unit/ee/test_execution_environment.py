# -*- coding: utf-8 -*-
"""The execution environment: `ansible-builder create` on execution-environment.yml (with the collection tarball built
from this tree, as scripts/ee-context.sh does) makes a build context with the Containerfile, the Python and system
requirements and the collection; the collection's meta/execution-environment.yml, requirements.txt and bindep.txt agree
with each other and with the collection's imports. What the image is built from is pinned: the base image by digest,
every Python package by requirements-ee-constraints.txt, every collection by an exact version. No image is built and
nothing is fetched."""

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
import sysconfig
import tarfile
from importlib import metadata

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# Python packages the collection may import that are optional by design: the module works without them.
OPTIONAL_IMPORTS = {
    "certifi": "module_utils/controller/private_ca.py adds certifi's bundle to the system trust stores only when importable",
}
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"yaml": "PyYAML"}
# The collections beside this one in the ansible-test tree (scripts/ansible-test.sh links them from the venv).
COLLECTIONS_ROOT = os.path.dirname(os.path.dirname(ROOT))
# A made-up digest (a test double): only the build context is written, no image is pulled.
TEST_DIGEST = "0123456789abcdef" * 4
CONSTRAINTS = "requirements-ee-constraints.txt"
# Python packages the constraints leave out on purpose, and why.
UNPINNED = {
    "setuptools": "comes with the base image's python3.11 (ensurepip), like pip; pbr (bindep) only needs it present",
    "pip": "comes with the base image's python3.11 (ensurepip)",
}


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


def run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(args), result.returncode, result.stdout, result.stderr)
    return result.stdout


def copy_checkout(tmp_path):
    """The checkout without what it builds or caches, so that scripts/ee-context.sh writes nothing into it."""
    work = tmp_path / "checkout"
    skip = {os.path.join(ROOT, name) for name in (".venv", "build", ".git", ".pytest_cache", os.path.join("tests", "output"))}
    shutil.copytree(ROOT, str(work), symlinks=True,
                    ignore=lambda folder, names: [n for n in names if os.path.join(folder, n) in skip or n == "__pycache__"])
    return work


def ee_context(work, context, digest):
    """scripts/ee-context.sh in a scratch copy of the checkout: the tarball, then ansible-builder create."""
    env = dict(os.environ, PATH=sysconfig.get_path("scripts") + os.pathsep + os.environ["PATH"])
    env.pop("EE_BASE_IMAGE_SHA256", None)
    if digest is not None:
        env["EE_BASE_IMAGE_SHA256"] = digest
    return subprocess.run(["bash", "scripts/ee-context.sh", str(context)], cwd=str(work), env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy in which scripts/ee-context.sh only refuses."""
    return copy_checkout(tmp_path_factory.mktemp("refused"))


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    work = copy_checkout(tmp_path_factory.mktemp("ee"))
    context = work.parent / "context"
    result = ee_context(work, context, "sha256:" + TEST_DIGEST)
    assert result.returncode == 0, "scripts/ee-context.sh failed:\n%s\n%s" % (result.stdout, result.stderr)
    return context


def galaxy_stage(context, tmp_path):
    """The galaxy stage's collection install, offline: the pinned collections (the copies beside this collection, linked
    into the target) count as installed, so the install resolves, or fails, without Galaxy; the tarball installs."""
    root = tmp_path / "collections"
    for collection in pinned_collections():
        namespace, name = collection.split(".")
        (root / "ansible_collections" / namespace).mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.join(COLLECTIONS_ROOT, namespace, name), str(root / "ansible_collections" / namespace / name))
    run([sys.executable, "-m", "ansible.cli.galaxy", "collection", "install", "-r", "requirements.yml", "--offline",
         "-p", str(root)], cwd=str(context / "_build"), env={"ANSIBLE_COLLECTIONS_PATH": str(root)})
    return root


def containerfile_arg(containerfile, name):
    return re.search(r'^ARG %s="([^"]*)"$' % name, containerfile, re.M).group(1)


def test_ansible_builder_create_makes_the_build_context(context):
    ee = load("execution-environment.yml")
    galaxy = load("galaxy.yml")
    build = context / "_build"

    containerfile = (context / "Containerfile").read_text()
    # The digest given to scripts/ee-context.sh takes the place of the definition's variable.
    assert containerfile_arg(containerfile, "EE_BASE_IMAGE") == ee["images"]["base_image"]["name"].replace(
        "${EE_BASE_IMAGE_SHA256}", TEST_DIGEST)
    assert re.match(r"^[^@]+@sha256:[0-9a-f]{64}$", containerfile_arg(containerfile, "EE_BASE_IMAGE"))
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
    assert requirements == {"collections": ee["dependencies"]["galaxy"]["collections"]}
    assert requirements["collections"][0] == {"name": "collections/hybridnodes-eks.tar.gz", "type": "file"}
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
    installed = galaxy_stage(context, tmp_path)
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


# What the image is built from: nothing may float.

def test_the_base_image_is_named_by_digest():
    """A tag can be moved to another image; a digest cannot. The definition names the base image by digest, or by the
    digest variable that scripts/ee-context.sh fills in (and the Containerfile always by digest, see above)."""
    name = load("execution-environment.yml")["images"]["base_image"]["name"]
    assert re.match(r"^[a-z0-9.\-]+(/[a-z0-9._\-]+)+:[\w.\-]+@sha256:([0-9a-f]{64}|\$\{EE_BASE_IMAGE_SHA256\})$", name), \
        "the base image %r is not name:tag@sha256:<64 hex> nor name:tag@sha256:${EE_BASE_IMAGE_SHA256}" % name


@pytest.mark.parametrize("digest", [None, "", "sha256:abc", TEST_DIGEST.upper(), TEST_DIGEST + "0", "sha512:" + TEST_DIGEST])
def test_ee_context_refuses_to_write_a_context_without_a_digest(checkout, digest):
    if "${EE_BASE_IMAGE_SHA256}" not in load("execution-environment.yml")["images"]["base_image"]["name"]:
        pytest.skip("the definition carries the digest itself")
    context = checkout.parent / ("refused-%s" % (digest or "unset")[:12])
    result = ee_context(checkout, context, digest)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "EE_BASE_IMAGE_SHA256" in result.stderr and "quay.io/centos/centos:stream9" in result.stderr, result.stderr
    assert "skopeo inspect" in result.stderr
    # Refused before anything was built or written.
    assert not context.exists()
    assert not (checkout / "build" / "ee" / "hybridnodes-eks.tar.gz").exists()


def constraints():
    pins = {}
    with open(os.path.join(ROOT, CONSTRAINTS)) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)==([A-Za-z0-9.+!]+)$", line)
            assert match, "%s: %r is not an exact pin (name==version)" % (CONSTRAINTS, line)
            name = canonicalize_name(match.group(1))
            assert name not in pins, "%s pins %s twice" % (CONSTRAINTS, name)
            pins[name] = match.group(2)
    return pins


def test_pip_installs_everything_under_the_constraints(context):
    """PIP_CONSTRAINT is set in the base stage, from which every other stage starts, before its first pip install."""
    containerfile = (context / "Containerfile").read_text()
    base = containerfile.split("\nFROM base AS", 1)[0]
    path = re.search(r"^ENV PIP_CONSTRAINT=(\S+)$", base, re.M)
    assert path, "the base stage does not set PIP_CONSTRAINT"
    copied = re.search(r"^COPY _build/(\S+) %s$" % re.escape(path.group(1)), base, re.M)
    assert copied, "the base stage does not copy the constraints to %s" % path.group(1)
    assert (context / "_build" / copied.group(1)).read_text() == open(os.path.join(ROOT, CONSTRAINTS)).read()
    first_pip = min(base.index(marker) for marker in ("pip_install", "pip install"))
    assert base.index("ENV PIP_CONSTRAINT=") < first_pip
    assert containerfile.count("PIP_CONSTRAINT") == 1, "a later stage changes PIP_CONSTRAINT"


def python_requirements(context, tmp_path):
    """Every requirement a pip install of the build names: ansible-core and ansible-runner, ansible-builder's own helpers
    (the Containerfile's pip install lines) and what its introspection gathers from requirements.txt and the collections."""
    containerfile = (context / "Containerfile").read_text()
    found = containerfile_arg(containerfile, "ANSIBLE_INSTALL_REFS").split()
    for line in re.findall(r"^RUN \$PYCMD -m pip install (.*)$", containerfile, re.M):
        found += [word.strip("'\"") for word in line.split() if not word.startswith(("-", "$"))]
    tree = galaxy_stage(context, tmp_path)
    build = context / "_build"
    introspected = yaml.safe_load(run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect",
                                       "--user-pip=requirements.txt", str(tree)], cwd=str(build)))
    found += [line.split("#", 1)[0].strip() for line in introspected["python"]]
    assert "boto3>=1.34.0" in found and "jsonschema" in found and "bindep" in found  # each source was read
    return [Requirement(line) for line in found]


def test_every_python_package_the_ee_installs_has_an_exact_pin(context, tmp_path):
    """The requirements and, through the installed distributions' metadata, everything they pull in: each one is pinned
    exactly in the constraints file, at a version its dependants accept and that this environment tested."""
    pins = constraints()
    problems = []
    todo = python_requirements(context, tmp_path)
    seen = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in UNPINNED:
            continue
        if name not in pins:
            problems.append("%s (required as %s) is not pinned" % (name, requirement))
            continue
        if not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append("%s==%s does not satisfy %s" % (name, pins[name], requirement))
        if (name, tuple(sorted(requirement.extras))) in seen:
            continue
        seen.add((name, tuple(sorted(requirement.extras))))
        # The venv's own metadata: ansible-test puts a stub of ansible-core's first on sys.path.
        distribution = next(iter(metadata.distributions(name=name, path=[sysconfig.get_path("purelib")])), None)
        if distribution is None:
            continue  # not installed here (ansible.utils' textfsm and ttp, dumb-init): pinned, its dependencies unseen
        if distribution.version != pins[name]:
            problems.append("%s is pinned at %s but %s was tested" % (name, pins[name], distribution.version))
        for line in distribution.requires or []:
            dependency = Requirement(line)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra})
                                                for extra in sorted(requirement.extras) or [""]):
                todo.append(dependency)
    assert not problems, "%s:\n  %s" % (CONSTRAINTS, "\n  ".join(sorted(set(problems))))
    # Nothing pinned that the EE does not install (a stale pin hides a dependency that left).
    stale = set(pins) - {name for name, _extras in seen}
    assert not stale, "%s pins what the execution environment does not install: %s" % (CONSTRAINTS, sorted(stale))


def pinned_collections():
    entries = load("execution-environment.yml")["dependencies"]["galaxy"]["collections"]
    pins = {}
    for entry in entries:
        if entry.get("type") == "file":
            continue
        version = str(entry.get("version", ""))
        assert re.match(r"^==\d+\.\d+\.\d+$", version), "collection %s is not pinned to one version: %r" % (
            entry["name"], version)
        pins[entry["name"]] = version[2:]
    return pins


def test_every_collection_the_ee_installs_is_pinned():
    """galaxy.yml's dependencies, and theirs, each at one version within galaxy.yml's range; the tests ran with it."""
    pins = pinned_collections()
    ranges = load("galaxy.yml")["dependencies"]
    assert set(ranges) <= set(pins), "unpinned in execution-environment.yml: %s" % sorted(set(ranges) - set(pins))
    for collection, version in pins.items():
        if collection in ranges:
            assert SpecifierSet(ranges[collection]).contains(version), "%s==%s is outside galaxy.yml's %s" % (
                collection, version, ranges[collection])
        namespace, name = collection.split(".")
        with open(os.path.join(COLLECTIONS_ROOT, namespace, name, "MANIFEST.json")) as handle:
            info = json.load(handle)["collection_info"]
        assert info["version"] == version, "%s is pinned at %s but %s was tested" % (collection, version, info["version"])
        unpinned = set(info["dependencies"] or {}) - set(pins)
        assert not unpinned, "%s depends on %s, not pinned" % (collection, sorted(unpinned))
