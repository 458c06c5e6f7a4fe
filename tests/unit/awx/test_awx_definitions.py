# -*- coding: utf-8 -*-
"""The AWX / Automation Controller definitions of playbooks/awx: they pass a syntax check; every task's arguments,
rendered by Ansible's templating from the playbook's own variables, are accepted by the awx.awx module's documented
options; every secret is asked by a password question; the workflow runs the AWS prerequisites once, then the sliced
join, then the validation; collections/requirements.yml carries galaxy.yml's dependencies. No controller is contacted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONFIGURE = os.path.join(ROOT, "playbooks", "awx", "configure.yml")
PLAYBOOKS = sorted(glob.glob(os.path.join(ROOT, "playbooks", "awx", "*.yml")))
# What a site passes to configure.yml (the required extra vars and every credential).
EXTRA_VARS = {
    "awx_project_scm_url": "https://git.example.com/hybridnodes/eks.git",
    "awx_inventory_source_path": "inventories/example/hosts.yml",
    "awx_ee_image": "registry.example.com/hybridnodes-eks-ee:0.1.0",
    "awx_machine_credential": "edge ssh",
    "awx_aws_credential": "eks hybrid aws",
    "awx_kubernetes_credential": "eks hybrid k8s",
    "awx_slice_count": 3,
}
# Variable names that hold secrets, whatever role reads them.
SECRET_NAME = re.compile(r"(token|passphrase|password|secret|private_key|activation_code)", re.IGNORECASE)
CONTROLLER = {"CONTROLLER_HOST": "https://127.0.0.1:9", "CONTROLLER_USERNAME": "nobody", "CONTROLLER_PASSWORD": "unused"}


def ansible(*args, **kwargs):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", **kwargs.pop("env", {}))
    return subprocess.run([sys.executable, "-m", "ansible.cli.%s" % args[0]] + list(args[1:]), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def load_play(path=CONFIGURE):
    plays = DataLoader().load_from_file(path, trusted_as_template=True)
    assert len(plays) == 1
    return plays[0]


def templar(play, **more):
    variables = dict(play.get("vars", {}))
    variables.update(EXTRA_VARS)  # extra vars win over play vars, as in ansible-playbook
    variables.update(more)
    return Templar(loader=DataLoader(), variables=variables)


def module_options(modules):
    """The documented options (doc fragments included) of awx.awx modules, as ansible-doc gives them."""
    result = ansible("doc", "-t", "module", "--json", *modules)
    assert result.returncode == 0, result.stderr
    return {name: doc["doc"]["options"] for name, doc in json.loads(result.stdout).items()}


def argument_spec(options):
    spec = {}
    for name, option in options.items():
        entry = {"type": option.get("type", "str")}
        for key in ("elements", "choices", "aliases", "required"):
            if key in option:
                entry[key] = option[key]
        if "suboptions" in option:
            entry["options"] = argument_spec(option["suboptions"])
        spec[name] = entry
    return spec


def rendered_tasks(path, **more):
    """(module, rendered arguments) for each awx.awx task, one per loop item, with the task's vars."""
    play = load_play(path)
    out = []
    for task in play["tasks"]:
        modules = [key for key in task if key.startswith("awx.awx.")]
        if not modules:
            continue
        base = templar(play, **more)
        items = base.template(task["loop"]) if "loop" in task else [None]
        for item in items:
            local = dict(more, **({"item": item} if item is not None else {}))
            local.update(task.get("vars", {}))
            out.append((modules[0], templar(play, **local).template(task[modules[0]])))
    return out


@pytest.mark.parametrize("path", PLAYBOOKS, ids=os.path.basename)
def test_syntax_check(path):
    result = ansible("playbook", "--syntax-check", "-i", "localhost,", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", PLAYBOOKS, ids=os.path.basename)
def test_every_task_argument_is_a_documented_option_of_its_module(path):
    tasks = rendered_tasks(path)
    options = module_options(sorted({task[0] for task in tasks}))
    assert tasks
    for module, args in tasks:
        result = ArgumentSpecValidator(argument_spec(options[module])).validate(args)
        assert not result.error_messages, "%s %s: %s" % (module, args.get("name"), result.error_messages)


def job_templates(**more):
    return {args["name"]: args for module, args in rendered_tasks(CONFIGURE, **more) if module == "awx.awx.job_template"}


def secret_inventory_variables():
    """The inventory variables feeding role options that the roles' argument specs mark no_log."""
    secrets = set()
    for spec_path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        role_dir = os.path.dirname(os.path.dirname(spec_path))
        with open(spec_path) as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        defaults_path = os.path.join(role_dir, "defaults", "main.yml")
        defaults = {}
        if os.path.exists(defaults_path):
            with open(defaults_path) as handle:
                defaults = yaml.safe_load(handle) or {}
        for entry in specs.values():
            for name, option in entry.get("options", {}).items():
                if option.get("no_log") and isinstance(defaults.get(name), str):
                    secrets.update(re.findall(r"\b(hybrid_[a-z0-9_]+)", defaults[name]))
    return secrets


def all_questions():
    questions = [(name, question) for name, jt in job_templates().items() for question in jt["survey_spec"].get("spec", [])]
    workflow = [args for module, args in rendered_tasks(CONFIGURE) if module == "awx.awx.workflow_job_template"]
    questions += [(wf["name"], question) for wf in workflow for question in wf["survey_spec"]["spec"]]
    return questions


def test_every_secret_question_is_a_password_question_with_no_default():
    secrets = secret_inventory_variables()
    assert {"hybrid_palette_token", "hybrid_iam_ra_ca_private_key_passphrase"} <= secrets  # the roles' no_log options
    questions = all_questions()
    asked = {question["variable"] for _template, question in questions}
    assert {"hybrid_palette_token", "hybrid_iam_ra_ca_private_key_passphrase"} <= asked
    for template, question in questions:
        if question["variable"] in secrets or SECRET_NAME.search(question["variable"]):
            assert question["type"] == "password", "%s asks %s as %s" % (template, question["variable"], question["type"])
            assert question["default"] == "", "%s has a default secret for %s" % (template, question["variable"])
        assert set(question) >= {"question_name", "variable", "type", "required"}


def test_surveys_are_enabled_exactly_where_there_are_questions():
    for name, jt in job_templates().items():
        assert jt["survey_enabled"] == bool(jt["survey_spec"]), name
        if jt["survey_spec"]:
            variables = [question["variable"] for question in jt["survey_spec"]["spec"]]
            assert len(variables) == len(set(variables)), name


def test_job_templates_run_the_collection_playbooks_with_their_credentials():
    templates = job_templates()
    by_playbook = {jt["playbook"]: jt for jt in templates.values()}
    expected = {"playbooks/%s.yml" % name for name in ("site", "aws_prerequisites", "join", "cilium", "routes", "validate")}
    assert expected <= set(by_playbook)
    for playbook in by_playbook:
        assert os.path.exists(os.path.join(ROOT, playbook)), "job template playbook %s is missing" % playbook
    assert by_playbook["playbooks/aws_prerequisites.yml"]["credentials"] == ["eks hybrid aws"]
    assert by_playbook["playbooks/join.yml"]["credentials"] == ["edge ssh", "eks hybrid aws", "eks hybrid k8s"]
    # A credential not given is left out rather than named empty.
    join = job_templates(awx_aws_credential="", awx_kubernetes_credential="")["EKS hybrid nodes - join"]
    assert join["credentials"] == ["edge ssh"]


def test_workflow_runs_prerequisites_once_then_the_sliced_join_then_validation():
    templates = job_templates()
    (workflow,) = [args for module, args in rendered_tasks(CONFIGURE) if module == "awx.awx.workflow_job_template"]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    assert len(nodes) == len(workflow["workflow_nodes"])
    playbook = {ident: templates[node["unified_job_template"]["name"]]["playbook"] for ident, node in nodes.items()}
    children = {ident: [child["identifier"] for child in node.get("related", {}).get("success_nodes", [])]
                for ident, node in nodes.items()}
    for targets in children.values():
        assert set(targets) <= set(nodes)

    def reachable(start, without=None):
        seen, todo = set(), [start]
        while todo:
            for child in children[todo.pop()]:
                if child != without and child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    node_of = {pb: ident for ident, pb in playbook.items()}
    prerequisites, join, validate = (node_of["playbooks/%s.yml" % name] for name in ("aws_prerequisites", "join", "validate"))
    roots = set(nodes) - {child for targets in children.values() for child in targets}
    assert prerequisites in roots
    assert all(ident not in reachable(ident) for ident in nodes)  # no cycle
    assert join in reachable(prerequisites) and validate in reachable(join)
    assert prerequisites not in reachable(join)  # once, before the join
    # Every way to the validation goes through the join.
    assert all(validate not in reachable(root, without=join) for root in roots)
    # The join waits for all its parents (the AWS side and the prepared hosts).
    parents = [ident for ident, targets in children.items() if join in targets]
    assert len(parents) > 1 and nodes[join]["all_parents_must_converge"] is True

    # Slicing: the join is sliced by awx_slice_count, the AWS side and the validation are not.
    slices = {templates[node["unified_job_template"]["name"]]["playbook"]: templates[node["unified_job_template"]["name"]]["job_slice_count"]
              for node in nodes.values()}
    assert slices["playbooks/join.yml"] == 3
    assert slices["playbooks/aws_prerequisites.yml"] == 1
    assert slices["playbooks/validate.yml"] == 1
    assert job_templates(awx_slice_count=5)["EKS hybrid nodes - join"]["job_slice_count"] == 5


def test_configure_checks_every_extra_var_before_it_calls_the_controller():
    result = ansible("playbook", "-i", "localhost,", CONFIGURE, "-e", "awx_slice_count=0", "-e", "awx_ee_pull=sometimes",
                     env=CONTROLLER)
    assert result.returncode == 2
    out = result.stdout
    for problem in ("awx_project_scm_url is required", "awx_inventory_source_path is required", "awx_ee_image is required",
                    "awx_machine_credential is required", "awx_slice_count must be a whole number of 1 or more, not 0",
                    "awx_ee_pull must be always, missing or never, not sometimes"):
        assert problem in out
    assert "ok=0" in out and "127.0.0.1:9" not in out  # stopped at the check, no controller call


def test_collections_requirements_carry_the_galaxy_dependencies():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    with open(os.path.join(ROOT, "collections", "requirements.yml")) as handle:
        collections = yaml.safe_load(handle)["collections"]
    assert {entry["name"]: entry["version"] for entry in collections} == dependencies


# Inputs that decide what runs as root on the hosts: never a launch-time answer.
ROOT_CODE_INPUTS = re.compile(r"(url|command|installer|base_url|probe)", re.I)


def test_no_extra_variables_at_launch_and_no_url_or_command_in_a_survey():
    workflow = [args for module, args in rendered_tasks(CONFIGURE) if module == "awx.awx.workflow_job_template"]
    for name, template in list(job_templates().items()) + [(wf["name"], wf) for wf in workflow]:
        assert template["ask_variables_on_launch"] is False, name
    for template, question in all_questions():
        assert not ROOT_CODE_INPUTS.search(question["variable"]), (template, question["variable"])
