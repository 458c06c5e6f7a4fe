"""Palette agent mode on a lab edge host: playbooks/palette_agent.yml (roles/palette_artifacts, agent install).

The lab mirror serves the Palette agent installer STAND-IN (tests/lab/palette_standin/palette-agent-install.sh,
published by hnlab.mirror) over plain http, so every run allows http and pins the stand-in's sha256. On edge03,
in file order:
  - the mirror publishes the stand-in with a matching .sha256 (isolated state dir, no lab needed);
  - the stand-in itself refuses a user-data without edgeHostToken or with a malformed one, exits non-zero and
    installs nothing;
  - a wrong sha256 fails the download with a clear message; nothing is installed;
  - a token the installer refuses fails the play with the installer's words; the token is not in the output;
  - --check on the fresh host predicts changes and changes nothing;
  - the install converges (agent unit active, user-data 0600 root-owned, reboot left to Ansible and disabled
    here), the token never appears in the -vvv output;
  - a re-run and a --check re-run report changed=0 and do not run the installer again.
Everything is undone at the end (unit, /opt/palette, stand-in state, the stand-in in the mirror when this module
published it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import uuid
from pathlib import Path

import pytest

from hnlab import edge, mirror
from hnlab.config import isolated
from hnlab.testing import REPO, play

PLAYBOOK = REPO / "playbooks" / "palette_agent.yml"
HOST = "edge03"
AGENT_DIR = "/opt/palette"
UNIT_NAME = "spectro-stylus-agent.service"
UNIT = f"/etc/systemd/system/{UNIT_NAME}"
STANDIN_STATE = "/var/lib/palette-standin"


def _ssh(cfg, host, cmd, timeout=120):
    return edge.ssh(cfg, host["ip"], "sh", "-c", shlex.quote(cmd), check=False, timeout=timeout)


def _play(cfg, vars_file, *extra, timeout=600):
    return play(cfg.inventory_path, PLAYBOOK, "--limit", HOST, "-e", f"@{vars_file}", *extra, timeout=timeout,
                fake_aws=False)


def _recap(output):
    found = re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert found, output
    return {name: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, counts))) for name, *counts in found}


def _installed(cfg, host):
    """What of the agent install is on the host: {path: exists} plus the unit's state."""
    r = _ssh(cfg, host, f"for p in {UNIT} {AGENT_DIR} {AGENT_DIR}/palette-agent-install.sh {AGENT_DIR}/user-data "
                        f"{STANDIN_STATE}; do [ -e $p ] && echo $p; done; "
                        f"echo unit=$(systemctl is-active {UNIT_NAME} 2>/dev/null)")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    return {"paths": [p for p in lines if p.startswith("/")], "unit": lines[-1].split("=", 1)[1]}


def _clean_host(cfg, host):
    _ssh(cfg, host, f"systemctl disable --now {UNIT_NAME} >/dev/null 2>&1; rm -f {UNIT}; "
                    f"rm -rf {AGENT_DIR} {STANDIN_STATE} /tmp/palette-standin-test; systemctl daemon-reload; "
                    f"systemctl reset-failed {UNIT_NAME} 2>/dev/null; true")


def _write_vars(path, token, sha256, **more):
    data = {"hybrid_palette_token": token, "hybrid_palette_project_name": "hybrid-lab",
            "palette_artifacts_agent_installer_allow_http": True,
            "palette_artifacts_agent_installer_sha256": sha256,
            "palette_artifacts_agent_reboot": False}
    data.update(more)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


def test_mirror_publishes_the_palette_standin(tmp_path):
    cfg = isolated(tmp_path / "state", "mirror_port")
    root = mirror.publish(cfg)
    installer = root / "palette" / "palette-agent-install.sh"
    data = installer.read_bytes()
    assert data == mirror.PALETTE_STANDIN_SOURCE.read_bytes()
    assert b"LAB STAND-IN" in data and b"reboot" in data
    assert mirror.parse_checksum_file(Path(f"{installer}.sha256").read_text()) == hashlib.sha256(data).hexdigest()
    mirror.unpublish_palette_standin(cfg)
    assert not installer.parent.exists()


@pytest.fixture(scope="module")
def site(request, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab = request.getfixturevalue("lab")
    host = edge.find_host(lab, HOST)
    before = _installed(lab, host)
    if before["paths"] or before["unit"] == "active":
        pytest.fail(f"{HOST} already has Palette agent files {before}; not touching them")
    was_published = mirror.palette_installer_path(lab).exists()
    sha256 = mirror.publish_palette_standin(lab)
    token = "lab" + uuid.uuid4().hex + uuid.uuid4().hex[:12]
    url = f"{lab.mirror_base_url}{mirror.PALETTE_INSTALLER_URL_PATH}"
    tmp = tmp_path_factory.mktemp("palette")
    try:
        yield {"cfg": lab, "host": host, "token": token, "sha256": sha256, "url": url, "tmp": tmp}
    finally:
        _clean_host(lab, host)
        if not was_published:
            mirror.unpublish_palette_standin(lab)


def _vars(site, name="vars.json", **more):
    more.setdefault("hybrid_palette_token", site["token"])
    token = more.pop("hybrid_palette_token")
    sha256 = more.pop("sha256", site["sha256"])
    more.setdefault("palette_artifacts_agent_installer_url", site["url"])
    return _write_vars(site["tmp"] / name, token, sha256, **more)


@pytest.mark.lab
@pytest.mark.parametrize("user_data, message", [
    ("reboot: false\nprojectName: lab\n", "edgeHostToken is missing from the user-data"),
    ("edgeHostToken: 'not a token!'\n", "edgeHostToken is malformed"),
])
def test_standin_refuses_a_user_data_without_a_good_token(site, user_data, message):
    cfg, host = site["cfg"], site["host"]
    d = "/tmp/palette-standin-test"
    r = _ssh(cfg, host, f"mkdir -p {d} && curl -fsS -o {d}/i.sh {site['url']} && printf %s {shlex.quote(user_data)} "
                        f"> {d}/user-data && cd {d} && USERDATA={d}/user-data bash ./i.sh; echo rc=$?")
    assert "rc=1" in r.stdout, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    _ssh(cfg, host, f"rm -rf {d}")
    assert _installed(cfg, host) == {"paths": [], "unit": "inactive"}


@pytest.mark.lab
def test_wrong_checksum_fails_clearly_and_installs_nothing(site):
    cfg, host = site["cfg"], site["host"]
    code, output = _play(cfg, _vars(site, sha256="0" * 64))
    assert code != 0, output
    assert f"The Palette agent installer {site['url']} could not be downloaded and verified on {HOST}" in output, output
    assert "checksum" in output.lower() and "Nothing was installed" in output, output
    assert _recap(output)[HOST]["failed"] == 1
    state = _installed(cfg, host)
    assert UNIT not in state["paths"] and f"{AGENT_DIR}/palette-agent-install.sh" not in state["paths"], state
    assert f"{AGENT_DIR}/user-data" not in state["paths"], state
    assert site["token"] not in output
    _clean_host(cfg, host)


@pytest.mark.lab
def test_token_the_installer_refuses_fails_with_its_words(site):
    cfg, host = site["cfg"], site["host"]
    bad = "short-" + uuid.uuid4().hex[:6] + "!"
    code, output = _play(cfg, _vars(site, "bad.json", hybrid_palette_token=bad), "-v")
    assert code != 0, output
    assert f"The Palette agent installer from {site['url']} failed on {HOST} (rc 1)" in output, output
    assert "edgeHostToken is malformed" in output, output
    assert bad not in output
    state = _installed(cfg, host)
    assert UNIT not in state["paths"] and STANDIN_STATE not in state["paths"], state
    _clean_host(cfg, host)


@pytest.mark.lab
def test_a_changed_installer_url_fetches_the_installer_again(site):
    # A token the installer refuses keeps the agent uninstalled, so that every run reaches the download.
    cfg, host = site["cfg"], site["host"]
    bad = "short-" + uuid.uuid4().hex[:6] + "!"
    try:
        for url, downloads in ((site["url"], 1), (site["url"], 0), (site["url"] + "?release=2", 1)):
            mirror.reset_request_counts(cfg)
            code, output = _play(cfg, _vars(site, "refetch.json", hybrid_palette_token=bad,
                                            palette_artifacts_agent_installer_url=url))
            assert code != 0 and "edgeHostToken is malformed" in output, output
            got = mirror.request_counts(cfg).get(mirror.PALETTE_INSTALLER_URL_PATH, 0)
            assert got == downloads, (url, got)
        recorded = _ssh(cfg, host, f"cat {AGENT_DIR}/palette-agent-install.sh.url").stdout.strip()
        assert recorded == site["url"] + "?release=2"
    finally:
        _clean_host(cfg, host)


@pytest.mark.lab
def test_check_mode_on_a_fresh_host_predicts_and_changes_nothing(site):
    cfg, host = site["cfg"], site["host"]
    code, output = _play(cfg, _vars(site), "--check")
    assert code == 0, output
    recap = _recap(output)[HOST]
    assert recap["failed"] == 0 and recap["changed"] >= 2, output  # the directory and the installer run
    assert re.search(r"Run the Palette agent installer\] \*+\nchanged: \[edge03\]", output), output
    assert _installed(cfg, host) == {"paths": [], "unit": "inactive"}
    assert site["token"] not in output


@pytest.mark.lab
def test_install_converges_without_leaking_the_token(site):
    cfg, host = site["cfg"], site["host"]
    code, output = _play(cfg, _vars(site), "-vvv")
    assert code == 0, output[-6000:]
    assert _recap(output)[HOST]["changed"] >= 4, output[-3000:]
    assert site["token"] not in output
    state = _installed(cfg, host)
    assert state["unit"] == "active", state
    assert {UNIT, f"{AGENT_DIR}/user-data", f"{AGENT_DIR}/palette-agent-install.sh"} <= set(state["paths"])
    r = _ssh(cfg, host, f"stat -c '%a %U %G' {AGENT_DIR}/user-data {AGENT_DIR}; "
                        f"python3 -c 'import yaml,sys; d=yaml.safe_load(open(\"{AGENT_DIR}/user-data\")); "
                        f"print(d[\"reboot\"], d[\"projectName\"], d[\"edgeHostToken\"] == sys.argv[1])' {site['token']}; "
                        f"cat {STANDIN_STATE}/installed.json")
    lines = r.stdout.splitlines()
    assert lines[0] == "600 root root" and lines[1] == "700 root root", r.stdout
    assert lines[2] == "False hybrid-lab True", r.stdout  # Ansible, not the installer, reboots (disabled here)
    assert json.loads(lines[3])["userdata"] == f"{AGENT_DIR}/user-data"


@pytest.mark.lab
def test_rerun_changes_nothing_and_does_not_reinstall(site):
    cfg, host = site["cfg"], site["host"]
    stamp = _ssh(cfg, host, f"systemctl show -p InvocationID --value {UNIT_NAME}; stat -c %Y {STANDIN_STATE}/installed.json")
    code, output = _play(cfg, _vars(site))
    assert code == 0, output
    assert _recap(output)[HOST]["changed"] == 0, output
    code, output = _play(cfg, _vars(site), "--check")
    assert code == 0, output
    assert _recap(output)[HOST]["changed"] == 0, output
    again = _ssh(cfg, host, f"systemctl show -p InvocationID --value {UNIT_NAME}; stat -c %Y {STANDIN_STATE}/installed.json")
    assert again.stdout == stamp.stdout and stamp.stdout.strip(), (stamp.stdout, again.stdout)
