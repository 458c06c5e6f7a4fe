"""The whole workflow with the real nodeadm, kubelet and containerd: playbooks/site.yml on the real profile (root only).

The lab's real profile (hnlab.inventory.real_profile_vars): IAM Roles Anywhere with the lab site's CA, the real nodeadm
(real_nodeadm_version) with the mirror's manifest of the real artifacts, Kubernetes at the control plane's minor. Every
edge host of the running lab is prepared as the real profile prepares them (hnlab.realnode.prepare_hosts), then:
  - stages 1 to 6 (up to the join) pass; every Node is registered by its real kubelet, NotReady because no CNI runs
    yet (KubeletNotReady, the runtime's network not ready), with the pinned kubelet and containerd from Debian;
  - stages 7 and 8 (Cilium, routes) pass, and every Node is Ready: Cilium's agent (the lab's stand-in, selected by the
    DaemonSet the cilium role deployed) wrote each host's CNI configuration;
  - the validation reports PASSED;
  - and not one packet tried to leave the lab meanwhile (the egress refusal counter, hnlab.network, stays where it was):
    every AWS name the real components used was answered inside the lab.
Named to run last before the lab goes down (tests/lab/tests/conftest.py orders by file name): the hosts stay joined,
and `down` removes them with everything the run made.
"""

from __future__ import annotations

import json
import os

import pytest

from hnlab import edge, inventory, network, realnode
from hnlab.testing import REPO, network_not_ready, play, ready, recap, ssh, wait_node

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]

SITE = REPO / "playbooks" / "site.yml"
VALIDATE = REPO / "playbooks" / "validate.yml"
REGISTER_TIMEOUT, READY_TIMEOUT = 240.0, 180.0


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory):
    hosts = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"]
    realnode.prepare_hosts(lab, hosts)
    path = inventory.profile_path(lab, "real")
    if not path.exists():
        pytest.fail(f"{path} missing: the lab writes each profile's inventory at up")
    return {"inventory": path, "hosts": hosts, "reports": tmp_path_factory.mktemp("reports"),
            "refused": network.egress_refused(lab)}


def _journal(lab, host):
    return lambda: ssh(lab, host, "journalctl -u kubelet --no-pager -n 30; journalctl -u containerd --no-pager -n 10").stdout


def test_the_join_registers_every_node_not_ready_with_the_real_kubelet(lab, site):
    code, output = play(site["inventory"], SITE, "--skip-tags", "cilium,routes,validate", timeout=1800)
    assert code == 0, output[-8000:]
    assert all(stats["failed"] == 0 and stats["unreachable"] == 0 for stats in recap(output).values()), output[-4000:]
    for host in site["hosts"]:
        node = wait_node(lab, host["name"], network_not_ready, REGISTER_TIMEOUT, _journal(lab, host))
        assert node.status.node_info.kubelet_version == lab.real_kubernetes_version
        assert node.status.node_info.container_runtime_version.startswith("containerd://")
        # The real install's record: the Debian containerd, the real artifacts (nodeadm's tracker).
        tracker = ssh(lab, host, "cat /opt/nodeadm/tracker").stdout
        assert '"IamRolesAnywhere":true' in tracker.replace(" ", "") or "IamRolesAnywhere: true" in tracker, tracker


def test_cilium_makes_every_node_ready_and_the_validation_passes(lab, site):
    code, output = play(site["inventory"], SITE, "--tags", "cilium,routes", timeout=1800)
    assert code == 0, output[-8000:]
    for host in site["hosts"]:
        wait_node(lab, host["name"], ready, READY_TIMEOUT, _journal(lab, host))
    code, output = play(site["inventory"], VALIDATE, "-e", f"hybrid_validate_report_dir={site['reports']}",
                        timeout=900)
    assert code == 0, output[-8000:]
    report = json.loads((site["reports"] / "validate.json").read_text())
    assert "**Result: PASSED**" in (site["reports"] / "validate.md").read_text(), report
    assert network.egress_refused(lab) == site["refused"], "a packet tried to leave the lab during the real site run"
