# -*- coding: utf-8 -*-
"""The repository's documentation holds together: every relative Markdown link and every docs page a file names
resolves to a file of the repository; no file refers to a design document or a directory outside it; the paths
the README and docs/ name exist; docs/inventory.md lists every role option (roles/*/meta/argument_specs.yml) and
every hybrid_* variable the playbooks and roles read; docs/awx.md lists every extra variable of playbooks/awx; and
the README keeps the test command that .ci/run runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Not part of the repository's files: tool output, environments, caches (ansible-test runs in a mirror of the
# tracked files, with its output under tests/output).
SKIP_DIRS = {".git", ".venv", ".collections", ".ansible", ".pytest_cache", "__pycache__", "build", ".tox"}
SKIP_PATHS = {os.path.join("tests", "output"), os.path.join("inventories", "lab")}
# Documents that were never part of the repository; built from pieces so that this file does not name them.
OUTSIDE_DOCUMENTS = ("DESIGN" + ".md", "hybrid-nodes-facts" + ".md", "/work" + "/shared")
SHARED_DIR = re.compile(r"\.\./shared\b[\w./-]*")
DOCS_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]+?\.md\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`([^`\n]+)`")
# Backticked repository paths in the README and docs/ (placeholders such as <stage> or ROLE are not paths).
REPO_PATH = re.compile(r"^(benchmarks|changelogs|collections|docs|inventories|meta|molecule|playbooks|plugins|roles|"
                       r"scripts|tests)/[a-z0-9_./-]*$")
# What the lab or ansible-test writes, and a site's own inventory in examples: never tracked.
NOT_TRACKED = ("inventories/lab/", "inventories/site1/", "tests/output")
# hybrid_* names in playbooks and roles that are not variables: the group of the edge hosts and a module.
NOT_VARIABLES = {"hybrid_nodes", "hybrid_preflight"}
HYBRID_VARIABLE = re.compile(r"\bhybrid_[a-z0-9_]+\b")


def relative(path):
    return os.path.relpath(path, ROOT)


def repo_files():
    found = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(name for name in dirs if name not in SKIP_DIRS and
                         relative(os.path.join(top, name)) not in SKIP_PATHS)
        found.extend(os.path.join(top, name) for name in sorted(files))
    return found


def text_of(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (UnicodeDecodeError, OSError):
        return None


TEXT_FILES = [path for path in repo_files() if text_of(path) is not None]
MARKDOWN = [path for path in TEXT_FILES if path.endswith(".md")]
USER_DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def read(*parts):
    return text_of(os.path.join(ROOT, *parts))


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = CODE.sub(r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    seen, result = {}, set()
    for line in FENCE.sub("", text_of(path)).splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else "%s-%d" % (base, count))
    return result


def test_the_files_are_found():
    names = {relative(path) for path in TEXT_FILES}
    assert {"README.md", "docs/architecture.md", "docs/inventory.md", "roles/nodeadm/defaults/main.yml",
            "molecule/default/molecule.yml"} <= names
    assert not any(name.startswith("tests/output/") for name in names)


@pytest.mark.parametrize("path", MARKDOWN, ids=relative)
def test_every_relative_markdown_link_resolves(path):
    broken = []
    for target in LINK.findall(FENCE.sub("", text_of(path))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        name, _sep, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), name)) if name else path
        if not os.path.exists(dest):
            broken.append("%s (no file %s)" % (target, relative(dest)))
        elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
            broken.append("%s (no heading with that anchor in %s)" % (target, relative(dest)))
    assert not broken, broken


@pytest.mark.parametrize("path", TEXT_FILES, ids=relative)
def test_every_docs_page_a_file_names_exists(path):
    missing = sorted({name for name in DOCS_PATH.findall(text_of(path)) if not os.path.isfile(os.path.join(ROOT, name))})
    assert not missing, missing


@pytest.mark.parametrize("path", TEXT_FILES, ids=relative)
def test_no_file_refers_to_a_document_outside_the_repository(path):
    text = text_of(path)
    named = [name for name in OUTSIDE_DOCUMENTS if name.lower() in text.lower()]
    assert not named, "%s refers to %s, which the repository does not hold" % (relative(path), named)
    # A relative path into a shared directory is fine where it resolves (molecule/shared, from a scenario).
    missing = [name for name in SHARED_DIR.findall(text)
               if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), name)))]
    assert not missing, missing


@pytest.mark.parametrize("path", USER_DOCS, ids=relative)
def test_every_path_the_documentation_names_exists(path):
    missing = []
    for token in set(CODE.findall(text_of(path))):
        token = token.split(" ")[0].rstrip(",.:")
        if REPO_PATH.match(token) and not token.startswith(NOT_TRACKED) and not os.path.exists(os.path.join(ROOT, token)):
            missing.append(token)
    assert not missing, sorted(missing)


def role_options():
    options = set()
    for spec_path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(spec_path, encoding="utf-8") as handle:
            for entry in yaml.safe_load(handle)["argument_specs"].values():
                options.update(entry.get("options") or {})
    return options


def test_the_inventory_reference_lists_every_role_option():
    options = role_options()
    assert {"nodeadm_version", "cilium_chart_version", "vpn_gateway_routes_pod_cidrs"} <= options
    reference = read("docs", "inventory.md")
    assert sorted(name for name in options if "`%s`" % name not in reference) == []


def hybrid_variables():
    found = set()
    for pattern in ("playbooks/**/*.yml", "roles/**/*.yml", "roles/**/*.j2"):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            found.update(HYBRID_VARIABLE.findall(text_of(path)))
    return found - NOT_VARIABLES


def test_the_inventory_reference_lists_every_hybrid_variable():
    variables = hybrid_variables()
    assert {"hybrid_cluster_name", "hybrid_vpn_server_ip", "hybrid_drain_timeout", "hybrid_repave"} <= variables
    reference = read("docs", "inventory.md")
    assert sorted(name for name in variables if "`%s`" % name not in reference) == []


def test_the_awx_page_lists_every_extra_variable_of_the_awx_playbooks():
    variables = set()
    for path in glob.glob(os.path.join(ROOT, "playbooks", "awx", "*.yml")):
        header = re.match(r"(?:---\n)?((?:#.*\n)+)", text_of(path)).group(1)
        variables.update(re.findall(r"\bawx_[a-z0-9_]+\b", header))
    assert {"awx_project_scm_url", "awx_slice_count", "awx_limit", "awx_controller_host"} <= variables
    page = read("docs", "awx.md")
    assert sorted(name for name in variables if "`%s`" % name not in page) == []


def test_the_readme_links_every_docs_page():
    readme = read("README.md")
    pages = sorted(relative(path) for path in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    assert "docs/architecture.md" in pages
    assert [page for page in pages if "](%s)" % page not in readme] == []


def test_ci_runs_the_test_command_of_the_readme_quick_start():
    blocks = re.findall(r"^```sh\n(.*?)^```", read("README.md"), re.MULTILINE | re.DOTALL)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert "make demo" in commands and "make test" in commands
    ci = [line.strip() for line in read(".ci", "run").splitlines() if line.strip().startswith("exec ")]
    assert ci == ["exec make test"]
