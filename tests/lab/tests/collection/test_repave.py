"""playbooks/repave.yml on the lab (root only): the request is checked before anything runs, and the VPN server IP
case re-applies the route of the named host only.

Other lab tests expect hosts without the VPC route, so the route is taken off again at the end.
"""

from __future__ import annotations

import os

import pytest

from hnlab import edge
from hnlab.testing import REPO, play, recap, ssh

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

REPAVE = REPO / "playbooks" / "repave.yml"
DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"


def _route(cfg, host):
    return ssh(cfg, host, f"ip -4 route show {cfg.vpc_cidr}").stdout.strip()


def _remove_route(cfg, host):
    ssh(cfg, host, f"rm -f {DROP_IN}; rmdir {os.path.dirname(DROP_IN)} 2>/dev/null; "
                   f"ip -4 route del {cfg.vpc_cidr} 2>/dev/null; networkctl reload 2>/dev/null; true")


@pytest.fixture(scope="module")
def hosts(lab):
    found = {h["name"]: h for h in edge.load_hosts(lab) if h["kind"] == "edge"}
    if len(found) < 2:
        pytest.skip("needs two edge hosts")
    for host in found.values():
        _remove_route(lab, host)
    yield found
    for host in found.values():
        _remove_route(lab, host)


@pytest.mark.parametrize("extra, words", [
    (["-e", "hybrid_repave=everything", "--limit", "edge01"], "one of vpn_server_ip, access_management, kubernetes"),
    (["-e", "hybrid_repave=kubernetes"], "hybrid_repave_pool= one of pool_a, pool_b"),
    (["-e", "hybrid_repave=kubernetes", "-e", "hybrid_repave_pool=pool_z"], "hybrid_repave_pool= one of"),
    (["-e", "hybrid_repave=vpn_server_ip"], "name them with --limit"),
])
def test_a_bad_request_is_refused_before_anything_runs(lab, hosts, extra, words):
    rc, out = play(lab.inventory_path, REPAVE, *extra)
    assert rc != 0, out
    assert words in out, out
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert all(_route(lab, host) == "" for host in hosts.values())


def test_vpn_server_ip_repaves_the_route_of_the_named_host_only(lab, hosts):
    target, other = hosts["edge02"], hosts["edge01"]
    rc, out = play(lab.inventory_path, REPAVE, "-e", "hybrid_repave=vpn_server_ip", "--limit", "edge02")
    assert rc == 0, out
    counts = recap(out)
    assert counts["edge02"]["changed"] >= 1 and set(counts) == {"edge02"}, out
    assert _route(lab, target).startswith(f"{lab.vpc_cidr} via {lab.vpn_gateway_edge_ip}")
    assert ssh(lab, target, f"grep -q 'Gateway={lab.vpn_gateway_edge_ip}' {DROP_IN}").returncode == 0
    assert _route(lab, other) == ""

    rc, out = play(lab.inventory_path, REPAVE, "-e", "hybrid_repave=vpn_server_ip", "--limit", "edge02")
    assert rc == 0 and recap(out)["edge02"]["changed"] == 0, out
