# -*- coding: utf-8 -*-
"""The nodeadm module through main(), with a run_command double held to nodeadm's contract.

The double plays nodeadm (exit codes and traps: init before install exits 0 doing nothing,
uninstall with nothing installed exits 0, usage errors exit 2, no ``version`` verb), the
kubelet (``--version``) and systemctl, and writes the files they write under a temporary root.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm as module_under_test

FATAL = '{"level":"fatal","msg":"Command failed","error":"%s"}\n'
VERBS = ("install", "init", "upgrade", "uninstall", "debug", "config")


class FakeHost:
    """nodeadm, kubelet and systemctl on one host, as files under tmp_path."""

    def __init__(self, tmp_path):
        self.root = tmp_path
        self.binary = tmp_path / "nodeadm"
        self.binary.write_text("#!/bin/sh\n")
        self.tracker = tmp_path / "tracker"
        self.kubelet = tmp_path / "kubelet"
        self.kubeconfig = tmp_path / "kubeconfig"
        self.config = tmp_path / "nodeConfig.yaml"
        self.config.write_text("{}")
        self.active = False
        self.fail_init = None
        self.calls = []
        self.environments = []  # (program, environ_update) of every call

    def install_state(self, version="1.31.7", provider="ssm", initialized=False):
        self.tracker.write_text("Artifacts:\n  Kubelet: true\n  Ssm: %s\n  IamRolesAnywhere: %s\n  Containerd: distro\n"
                                % (str(provider == "ssm").lower(), str(provider == "iam-ra").lower()))
        self.kubelet.write_text(version)
        if initialized:
            self.kubeconfig.write_text("{}")
            self.active = True

    def debug_prints(self, text):
        """From now on `nodeadm debug` also prints ``text`` (as nodeadm prints its config and environment back)."""
        original = self.nodeadm

        def echoing(argv):
            rc, out, err = original(argv)
            if argv and argv[0] == "debug":
                out += text
            return rc, out, err

        self.nodeadm = echoing

    def nodeadm_calls(self):
        return [call[1:] for call in self.calls if call[0] == str(self.binary)]

    def run_command(self, args, check_rc=False, environ_update=None, **_kwargs):
        assert isinstance(args, list) and check_rc is False
        self.calls.append(list(args))
        self.environments.append((args[0], dict(environ_update or {})))
        if args[0] == str(self.kubelet):
            return (0, "Kubernetes v%s\n" % self.kubelet.read_text(), "") if self.kubelet.exists() else (127, "", "")
        if args[0] == "/bin/systemctl":
            assert args[1:] == ["is-active", "--quiet", "kubelet"]
            return (0 if self.active else 3), "", ""
        assert args[0] == str(self.binary), args
        return self.nodeadm(args[1:])

    def nodeadm(self, argv):
        if argv == ["--version"]:
            return 0, "v1.0.20\n", ""
        if not argv or argv[0] not in VERBS:
            return 2, "", "Unknown arguments supplied: %s\n" % (argv[:1],)
        verb = argv[0]
        if verb == "install":
            versions = {"1.30": "1.30.11", "1.31": "1.31.7", "1.32": "1.32.3"}
            provider = argv[argv.index("--credential-provider") + 1]
            self.install_state(versions[argv[1]], provider)
            return 0, "", ""
        if verb == "init":
            if not self.tracker.exists():
                return 0, "", '{"msg":"Nodeadm components are not installed. Please run `nodeadm install` before running init"}\n'
            if self.fail_init:
                return 1, "", FATAL % self.fail_init
            self.kubeconfig.write_text("{}")
            self.active = True
            return 0, "", ""
        if verb == "upgrade":
            if not self.tracker.exists():
                return 0, "", ""
            self.kubelet.write_text({"1.32": "1.32.3", "1.31": "1.31.7"}[argv[1]])
            return 0, "", ""
        if verb == "uninstall":
            for path in (self.tracker, self.kubelet, self.kubeconfig):
                if path.exists():
                    path.unlink()
            self.active = False
            return 0, "", ""
        if verb == "debug":
            return 1, "[OK] config\n[FAIL] credentials: ssm registration missing\n", ""
        return 0, "", ""


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(tmp_path)
    monkeypatch.setattr(module_under_test, "TRACKER", str(fake.tracker))
    monkeypatch.setattr(module_under_test, "KUBELET", str(fake.kubelet))
    monkeypatch.setattr(module_under_test, "KUBELET_KUBECONFIG", str(fake.kubeconfig))
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, args, **kw: fake.run_command(args, **kw))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/bin/" + name)
    monkeypatch.setattr(module_under_test.time, "sleep", lambda _s: None)
    return fake


def run(capsys, host, check_mode=False, diff=False, **options):
    args = {"binary": str(host.binary), "config_path": str(host.config), "kubernetes_version": "1.31",
            "credential_provider": "ssm", "retry_delay": 0, "_ansible_check_mode": check_mode, "_ansible_diff": diff}
    args.update(options)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module_under_test.main()
    return json.loads(capsys.readouterr().out)


def mutating(host):
    return [call[0] for call in host.nodeadm_calls() if call[0] != "--version"]


def test_join_installs_then_inits_and_the_rerun_is_read_only(capsys, host):
    result = run(capsys, host)
    assert result["changed"] is True and result["actions"] == ["install", "init"]
    assert result["kubelet_version"] == "1.31.7" and result["initialized"] is True
    assert host.nodeadm_calls() == [
        ["--version"],
        ["install", "1.31", "--credential-provider", "ssm"],
        ["init", "--config-source", "file://%s" % host.config],
    ]
    assert result["tracker"]["Ssm"] is True
    host.calls.clear()
    again = run(capsys, host)
    assert again["changed"] is False and again["actions"] == []
    assert host.nodeadm_calls() == [["--version"]]


def test_check_mode_predicts_and_runs_no_verb(capsys, host):
    result = run(capsys, host, check_mode=True, diff=True)
    assert result["changed"] is True and result["actions"] == ["install", "init"]
    assert result["diff"]["after"] == {"installed": True, "kubernetes_version": "1.31", "initialized": True}
    assert mutating(host) == []
    assert not host.tracker.exists()


def test_init_trap_is_caught_by_the_postcondition(capsys, host, monkeypatch):
    # install "succeeds" but leaves no tracker (as if another process removed it): init then exits 0 doing nothing.
    original = host.nodeadm

    def broken(argv):
        rc, out, err = original(argv)
        if argv[:1] == ["install"]:
            host.tracker.unlink()
        return rc, out, err
    monkeypatch.setattr(host, "nodeadm", broken)
    result = run(capsys, host)
    assert result["failed"] is True
    assert "nodeadm install left no tracker" in result["msg"]
    assert result["actions"] == ["install"]


def test_init_failure_returns_nodeadm_message_and_debug_after_bounded_retries(capsys, host):
    host.install_state()
    host.fail_init = "lab fault: registration refused"
    result = run(capsys, host, retries=1)
    assert result["failed"] is True
    assert "nodeadm init exited 1 after 2 attempt(s)" in result["msg"]
    assert "lab fault: registration refused" in result["msg"]
    assert "ssm registration missing" in result["debug"]
    assert mutating(host) == ["init", "init", "debug"]


def test_config_change_on_a_joined_node_runs_init_again(capsys, host):
    host.install_state(initialized=True)
    result = run(capsys, host, config_changed=True)
    assert result["changed"] is True and result["actions"] == ["init"] and result["needs"] == []
    assert mutating(host) == ["init"]
    assert result["initialized"] is True


def test_a_provider_change_with_permission_reinstalls(capsys, host):
    host.install_state(initialized=True, provider="iam-ra")
    result = run(capsys, host, allow_disruptive=True, uninstall_skip=["node-validation"])
    assert result["actions"] == ["uninstall", "install", "init"]
    assert ["uninstall", "--skip", "node-validation"] in host.nodeadm_calls()
    assert result["initialized"] is True


def test_upgrade_of_a_node(capsys, host):
    host.install_state(initialized=True)
    result = run(capsys, host, state="upgraded", kubernetes_version="1.32", diff=True)
    assert result["actions"] == ["upgrade"] and result["kubelet_version"] == "1.32.3"
    assert host.nodeadm_calls()[-1] == ["upgrade", "1.32", "--config-source", "file://%s" % host.config]
    assert result["diff"]["before"]["kubernetes_version"] == "1.31.7"


def test_absent_uninstalls_without_force_and_is_idempotent(capsys, host):
    host.install_state(initialized=True)
    result = run(capsys, host, state="absent")
    assert result["actions"] == ["uninstall"] and host.nodeadm_calls()[-1] == ["uninstall"]
    assert result["tracker"] is None
    host.calls.clear()
    again = run(capsys, host, state="absent")
    assert again["changed"] is False and mutating(host) == []


def test_force_is_passed_only_when_true(capsys, host):
    host.install_state()
    run(capsys, host, state="absent", force=True)
    assert host.nodeadm_calls()[-1] == ["uninstall", "--force"]


def test_every_input_problem_is_reported_before_running(capsys, host):
    result = run(capsys, host, kubernetes_version="v1.31", retries=9, skip=["bogus"])
    assert result["failed"] is True
    assert len(result["problems"]) == 3
    assert host.calls == []


def test_missing_nodeconfig_blocks_init(capsys, host):
    host.config.unlink()
    result = run(capsys, host)
    assert result["failed"] is True and "nodeadm_config" in result["msg"]
    assert mutating(host) == []


def test_check_mode_on_a_host_without_nodeadm_predicts_a_fresh_join(capsys, host):
    host.binary.unlink()
    result = run(capsys, host, check_mode=True)
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["actions"] == ["install", "init"]
    assert host.nodeadm_calls() == []


def test_a_real_run_without_nodeadm_is_refused_with_the_fix(capsys, host):
    host.binary.unlink()
    result = run(capsys, host)
    assert result["failed"] is True and "download nodeadm first" in result["msg"]
    assert host.nodeadm_calls() == []


def test_nodeadm_output_never_carries_the_activation_code(capsys, host):
    # A nodeadm that prints its config back (a log line, `nodeadm debug`): the module masks the NodeConfig's
    # activation code in everything it returns, because it read the NodeConfig before running anything.
    code = "Zq8dF3kLmN0pRsTuVwXyZ0123456789abcdEF"
    host.config.write_text("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  hybrid:\n    ssm:\n"
                           "      activationCode: %s\n      activationId: 8d4c6b1e-3f2a-4b5c-9d7e-0123456789ab\n" % code)
    host.fail_init = "cannot register with activation code %s" % code
    host.debug_prints("config: {ssm: {activationCode: %s}}\n" % code)
    result = run(capsys, host, retries=0)
    assert result["failed"] is True
    text = json.dumps(result)
    assert code not in text, text
    assert "********" in result["msg"] and "********" in result["debug"]


@pytest.mark.parametrize("text", [
    'spec: {hybrid: {ssm: {activationCode: "Abc def-0123456789xyz", activationId: x}}}',
    "spec:\n  hybrid:\n    ssm:\n      activationCode: 'Abc def-0123456789xyz'\n",
    '{"spec": {"hybrid": {"ssm": {"activationId": "x", "activationCode": "Abc def-0123456789xyz"}}}}',
    "      activationCode: Abc def-0123456789xyz\n",
])
def test_config_secrets_reads_yaml_and_json(text):
    from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.nodeadm import config_secrets

    assert config_secrets(text) == {"Abc def-0123456789xyz"}
    assert config_secrets("spec: {hybrid: {iamRolesAnywhere: {nodeName: n}}}") == set()


@pytest.mark.parametrize("os_id, wanted, argv_source", [
    ("rhel", None, "docker"),      # nodeadm refuses distro on RHEL: the module picks docker
    ("amzn", None, None),          # nodeadm's default (distro) is right on AL2023
    ("ubuntu", None, None),
    ("rhel", "none", "none"),
])
def test_containerd_source_by_os(capsys, host, tmp_path, monkeypatch, os_id, wanted, argv_source):
    release = tmp_path / "os-release"
    release.write_text('NAME="x"\nID=%s\n' % os_id)
    monkeypatch.setattr(module_under_test, "OS_RELEASE", str(release))
    options = {"containerd_source": wanted} if wanted else {}
    result = run(capsys, host, **options)
    assert result["changed"] is True, result
    install = [call for call in host.nodeadm_calls() if call[0] == "install"][0]
    got = install[install.index("--containerd-source") + 1] if "--containerd-source" in install else None
    assert got == argv_source, install


@pytest.mark.parametrize("os_id, wanted", [("rhel", "distro"), ("amzn", "docker")])
def test_a_containerd_source_nodeadm_refuses_is_refused_before_anything_runs(capsys, host, tmp_path, monkeypatch,
                                                                             os_id, wanted):
    release = tmp_path / "os-release"
    release.write_text("ID=%s\n" % os_id)
    monkeypatch.setattr(module_under_test, "OS_RELEASE", str(release))
    result = run(capsys, host, containerd_source=wanted)
    assert result["failed"] is True and "nodeadm refuses containerd source %s on %s" % (wanted, os_id) in result["msg"]
    assert mutating(host) == []


def test_upgrade_only_phases_are_taken_for_upgrade_only(capsys, host):
    host.install_state(initialized=True)
    result = run(capsys, host, state="upgraded", kubernetes_version="1.32", skip=["init-validation", "pod-validation"])
    assert result["changed"] is True, result
    upgrade = [call for call in host.nodeadm_calls() if call[0] == "upgrade"][0]
    assert upgrade[upgrade.index("--skip") + 1] == "init-validation,pod-validation"
    refused = run(capsys, host, skip=["init-validation"])
    assert refused["failed"] is True and "unknown phases init-validation" in refused["msg"]


# A proxy that needs credentials: the password holds a percent-encoded '@', so nodeadm may print it decoded.
PROXY_PASSWORD = "Pr0xy%40Secret-7f3a"
PROXY = "http://hn-user:%s@proxy.example.com:3128" % PROXY_PASSWORD
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def test_the_proxy_reaches_nodeadm_own_environment_upper_and_lower_case_equal(capsys, host):
    result = run(capsys, host, proxy=PROXY, no_proxy="localhost,127.0.0.1,10.0.0.0/16")
    assert result["changed"] is True, result
    nodeadm = [env for program, env in host.environments if program == str(host.binary)]
    assert len(nodeadm) == 3  # --version, install, init
    for env in nodeadm:
        assert {name: env[name] for name in PROXY_VARIABLES} == dict.fromkeys(PROXY_VARIABLES, PROXY)
        assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,10.0.0.0/16"
    # The kubelet and systemctl, asked for facts only, get none of it.
    assert all(env == {} for program, env in host.environments if program != str(host.binary))


def test_without_a_proxy_nodeadm_gets_no_proxy_variables(capsys, host):
    run(capsys, host, no_proxy=["localhost"])
    assert [env for _program, env in host.environments] and all(env == {} for _program, env in host.environments)


def test_the_proxy_password_never_appears_in_what_the_module_returns(capsys, host):
    """nodeadm printing the proxy back in every form (the URL, user:password, the password decoded): the result, its
    message, nodeadm's output, nodeadm debug and the invocation carry none of them."""
    host.install_state()
    host.fail_init = "proxy %s refused; auth hn-user:%s; password %s" % (PROXY, PROXY_PASSWORD, "Pr0xy@Secret-7f3a")
    host.debug_prints("HTTPS_PROXY=%s\n" % PROXY)
    result = run(capsys, host, retries=0, proxy=PROXY, no_proxy="localhost")
    assert result["failed"] is True and "nodeadm init exited 1" in result["msg"]
    text = json.dumps(result)
    for secret in (PROXY_PASSWORD, "Pr0xy@Secret-7f3a", "Secret-7f3a", PROXY):
        assert secret not in text, secret
    assert result["invocation"]["module_args"]["proxy"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "********" in result["msg"] and "********" in result["debug"]
    # The environment really carried it: the masking is of the output, not of what nodeadm got.
    assert host.environments[-1][1]["HTTPS_PROXY"] == PROXY


def test_a_proxy_that_is_not_a_url_is_refused_before_running_without_quoting_it(capsys, host):
    result = run(capsys, host, proxy="socks5://hn-user:%s@proxy:1080" % PROXY_PASSWORD)
    assert result["failed"] is True and "proxy must start with http:// or https://" in result["msg"]
    assert PROXY_PASSWORD not in json.dumps(result)
    assert host.calls == []
