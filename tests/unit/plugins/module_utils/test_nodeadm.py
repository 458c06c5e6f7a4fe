# -*- coding: utf-8 -*-
"""nodeadm argument lists: nodeadm's verbs and flags, refused values, no shell strings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hybridnodes.eks.plugins.module_utils.edge.nodeadm import (
    NodeadmArgumentError,
    NodeadmRunner,
    build_argv,
)

BIN = "/usr/local/bin/nodeadm"


def test_install_argv():
    argv = build_argv(BIN, "install", kubernetes_version="1.31", credential_provider="ssm",
                      containerd_source="distro", region="us-west-2", timeout=600, private_mode=False)
    assert argv == [BIN, "install", "1.31", "--credential-provider", "ssm", "--containerd-source", "distro",
                    "--region", "us-west-2", "--timeout", "600s"]


def test_install_with_switches_and_manifest():
    argv = build_argv(BIN, "install", kubernetes_version="1.30.4", credential_provider="iam-ra",
                      manifest_override="https://mirror.internal/manifest.yaml", private_mode=True, timeout="20m")
    assert argv[2] == "1.30.4"
    assert "--private-mode" in argv
    assert argv[argv.index("--manifest-override") + 1] == "https://mirror.internal/manifest.yaml"
    assert argv[argv.index("--timeout") + 1] == "20m"


def test_init_and_upgrade_argv():
    assert build_argv(BIN, "init", config_source="file:///etc/nodeadm/nodeConfig.yaml",
                      skip=["node-ip-validation", "proxy-validation"]) == [
        BIN, "init", "--config-source", "file:///etc/nodeadm/nodeConfig.yaml",
        "--skip", "node-ip-validation,proxy-validation"]
    assert build_argv(BIN, "upgrade", kubernetes_version="1.31", config_source="file:///c.yaml") == [
        BIN, "upgrade", "1.31", "--config-source", "file:///c.yaml"]


def test_upgrade_takes_the_air_gapped_flags_and_its_own_phases():
    # nodeadm upgrade has -m/--manifest-override and --private-mode (cmd/nodeadm/upgrade/upgrade.go).
    argv = build_argv(BIN, "upgrade", kubernetes_version="1.32", config_source="file:///c.yaml",
                      manifest_override="file:///opt/mirror/manifest.yaml", private_mode=True,
                      skip=["init-validation", "pod-validation", "containerd-major-version-upgrade"])
    assert argv[argv.index("--manifest-override") + 1] == "file:///opt/mirror/manifest.yaml"
    assert "--private-mode" in argv
    assert argv[argv.index("--skip") + 1] == "init-validation,pod-validation,containerd-major-version-upgrade"
    # the upgrade-only phases are refused for init; the hidden ones nodeadm matches are taken by both
    with pytest.raises(NodeadmArgumentError, match="unknown phases init-validation"):
        build_argv(BIN, "init", config_source="file:///c.yaml", skip=["init-validation"])
    for verb, extra in (("init", {}), ("upgrade", {"kubernetes_version": "1.32"})):
        argv = build_argv(BIN, verb, config_source="file:///c.yaml", skip=["cluster-access-validation"], **extra)
        assert argv[-1] == "cluster-access-validation"


def test_uninstall_never_forces_unless_asked():
    assert build_argv(BIN, "uninstall") == [BIN, "uninstall"]
    assert build_argv(BIN, "uninstall", force=False) == [BIN, "uninstall"]
    assert build_argv(BIN, "uninstall", force=True, skip="pod-validation") == [
        BIN, "uninstall", "--skip", "pod-validation", "--force"]


def test_config_check_is_two_words():
    assert build_argv(BIN, "config check", config_source="file:///c.yaml") == [
        BIN, "config", "check", "--config-source", "file:///c.yaml"]


@pytest.mark.parametrize("verb,options,fragment", [
    ("install", {"credential_provider": "ssm"}, "needs kubernetes_version"),
    ("install", {"kubernetes_version": "1.31"}, "needs credential_provider"),
    ("install", {"kubernetes_version": "v1.31", "credential_provider": "ssm"}, "not a Kubernetes version"),
    ("install", {"kubernetes_version": "1.31", "credential_provider": "iam"}, "not one of ssm, iam-ra"),
    ("install", {"kubernetes_version": "1.31", "credential_provider": "ssm", "containerd_source": "apt"}, "not one of"),
    ("install", {"kubernetes_version": "1.31", "credential_provider": "ssm", "timeout": "soon"}, "not a duration"),
    ("install", {"kubernetes_version": "1.31", "credential_provider": "ssm", "timeout": 0}, "must be positive"),
    ("install", {"kubernetes_version": "1.31", "credential_provider": "ssm", "force": True}, "has no option force"),
    ("init", {}, "needs config_source"),
    ("init", {"config_source": "/etc/c.yaml"}, "must start with file:// or imds://"),
    ("init", {"config_source": "file:///c", "skip": ["bogus-validation"]}, "unknown phases bogus-validation"),
    ("init", {"config_source": "file:///c", "manifest_override": "http://x/m.yaml"}, "file:// or https://"),
    ("uninstall", {"skip": "install-validation"}, "unknown phases"),
    ("join", {}, "unknown nodeadm verb"),
])
def test_refused_before_running(verb, options, fragment):
    with pytest.raises(NodeadmArgumentError, match=fragment):
        build_argv(BIN, verb, **options)


class RecordingModule:
    """Stands in for AnsibleModule.run_command: the boundary where nodeadm would run."""

    def __init__(self, results):
        self.results = list(results)
        self.calls = []

    def run_command(self, args, environ_update=None, check_rc=False):
        assert isinstance(args, list), "nodeadm must be run with an argument list"
        assert check_rc is False
        self.calls.append((args, environ_update))
        return self.results.pop(0)


def test_runner_passes_lists_and_environment():
    module = RecordingModule([(0, "ok", "")])
    runner = NodeadmRunner(module, environ={"HTTPS_PROXY": "http://proxy:3128"})
    result = runner.run("uninstall")
    assert result.ok and result.stdout == "ok"
    assert module.calls == [([BIN, "uninstall"], {"HTTPS_PROXY": "http://proxy:3128"})]


def test_version_is_a_flag_not_a_verb():
    with pytest.raises(NodeadmArgumentError, match="unknown nodeadm verb 'version'"):
        build_argv(BIN, "version")
    module = RecordingModule([(0, "v1.0.20\n", "")])
    result = NodeadmRunner(module).version()
    assert result.ok and result.stdout.strip() == "v1.0.20"
    assert module.calls == [([BIN, "--version"], {})]


def test_runner_retries_boundedly_with_backoff():
    sleeps = []
    module = RecordingModule([(1, "", "boom 1"), (1, "", "boom 2"), (1, "", "boom 3"), (0, "", "")])
    runner = NodeadmRunner(module, sleep=sleeps.append)
    result = runner.run_with_retries("init", attempts=3, delay=2, config_source="file:///c.yaml")
    assert not result.ok
    assert result.stderr == "boom 3"
    assert result.attempts == 3
    assert sleeps == [2, 4]
    assert len(module.calls) == 3


def test_runner_stops_retrying_on_success():
    module = RecordingModule([(1, "", "transient"), (0, "done", "")])
    result = NodeadmRunner(module, sleep=lambda _s: None).run_with_retries("uninstall", attempts=5)
    assert result.ok and result.attempts == 2
    assert result.as_dict()["cmd"] == [BIN, "uninstall"]
