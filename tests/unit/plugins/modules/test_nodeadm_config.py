# -*- coding: utf-8 -*-
"""nodeadm_config through its main(): writes 0600 only on change, predicts in check mode, masks the code."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hybridnodes.eks.plugins.modules import nodeadm_config

ACTIVATION_ID = "5d9e2e0c-1b9e-4c4e-9d5e-6e1f9d0c1a2b"
CODE = "SecretActivationCode0123"


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            nodeadm_config.main()
    out = capsys.readouterr().out
    return json.loads(out), out


@pytest.fixture
def base(tmp_path):
    return dict(path=str(tmp_path / "nodeadm" / "nodeConfig.yaml"), cluster_name="lab", region="us-west-2",
                credential_provider="ssm", ssm_activation_id=ACTIVATION_ID, ssm_activation_code=CODE,
                node_ip="10.200.0.11", remote_node_cidrs=["10.200.0.0/24"], node_labels={"pool": "a"},
                node_taints=["dedicated=edge:NoSchedule"])


def test_writes_0600_then_reruns_unchanged(capsys, base):
    result, out = run(capsys, **base)
    assert result["changed"] is True
    assert CODE not in out
    assert stat.S_IMODE(os.stat(base["path"]).st_mode) == 0o600
    with open(base["path"]) as handle:
        written = json.load(handle)
    assert written["spec"]["hybrid"]["ssm"]["activationCode"] == CODE
    assert "--node-ip=10.200.0.11" in written["spec"]["kubelet"]["flags"]
    again, _out = run(capsys, **base)
    assert again["changed"] is False


def test_check_mode_predicts_and_writes_nothing(capsys, base):
    result, out = run(capsys, _ansible_check_mode=True, _ansible_diff=True, **base)
    assert result["changed"] is True
    assert not os.path.exists(base["path"])
    assert result["diff"]["before"] == ""
    assert '"activationCode": "********"' in result["diff"]["after"]
    assert CODE not in out


def test_diff_shows_the_change_with_the_code_masked(capsys, base):
    run(capsys, **base)
    changed = dict(base, node_labels={"pool": "b"})
    result, out = run(capsys, _ansible_diff=True, **changed)
    assert result["changed"] is True
    assert "pool=a" in result["diff"]["before"] and "pool=b" in result["diff"]["after"]
    assert CODE not in out


def test_mode_drift_is_repaired(capsys, base):
    run(capsys, **base)
    os.chmod(base["path"], 0o644)
    result, _out = run(capsys, **base)
    assert result["changed"] is True
    assert stat.S_IMODE(os.stat(base["path"]).st_mode) == 0o600


def test_directory_is_0700_and_its_drift_is_repaired(capsys, base):
    directory = os.path.dirname(base["path"])
    run(capsys, **base)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    os.chmod(directory, 0o755)
    result, _out = run(capsys, **base)
    assert result["changed"] is True and stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_the_file_is_never_readable_by_others_while_it_is_replaced(capsys, base, monkeypatch):
    # An old file of mode 0644 is replaced; every file the write creates or renames into place is 0600 from the start.
    run(capsys, **base)
    os.chmod(base["path"], 0o644)
    seen = []
    real_rename = os.rename

    def watching_rename(src, dst):
        seen.append((os.path.basename(dst), stat.S_IMODE(os.stat(src).st_mode)))
        return real_rename(src, dst)

    monkeypatch.setattr(nodeadm_config.os, "rename", watching_rename)
    run(capsys, **dict(base, node_labels={"pool": "c"}))
    assert seen == [("nodeConfig.yaml", 0o600)]
    assert stat.S_IMODE(os.stat(base["path"]).st_mode) == 0o600
    assert os.listdir(os.path.dirname(base["path"])) == ["nodeConfig.yaml"]


def test_registered_host_keeps_its_activation(capsys, base):
    run(capsys, **base)
    rerun = dict(base)
    del rerun["ssm_activation_id"], rerun["ssm_activation_code"]
    result, out = run(capsys, **rerun)
    assert result["changed"] is False
    assert CODE not in out


def test_refuses_everything_wrong_at_once_and_writes_nothing(capsys, base):
    bad = dict(base, ssm_activation_id="nope", node_ip="10.9.9.9", kubelet_extra_flags=["--hostname-override=x"])
    result, out = run(capsys, **bad)
    assert result["failed"] is True
    assert sorted(item["field"] for item in result["problems"]) == ["kubelet_extra_flags", "node_ip", "ssm_activation_id"]
    assert "nothing was written" in result["msg"]
    assert not os.path.exists(base["path"])
    assert CODE not in out


def test_missing_activation_on_a_new_host_is_refused(capsys, base):
    fresh = dict(base)
    del fresh["ssm_activation_id"], fresh["ssm_activation_code"]
    result, _out = run(capsys, **fresh)
    assert result["failed"] is True
    assert "ssm_activation_id" in [item["field"] for item in result["problems"]]


def test_check_mode_on_a_new_host_predicts_with_the_activation_the_run_creates(capsys, base):
    fresh = dict(base)
    del fresh["ssm_activation_id"], fresh["ssm_activation_code"]
    result, _out = run(capsys, _ansible_check_mode=True, _ansible_diff=True, **fresh)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert not os.path.exists(base["path"])
    assert result["node_config"]["spec"]["hybrid"]["ssm"]["activationId"] == nodeadm_config.PENDING_ACTIVATION
    assert nodeadm_config.PENDING_ACTIVATION in result["diff"]["after"]


def test_check_mode_still_refuses_what_else_is_wrong_on_a_new_host(capsys, base):
    fresh = dict(base, node_ip="10.99.0.1")
    del fresh["ssm_activation_id"], fresh["ssm_activation_code"]
    result, _out = run(capsys, _ansible_check_mode=True, **fresh)
    assert result["failed"] is True
    assert [item["field"] for item in result["problems"]] == ["node_ip"]
