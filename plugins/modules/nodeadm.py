#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridnodes.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nodeadm
short_description: Install, initialise, upgrade or uninstall the EKS hybrid node components with nodeadm
version_added: 0.1.0
author: hybridnodes.eks maintainers (!UNKNOWN)
description:
  - Runs C(nodeadm install), C(init), C(upgrade) or C(uninstall) only when the host needs it. The module reads the
    host once, C(/opt/nodeadm/tracker), the kubelet's version (C(/usr/bin/kubelet --version)), the kubelet's
    kubeconfig and whether the kubelet service is active, and asks a pure planner which verbs to run.
  - nodeadm's exit codes do not tell what happened (C(init) before C(install) exits 0), so every verb is followed
    by a check of its post-condition, the tracker and the kubelet version after C(install) and C(upgrade), an
    active kubelet and its kubeconfig after C(init), no tracker after C(uninstall).
  - A NodeConfig change (O(config_changed)) on an initialised node runs C(nodeadm init) again, as the EKS user guide
    documents; it rewrites the kubelet's and containerd's configuration and restarts both, and keeps the SSM
    registration. Labels and taints of an existing Node do not change that way (the kubelet applies them only when it
    registers the Node); the role hybridnodes.eks.nodeadm sets them through the API.
  - A credential provider change, or a version change outside an upgrade, on an initialised node takes effect only
    through uninstall, install, init. The module takes it only with O(allow_disruptive=true); otherwise it changes
    nothing and explains in RV(needs) and a warning what would be needed.
  - On failure the module returns nodeadm's output and the output of C(nodeadm debug).
  - The module never passes C(--force) unless O(force=true).
options:
  state:
    description:
      - V(installed) installs the components of O(kubernetes_version).
      - V(initialized) also initialises the node (joins it to the cluster) when it is not.
      - V(upgraded) upgrades an initialised node to O(kubernetes_version) with C(nodeadm upgrade), and installs and
        initialises a host that is not a node yet. Cordon and drain the node first.
      - V(absent) uninstalls the components.
    type: str
    default: initialized
    choices: [installed, initialized, upgraded, absent]
  kubernetes_version:
    description: The Kubernetes version, a minor such as V(1.31) (any patch matches) or a patch such as V(1.31.2).
    type: str
  credential_provider:
    description: How the node gets AWS credentials.
    type: str
    choices: [ssm, iam-ra]
  containerd_source:
    description:
      - Where nodeadm gets containerd from. Unset picks one by OS that nodeadm takes there. That is V(docker) on RHEL,
        where nodeadm refuses V(distro), and V(distro) elsewhere, Amazon Linux 2023 included, where nodeadm refuses
        V(docker).
      - A source nodeadm would refuse on the host's OS is refused before anything runs.
    type: str
    choices: [none, distro, docker]
  region:
    description: The AWS region nodeadm downloads from (nodeadm's default when unset).
    type: str
  timeout:
    description: Timeout of C(install) and C(upgrade), such as V(20m) (nodeadm's default when unset).
    type: str
  skip:
    description:
      - Phases of C(init) and C(upgrade) to skip; a name nodeadm does not know is refused (nodeadm itself would
        silently skip nothing).
      - C(upgrade) also takes C(init-validation), C(pod-validation), C(node-validation) and
        C(containerd-major-version-upgrade); both take C(cluster-access-validation).
    type: list
    elements: str
    default: []
  uninstall_skip:
    description: Validations of C(uninstall) to skip.
    type: list
    elements: str
    choices: [pod-validation, node-validation]
    default: []
  manifest_override:
    description: A release manifest (C(file://) or C(https://)) for C(install), C(init) and C(upgrade) (air-gapped sites).
    type: str
  private_mode:
    description: Passes C(--private-mode) to C(install), C(init) and C(upgrade) (needs O(manifest_override)).
    type: bool
    default: false
  config_path:
    description: The NodeConfig, handed to nodeadm as C(file://PATH).
    type: path
    default: /etc/nodeadm/nodeConfig.yaml
  binary:
    description: The nodeadm binary.
    type: path
    default: /usr/local/bin/nodeadm
  force:
    description: Passes C(--force) to C(uninstall), which also removes the CNI state. Never passed unless true.
    type: bool
    default: false
  allow_disruptive:
    description:
      - Allows uninstall, install and init on an initialised node, when its credential provider or version must change
        outside an upgrade. Drain the node first. With SSM, uninstall deregisters the node, so the init after it needs a
        new activation (the role hybridnodes.eks.nodeadm makes one for such hosts).
    type: bool
    default: false
  config_changed:
    description: Whether the NodeConfig changed in this run (the C(changed) of M(hybridnodes.eks.nodeadm_config)).
    type: bool
    default: false
  retries:
    description: How many times a failed nodeadm call is retried (0 to 5), with a doubling delay.
    type: int
    default: 2
  retry_delay:
    description: Seconds before the first retry.
    type: int
    default: 5
  proxy:
    description:
      - The HTTP(S) proxy nodeadm reaches AWS and the package repositories through (C(hybrid_proxy)), such as
        V(http://user:password@proxy.example.com:3128). nodeadm gets it as C(HTTP_PROXY), C(HTTPS_PROXY), C(http_proxy)
        and C(https_proxy) in its own environment, upper and lower case equal as its C(proxy-validation) requires.
      - Give it here, not as the task's C(environment), which Ansible shows at C(-vvv) and on the host's process list.
        The module masks it, its password and C(user:password) in everything it returns (nodeadm's output included).
      - Unset or empty, nodeadm runs with no proxy variables from the module.
    type: str
  no_proxy:
    description:
      - Destinations that bypass O(proxy), as C(NO_PROXY) and C(no_proxy) (equal) in nodeadm's environment; the same
        list as the host's other consumers of the proxy (the filter hybridnodes.eks.no_proxy), or nodeadm's
        C(proxy-validation) refuses them. A comma-separated string is split.
      - Used only with O(proxy).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details: Reads the host and returns the verbs it would run in RV(actions); runs no nodeadm verb. On a host
      where nodeadm is not downloaded yet, it predicts the verbs of a fresh host.
    support: full
  diff_mode:
    details: Shows whether the components are installed, their Kubernetes version and whether the node is initialised.
    support: full
extends_documentation_fragment: [hybridnodes.eks.attributes]
notes:
  - Runs on the edge host, as root.
"""

EXAMPLES = r"""
- name: Install and initialise the node
  hybridnodes.eks.nodeadm:
    state: initialized
    kubernetes_version: "1.31"
    credential_provider: ssm
    config_changed: "{{ nodeconfig.changed }}"

- name: Upgrade a drained node
  hybridnodes.eks.nodeadm:
    state: upgraded
    kubernetes_version: "1.32"
    credential_provider: ssm

- name: Join through a proxy that needs credentials (masked in the output, never in the task's environment)
  hybridnodes.eks.nodeadm:
    state: initialized
    kubernetes_version: "1.31"
    credential_provider: ssm
    proxy: "{{ hybrid_proxy }}"
    no_proxy: "{{ hybrid_vpc_cidrs | hybridnodes.eks.no_proxy(hybrid_service_cidr) }}"

- name: Uninstall
  hybridnodes.eks.nodeadm:
    state: absent
"""

RETURN = r"""
actions:
  description: The nodeadm verbs run (in check mode, those that would run), in order.
  returned: always
  type: list
  elements: str
  sample: [install, init]
needs:
  description: What the host would need but the module did not do, with the reason.
  returned: always
  type: list
  elements: str
tracker:
  description: The artifacts of C(/opt/nodeadm/tracker) after the run (null when absent).
  returned: always
  type: dict
  sample: {Kubelet: true, Ssm: true, Containerd: distro}
kubelet_version:
  description: The kubelet's version after the run (null when not installed).
  returned: always
  type: str
  sample: 1.31.7
initialized:
  description: Whether the node is initialised after the run (kubelet active, kubeconfig present).
  returned: always
  type: bool
nodeadm_version:
  description: C(nodeadm --version).
  returned: when the binary exists
  type: str
  sample: v1.0.20
cmd:
  description: The last nodeadm call.
  returned: when nodeadm ran
  type: list
  elements: str
rc:
  description: Exit code of the last nodeadm call.
  returned: when nodeadm ran
  type: int
stdout:
  description: Standard output of the last nodeadm call.
  returned: when nodeadm ran
  type: str
stderr:
  description: Standard error of the last nodeadm call (nodeadm logs there).
  returned: when nodeadm ran
  type: str
debug:
  description: Output of C(nodeadm debug) after a failure.
  returned: on failure, when the NodeConfig exists
  type: str
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge import nodeadm_plan
from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import proxy
from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.nodeadm import (
    INIT_PHASES,
    UPGRADE_PHASES,
    NodeadmArgumentError,
    NodeadmRunner,
    build_argv,
    config_secrets,
    containerd_source_for,
    os_release_id,
)

TRACKER = "/opt/nodeadm/tracker"
OS_RELEASE = "/etc/os-release"
KUBELET = "/usr/bin/kubelet"
KUBELET_KUBECONFIG = "/var/lib/kubelet/kubeconfig"
MAX_RETRIES = 5
ACTIVE_WAIT_SECONDS = 20


def parse_tracker(text):
    """The Artifacts mapping of nodeadm's tracker (flat YAML, read without a YAML library)."""
    artifacts = {}
    for line in text.splitlines():
        match = re.match(r"^\s+(\w+):\s*(\S*)\s*$", line)
        if not match:
            continue
        key, value = match.groups()
        if value in ("true", "false"):
            artifacts[key] = value == "true"
        else:
            artifacts[key] = value
    return artifacts


class Host:
    """The host's nodeadm facts, read through the module (the boundary the unit tests replace)."""

    def __init__(self, module, binary, sleep=time.sleep):
        self.module = module
        self.binary = binary
        self.sleep = sleep

    def tracker(self):
        try:
            with open(TRACKER) as handle:
                return parse_tracker(handle.read())
        except (IOError, OSError):
            return None

    def kubelet_version(self):
        if not os.path.exists(KUBELET):
            return None
        rc, stdout, _err = self.module.run_command([KUBELET, "--version"], check_rc=False)
        if rc != 0:
            return None
        version = nodeadm_plan.parse_version(stdout)
        return ".".join(str(part) for part in version) if version else None

    def kubelet_active(self):
        systemctl = self.module.get_bin_path("systemctl")
        if not systemctl:
            return False
        rc, _out, _err = self.module.run_command([systemctl, "is-active", "--quiet", "kubelet"], check_rc=False)
        return rc == 0

    def facts(self):
        return {
            "tracker": self.tracker(),
            "kubelet_version": self.kubelet_version(),
            "kubeconfig": os.path.exists(KUBELET_KUBECONFIG),
            "kubelet_active": self.kubelet_active(),
        }

    def wait_initialized(self):
        """The kubelet may take a moment to report active after nodeadm returns."""
        deadline = time.time() + ACTIVE_WAIT_SECONDS
        while True:
            facts = self.facts()
            if nodeadm_plan.is_initialized(facts) or time.time() >= deadline:
                return facts
            self.sleep(1)


def check_inputs(params):
    """Every problem with the options, before anything runs."""
    problems = []
    if params["retries"] < 0 or params["retries"] > MAX_RETRIES:
        problems.append("retries=%d must be between 0 and %d" % (params["retries"], MAX_RETRIES))
    if params["retry_delay"] < 0:
        problems.append("retry_delay must not be negative")
    problems += proxy.proxy_problems(params["proxy"], "proxy")  # never quotes the URL
    known = UPGRADE_PHASES if params["state"] == "upgraded" else INIT_PHASES
    unknown = [phase for phase in params["skip"] if phase not in known]
    if unknown:
        problems.append("skip has unknown phases %s; known: %s" % (", ".join(unknown), ", ".join(known)))
    if params["state"] != "absent":
        probe = {"kubernetes_version": params["kubernetes_version"] or "", "credential_provider": params["credential_provider"],
                 "containerd_source": params["containerd_source"], "region": params["region"], "timeout": params["timeout"],
                 "manifest_override": params["manifest_override"], "private_mode": params["private_mode"]}
        try:
            build_argv(params["binary"], "install", **probe)
        except NodeadmArgumentError as exc:
            problems.append(str(exc))
    return problems


def summary(facts):
    return {
        "installed": facts["tracker"] is not None,
        "kubernetes_version": facts["kubelet_version"],
        "initialized": nodeadm_plan.is_initialized(facts),
    }


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="initialized", choices=list(nodeadm_plan.STATES)),
            kubernetes_version=dict(type="str"),
            credential_provider=dict(type="str", choices=list(nodeadm_plan.credential_providers.NAMES)),
            containerd_source=dict(type="str", choices=["none", "distro", "docker"]),
            region=dict(type="str"),
            timeout=dict(type="str"),
            skip=dict(type="list", elements="str", default=[]),
            uninstall_skip=dict(type="list", elements="str", default=[], choices=["pod-validation", "node-validation"]),
            manifest_override=dict(type="str"),
            private_mode=dict(type="bool", default=False),
            config_path=dict(type="path", default="/etc/nodeadm/nodeConfig.yaml"),
            binary=dict(type="path", default="/usr/local/bin/nodeadm"),
            force=dict(type="bool", default=False),
            allow_disruptive=dict(type="bool", default=False),
            config_changed=dict(type="bool", default=False),
            retries=dict(type="int", default=2),
            retry_delay=dict(type="int", default=5),
            proxy=dict(type="str", no_log=True),
            no_proxy=dict(type="list", elements="str", default=[]),
        ),
        required_if=[
            ("state", "installed", ("kubernetes_version", "credential_provider")),
            ("state", "initialized", ("kubernetes_version", "credential_provider")),
            ("state", "upgraded", ("kubernetes_version", "credential_provider")),
        ],
        supports_check_mode=True,
    )


def read_options(module):
    """Mask the secrets first, then check the options and settle the containerd source; fail on any problem."""
    params = module.params
    mask_config_secrets(module, params["config_path"])
    # The whole URL is masked by no_log; its password may also appear on its own, decoded, or as user:password.
    module.no_log_values.update(proxy.secret_parts(params["proxy"]))
    problems = check_inputs(params)
    if params["state"] != "absent":
        source, problem = containerd_source_for(read_os_id(), params["containerd_source"])
        if problem:
            problems.append(problem)
        elif params["containerd_source"] is None and source != "distro":  # nodeadm's own default is distro
            params["containerd_source"] = source
    if problems:
        module.fail_json(msg="nodeadm: invalid options: " + "; ".join(problems), problems=problems)


def plan_nodeadm(params, facts):
    return nodeadm_plan.plan(facts, {
        "state": params["state"], "kubernetes_version": params["kubernetes_version"],
        "credential_provider": params["credential_provider"], "config_changed": params["config_changed"],
        "allow_disruptive": params["allow_disruptive"],
    })


def read_nodeadm_version(runner, params, result):
    """Whether the binary exists; its version goes into result."""
    binary_present = os.path.exists(params["binary"])
    if binary_present:
        version = runner.version()
        if version.ok:
            result["nodeadm_version"] = version.stdout.strip()
    return binary_present


def check_runnable(module, plan, result, binary_present):
    """Fail on the plan's problems and on missing inputs of the planned verbs; warn the plan's warnings."""
    params = module.params
    if plan["problems"]:
        module.fail_json(msg="nodeadm on this host: " + "; ".join(plan["problems"]), **result)
    blockers = []
    # In check mode the binary may be missing because the download before this was only predicted.
    if plan["actions"] and not binary_present and not module.check_mode:
        blockers.append("%s does not exist; download nodeadm first (the role hybridnodes.eks.nodeadm does)" % params["binary"])
    if set(plan["actions"]) & {"init", "upgrade"} and not os.path.exists(params["config_path"]) and not module.check_mode:
        blockers.append("the NodeConfig %s does not exist; write it first with hybridnodes.eks.nodeadm_config" % params["config_path"])
    if blockers:
        module.fail_json(msg="nodeadm cannot run: " + "; ".join(blockers), **result)
    for warning in plan["warnings"]:
        module.warn(warning)


def report_prediction(module, plan, before, result):
    """Check mode, or nothing to do: exit with what would change."""
    result["changed"] = bool(plan["actions"])
    if module._diff and plan["actions"]:
        result["diff"] = {"before": before, "after": predicted(before, plan, module.params)}
    module.exit_json(**result)


def fail_action(module, runner, action, failure, outcome, result):
    """Fail with nodeadm's last line of output and, when the NodeConfig exists, the output of nodeadm debug."""
    config_path = module.params["config_path"]
    if os.path.exists(config_path):
        debug = runner.run("debug", config_source="file://" + config_path, no_color=True)
        result["debug"] = (debug.stdout + debug.stderr).strip()
    last = (outcome.stderr or outcome.stdout or "").strip().splitlines()
    module.fail_json(msg="nodeadm %s %s after %d attempt(s): %s" % (
        action, failure, outcome.attempts, last[-1] if last else "(no output)"), **result)


def apply_actions(module, host, runner, plan, facts, result):
    """Run the planned verbs in order, each checked by its post-condition; the host's facts after the last one."""
    params = module.params
    config_source = "file://" + params["config_path"]
    attempts = params["retries"] + 1
    done = []
    for action in plan["actions"]:
        options = action_options(action, params, config_source)
        outcome = runner.run_with_retries(action, attempts=attempts, delay=params["retry_delay"], **options)
        done.append(action)
        result.update(outcome.as_dict())
        result["changed"] = True
        facts = host.wait_initialized() if action == "init" and outcome.ok else host.facts()
        result.update(tracker=facts["tracker"], kubelet_version=facts["kubelet_version"],
                      initialized=nodeadm_plan.is_initialized(facts), actions=done)
        failure = None if outcome.ok else "exited %d" % outcome.rc
        failure = failure or postcondition(action, facts, params)
        if failure:
            fail_action(module, runner, action, failure, outcome, result)
    return facts


def report(module, before, facts, result):
    if module._diff:
        result["diff"] = {"before": before, "after": summary(facts)}
    module.exit_json(**result)


def main():
    module = build_module()
    params = module.params
    read_options(module)

    host = Host(module, params["binary"])
    # Only nodeadm's own process gets the proxy (NodeadmRunner passes it to run_command's environ_update).
    runner = NodeadmRunner(module, binary=params["binary"], environ=proxy.proxy_environment(params["proxy"], params["no_proxy"]))
    facts = host.facts()
    plan = plan_nodeadm(params, facts)
    result = {"changed": False, "actions": plan["actions"], "needs": plan["needs"], "tracker": facts["tracker"],
              "kubelet_version": facts["kubelet_version"], "initialized": nodeadm_plan.is_initialized(facts)}
    binary_present = read_nodeadm_version(runner, params, result)
    check_runnable(module, plan, result, binary_present)

    before = summary(facts)
    if module.check_mode or not plan["actions"]:
        report_prediction(module, plan, before, result)
    facts = apply_actions(module, host, runner, plan, facts, result)
    report(module, before, facts, result)


def read_os_id():
    try:
        with open(OS_RELEASE) as handle:
            return os_release_id(handle.read())
    except (IOError, OSError):
        return ""


def mask_config_secrets(module, config_path):
    """Mask the NodeConfig's activation code in everything the module returns, before nodeadm runs: nodeadm's own
    output (stdout, stderr, nodeadm debug) can carry it."""
    try:
        with open(config_path) as handle:
            text = handle.read()
    except (IOError, OSError):
        return
    module.no_log_values.update(config_secrets(text))


def action_options(action, params, config_source):
    if action == "install":
        return {"kubernetes_version": params["kubernetes_version"], "credential_provider": params["credential_provider"],
                "containerd_source": params["containerd_source"], "region": params["region"],
                "manifest_override": params["manifest_override"], "private_mode": params["private_mode"] or None,
                "timeout": params["timeout"]}
    if action == "init":
        return {"config_source": config_source, "skip": params["skip"] or None,
                "manifest_override": params["manifest_override"], "private_mode": params["private_mode"] or None}
    if action == "upgrade":
        return {"kubernetes_version": params["kubernetes_version"], "config_source": config_source,
                "skip": params["skip"] or None, "manifest_override": params["manifest_override"],
                "private_mode": params["private_mode"] or None, "timeout": params["timeout"]}
    return {"skip": params["uninstall_skip"] or None, "force": params["force"] or None}


def postcondition(action, facts, params):
    """Why the host is not as ``action`` should have left it, or None."""
    if action == "install":
        if facts["tracker"] is None:
            return "left no tracker %s" % TRACKER
        if not nodeadm_plan.version_matches(params["kubernetes_version"], facts["kubelet_version"]):
            return "left kubelet %s, not %s" % (facts["kubelet_version"], params["kubernetes_version"])
    elif action == "init":
        if not facts["kubeconfig"]:
            return "left no kubelet kubeconfig %s" % KUBELET_KUBECONFIG
        if not facts["kubelet_active"]:
            return "left the kubelet service inactive"
    elif action == "upgrade":
        if not nodeadm_plan.version_matches(params["kubernetes_version"], facts["kubelet_version"]):
            return "left kubelet %s, not %s" % (facts["kubelet_version"], params["kubernetes_version"])
    elif action == "uninstall" and facts["tracker"] is not None:
        return "left the tracker %s" % TRACKER
    return None


def predicted(before, plan, params):
    after = dict(before)
    for action in plan["actions"]:
        if action == "uninstall":
            after = {"installed": False, "kubernetes_version": None, "initialized": False}
        elif action in ("install", "upgrade"):
            after["installed"] = True
            after["kubernetes_version"] = params["kubernetes_version"]
        elif action == "init":
            after["initialized"] = True
    return after


if __name__ == "__main__":
    main()
