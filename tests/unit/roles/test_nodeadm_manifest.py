# -*- coding: utf-8 -*-
"""roles/nodeadm: an air-gapped site's release manifest and nodeadm's private mode, and the site's kubelet and
containerd settings, rendered by Ansible's own templating from the role's task files, defaults and vars.

A manifest on the controller (hybrid_nodeadm_manifest_file) is copied to the host and reaches nodeadm as
--manifest-override file://DEST; a file:// or https:// URI (hybrid_nodeadm_manifest_override) is passed as is; both
together, another scheme (nodeadm takes an http:// URI as a file path), private mode without a manifest and a missing
file are refused, all in one message, before any change. hybrid_kubelet_config and hybrid_containerd_config reach the
NodeConfig."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import nodeadm as nodeadm_argv
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig
from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm as nodeadm_module
from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm_config

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
ROLE = os.path.join(ROOT, "roles", "nodeadm")
OMIT = "__omit_place_holder__test"
INVENTORY = {"hybrid_cluster_name": "hybrid-lab", "hybrid_region": "us-west-2", "hybrid_kubernetes_version": "1.31",
             "hybrid_remote_node_cidrs": ["10.200.0.0/16"], "inventory_hostname": "edge1",
             "playbook_dir": "/nonexistent/playbooks", "omit": OMIT}
CHECK = "Check the nodeadm release manifest and private mode before any change"
NEW_OPTIONS = {"nodeadm_kubelet_config": {}, "nodeadm_containerd_config": "", "nodeadm_manifest_file": "",
               "nodeadm_manifest_dest": "/etc/nodeadm/manifest.yaml", "nodeadm_manifest_override": "",
               "nodeadm_private_mode": False}


def load(*parts):
    return DataLoader().load_from_file(os.path.join(*parts), trusted_as_template=True)


def task(file_name, name=None, module=None):
    found = [t for t in load(ROLE, "tasks", file_name) if t.get("name") == name or (module and module in t)]
    assert len(found) == 1, (file_name, name, module)
    return found[0]


def templar(**inventory):
    variables = dict(load(ROLE, "defaults", "main.yml"))
    variables.update(load(ROLE, "vars", "main.yml"))
    variables.update(INVENTORY, **inventory)
    return Templar(loader=DataLoader(), variables=variables)


def module_args(file_name, module, **inventory):
    args = templar(**inventory).template(task(file_name, module=module)[module])
    return dict((key, value) for key, value in args.items() if value != OMIT)


def nodeadm_args(**inventory):
    return module_args("join.yml", "hybridnodes.eks.nodeadm", **inventory)


def problems(**inventory):
    check = task("manifest_check.yml", CHECK)
    return templar(**dict(inventory, **check["vars"])).template(check["vars"]["nodeadm_manifest_problems"])


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "manifest.yaml"
    path.write_text("supported_eks_releases: []\n")
    return path


# The module gets the manifest -------------------------------------------------------------------------------------


def test_by_default_nodeadm_gets_no_manifest_and_no_private_mode():
    args = nodeadm_args()
    assert "manifest_override" not in args
    assert args["private_mode"] is False
    assert problems() == []


def test_a_manifest_on_the_controller_reaches_nodeadm_as_file_uri_of_its_copy(manifest):
    args = nodeadm_args(hybrid_nodeadm_manifest_file=str(manifest))
    assert args["manifest_override"] == "file:///etc/nodeadm/manifest.yaml"
    other = nodeadm_args(hybrid_nodeadm_manifest_file=str(manifest), nodeadm_manifest_dest="/opt/eks/m.yaml")
    assert other["manifest_override"] == "file:///opt/eks/m.yaml"
    # What the module makes of it: nodeadm install, init and upgrade each get --manifest-override.
    for verb, extra in (("install", {"kubernetes_version": "1.31", "credential_provider": "ssm"}),
                        ("init", {"config_source": "file:///etc/nodeadm/nodeConfig.yaml"}),
                        ("upgrade", {"kubernetes_version": "1.32", "config_source": "file:///etc/nodeadm/nodeConfig.yaml"})):
        argv = nodeadm_argv.build_argv("nodeadm", verb, manifest_override=args["manifest_override"], **extra)
        assert argv[argv.index("--manifest-override") + 1] == "file:///etc/nodeadm/manifest.yaml"


def test_the_copy_puts_the_controllers_file_on_the_host_owned_by_root(manifest):
    copy = task("manifest.yml", module="ansible.builtin.copy")
    rendered = templar(hybrid_nodeadm_manifest_file=str(manifest))
    args = rendered.template(copy["ansible.builtin.copy"])
    assert args["src"] == str(manifest)
    assert args["dest"] == "/etc/nodeadm/manifest.yaml"
    assert (args["owner"], args["mode"]) == ("root", "0644")
    assert rendered.evaluate_conditional(copy["when"]) is True
    assert templar().evaluate_conditional(copy["when"]) is False


def test_only_the_nodeconfigs_directory_is_made_with_the_mode_the_nodeconfig_module_keeps(manifest):
    directory = task("manifest.yml", module="ansible.builtin.file")
    rendered = templar(hybrid_nodeadm_manifest_file=str(manifest))
    args = rendered.template(directory["ansible.builtin.file"])
    assert (args["path"], args["state"]) == ("/etc/nodeadm", "directory")
    # Another mode would make nodeadm_config rewrite the NodeConfig, and so run nodeadm init, on every run.
    assert int(args["mode"], 8) == nodeadm_config.DIR_MODE
    assert rendered.evaluate_conditional(directory["when"]) is True
    # The role never changes the mode of a directory it does not own, such as /etc.
    elsewhere = templar(hybrid_nodeadm_manifest_file=str(manifest), nodeadm_manifest_dest="/etc/manifest.yaml")
    assert elsewhere.evaluate_conditional(directory["when"]) is False
    assert templar().evaluate_conditional(directory["when"]) is False


def test_a_relative_manifest_file_is_under_the_inventorys_directory(manifest):
    inventory = {"hybrid_nodeadm_manifest_file": manifest.name, "inventory_dir": str(manifest.parent)}
    assert templar(**inventory).template(trust_as_template("{{ nodeadm_manifest_source }}")) == str(manifest)
    assert problems(**inventory) == []
    assert problems(hybrid_nodeadm_manifest_file=manifest.name, inventory_dir="/nonexistent") != []


@pytest.mark.parametrize("uri", ["https://mirror.example.com/eks/manifest.yaml", "file:///srv/eks/manifest.yaml"])
def test_a_file_or_https_uri_is_passed_through_as_is(uri):
    assert problems(hybrid_nodeadm_manifest_override=uri) == []
    assert nodeadm_args(hybrid_nodeadm_manifest_override=uri)["manifest_override"] == uri


def test_private_mode_reaches_nodeadm_with_a_manifest(manifest):
    inventory = {"hybrid_nodeadm_private_mode": True, "hybrid_nodeadm_manifest_file": str(manifest)}
    assert problems(**inventory) == []
    args = nodeadm_args(**inventory)
    assert args["private_mode"] is True
    argv = nodeadm_argv.build_argv("nodeadm", "install", kubernetes_version="1.31", credential_provider="ssm",
                                   manifest_override=args["manifest_override"], private_mode=args["private_mode"])
    assert "--private-mode" in argv
    assert problems(hybrid_nodeadm_private_mode=True, hybrid_nodeadm_manifest_override="https://m.example.com/m.yaml") == []


# The refusals ------------------------------------------------------------------------------------------------------


def test_http_and_a_bare_path_are_refused_naming_the_variable_and_the_fix():
    for uri in ("http://10.200.0.2:8080/manifest.yaml", "/etc/nodeadm/manifest.yaml"):
        found = problems(hybrid_nodeadm_manifest_override=uri)
        assert len(found) == 1
        assert found[0].startswith("hybrid_nodeadm_manifest_override (nodeadm_manifest_override) is %s;" % uri)
        assert ("nodeadm reads a manifest from file:// or https:// only; put an http manifest on the controller and set"
                " hybrid_nodeadm_manifest_file.") in found[0]


def test_the_file_and_the_uri_together_are_refused(manifest):
    found = problems(hybrid_nodeadm_manifest_file=str(manifest),
                     hybrid_nodeadm_manifest_override="https://mirror.example.com/manifest.yaml")
    assert len(found) == 1
    assert "hybrid_nodeadm_manifest_file and hybrid_nodeadm_manifest_override are both set" in found[0]


def test_private_mode_without_a_manifest_is_refused():
    found = problems(hybrid_nodeadm_private_mode=True)
    assert len(found) == 1
    assert "hybrid_nodeadm_private_mode is true, but no manifest is set" in found[0]
    assert problems(hybrid_nodeadm_private_mode="false") == []


def test_a_manifest_file_missing_on_the_controller_is_refused_naming_the_path(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    found = problems(hybrid_nodeadm_manifest_file=missing)
    assert found == ["hybrid_nodeadm_manifest_file (nodeadm_manifest_file): %s is not a file on the controller; put the"
                     " release manifest there, or set the path (absolute, or relative to the inventory directory)."
                     % missing]
    # A directory is no manifest either.
    assert len(problems(hybrid_nodeadm_manifest_file=str(tmp_path))) == 1


def test_every_problem_is_reported_at_once(tmp_path):
    found = problems(hybrid_nodeadm_manifest_file=str(tmp_path / "nope.yaml"), hybrid_nodeadm_private_mode=True,
                     hybrid_nodeadm_manifest_override="http://10.200.0.2:8080/manifest.yaml")
    assert len(found) == 3
    check = task("manifest_check.yml", CHECK)["ansible.builtin.assert"]
    message = templar(**dict(task("manifest_check.yml", CHECK)["vars"], nodeadm_manifest_problems=found)).template(
        check["fail_msg"])
    assert message.startswith("3 problem(s) with the nodeadm release manifest; nothing was changed.")
    assert all(problem in message for problem in found)


# Before any change --------------------------------------------------------------------------------------------------


def test_the_role_checks_first_and_copies_the_manifest_before_install_and_init():
    main = load(ROLE, "tasks", "main.yml")[0]["block"]
    files = [t.get("ansible.builtin.import_tasks") for t in main]
    assert files.index("manifest_check.yml") < main.index([t for t in main if "block" in t][0])
    check = main[files.index("manifest_check.yml")]
    assert {"download", "nodeadm_install", "nodeadm_init", "nodeadm_manifest"} <= set(check["tags"])
    inner = [t for t in main if "block" in t][0]["block"]
    inner_files = [t.get("ansible.builtin.import_tasks") for t in inner]
    assert inner_files.index("download.yml") < inner_files.index("manifest.yml") < inner_files.index("join.yml")
    copy = inner[inner_files.index("manifest.yml")]
    assert {"nodeadm_install", "nodeadm_init", "nodeadm_manifest"} <= set(copy["tags"])


@pytest.mark.parametrize("playbook, before", [
    ("join.yml", "hybridnodes.eks.edge_routes"),
    ("upgrade.yml", "Cordon and drain the Node"),
    ("repave.yml", "Leave the cluster"),
])
def test_the_playbooks_check_before_the_routes_or_a_drain(playbook, before):
    plays = [play for play in load(ROOT, "playbooks", playbook) if "hosts" in play]
    for play in plays:
        steps = [t.get("ansible.builtin.include_role", {}).get("tasks_from") or t.get("name")
                 for t in play.get("pre_tasks", []) + play.get("tasks", [])]
        steps += [r["role"] for r in play.get("roles", [])]
        if before in steps:
            assert "manifest_check.yml" in steps and steps.index("manifest_check.yml") < steps.index(before)
            return
    raise AssertionError("%s has no step %r" % (playbook, before))


# The kubelet and containerd settings ------------------------------------------------------------------------------


def nodeconfig_spec(**inventory):
    args = module_args("config.yml", "hybridnodes.eks.nodeadm_config", **inventory)
    assert set(args) <= set(yaml.safe_load(nodeadm_config.DOCUMENTATION)["options"])
    return nodeconfig.render(args["cluster_name"], args["region"], args["credential_provider"],
                             node_ip=args["node_ip"], kubelet_config=args["kubelet_config"],
                             containerd_config=args.get("containerd_config"))["spec"]


def test_kubelet_config_reaches_the_nodeconfig():
    settings = {"maxPods": 58, "shutdownGracePeriod": "30s"}
    spec = nodeconfig_spec(hybrid_kubelet_config=settings)
    assert spec["kubelet"]["config"] == settings
    assert "config" not in nodeconfig_spec()["kubelet"]


def test_containerd_config_reaches_the_nodeconfig_and_empty_is_left_out():
    toml = '[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/etc/containerd/certs.d"\n'
    assert nodeconfig_spec(hybrid_containerd_config=toml)["containerd"] == {"config": toml}
    assert "containerd_config" not in module_args("config.yml", "hybridnodes.eks.nodeadm_config")
    assert "containerd" not in nodeconfig_spec()


# The options are documented as they are --------------------------------------------------------------------------


def test_the_new_options_are_documented_with_their_defaults():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    rendered = templar()
    for option, default in NEW_OPTIONS.items():
        assert options[option]["default"] == default, option
        assert options[option]["description"], option
        assert rendered.template(trust_as_template("{{ %s }}" % option)) == default, option
    assert set(nodeadm_args()) <= set(yaml.safe_load(nodeadm_module.DOCUMENTATION)["options"])
