"""Cilium operator stand-in (hnlab.cilium_operator): cluster-pool allocation as pure functions.

The reconcile loop against a live API server is exercised by the lab-only
test in test_standin_apiserver.py.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from hnlab import cilium_operator as op

POOL = op.parse_pool("192.168.0.0/16")


def test_parse_pool_accepts_lists():
    assert [str(n) for n in op.parse_pool("10.0.0.0/24, 10.1.0.0/24 10.2.0.0/24")] == \
        ["10.0.0.0/24", "10.1.0.0/24", "10.2.0.0/24"]
    with pytest.raises(ValueError):
        op.parse_pool("  ")


def test_allocate_first_free_block():
    assert op.allocate(POOL, 25, set()) == "192.168.0.0/25"
    assert op.allocate(POOL, 25, {"192.168.0.0/25"}) == "192.168.0.128/25"
    # holes are reused
    assert op.allocate(POOL, 25, {"192.168.0.128/25"}) == "192.168.0.0/25"
    # a foreign, larger allocation blocks every /25 inside it
    assert op.allocate(POOL, 25, {"192.168.0.0/24"}) == "192.168.1.0/25"
    with pytest.raises(ValueError):
        op.allocate(POOL, 8, set())


def test_plan_non_overlapping_and_stable():
    nodes = {f"mi-{i:02d}": f"10.200.0.{10 + i}" for i in range(1, 6)}
    first = op.plan(POOL, 25, nodes, {})
    cidrs = list(first["create"].values())
    assert len(set(cidrs)) == 5
    nets = [ipaddress.ip_network(c) for c in cidrs]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert all(n.subnet_of(POOL[0]) and n.prefixlen == 25 for n in nets)
    # restart: existing CiliumNodes are read back and kept; nothing new is allocated
    existing = {n: [c] for n, c in first["create"].items()}
    again = op.plan(POOL, 25, nodes, existing)
    assert again["create"] == {} and again["keep"] == first["create"] and again["delete"] == []
    # a new node gets the next free block, the old ones keep theirs
    nodes["mi-99"] = "10.200.0.99"
    more = op.plan(POOL, 25, nodes, existing)
    assert list(more["create"]) == ["mi-99"] and more["create"]["mi-99"] not in cidrs
    assert more["keep"] == first["create"]


def test_plan_deletes_ciliumnodes_of_gone_nodes_and_reuses_their_block():
    existing = {"mi-a": ["192.168.0.0/25"], "mi-b": ["192.168.0.128/25"]}
    result = op.plan(POOL, 25, {"mi-b": "10.200.0.12", "mi-c": "10.200.0.13"}, existing)
    assert result["delete"] == ["mi-a"]
    assert result["keep"] == {"mi-b": "192.168.0.128/25"}
    assert result["create"] == {"mi-c": "192.168.0.0/25"}


def test_exhaustion_is_reported_per_node():
    small = op.parse_pool("192.168.0.0/24")
    nodes = {"a": "10.200.0.11", "b": "10.200.0.12", "c": "10.200.0.13"}
    result = op.plan(small, 25, nodes, {})
    assert result["create"] == {"a": "192.168.0.0/25", "b": "192.168.0.128/25"}
    assert list(result["errors"]) == ["c"] and "no free /25" in result["errors"]["c"]
    with pytest.raises(op.PoolExhausted):
        op.allocate(small, 25, {"192.168.0.0/25", "192.168.0.128/25"})


def test_ciliumnode_manifest():
    m = op.ciliumnode_manifest("mi-01", "192.168.3.128/25", "10.200.0.11", owner_uid="u-1")
    assert m["apiVersion"] == "cilium.io/v2" and m["kind"] == "CiliumNode"
    assert m["spec"]["ipam"]["podCIDRs"] == ["192.168.3.128/25"]
    assert m["spec"]["addresses"] == [{"type": "InternalIP", "ip": "10.200.0.11"},
                                      {"type": "CiliumInternalIP", "ip": "192.168.3.129"}]
    assert m["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert m["metadata"]["labels"]["eks.amazonaws.com/compute-type"] == "hybrid"


# ------------------------------------------------ the agent: DaemonSet node selection (pure)
HYBRID_POD_SPEC = {
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["hybrid"]}]}]}}},
    "tolerations": [{"operator": "Exists"}],
}


def test_daemonset_selects_hybrid_nodes_by_affinity():
    hybrid = {"eks.amazonaws.com/compute-type": "hybrid", "kubernetes.io/os": "linux"}
    assert op.daemonset_selects(HYBRID_POD_SPEC, hybrid, [])
    assert not op.daemonset_selects(HYBRID_POD_SPEC, {"eks.amazonaws.com/compute-type": "ec2"}, [])
    assert not op.daemonset_selects(HYBRID_POD_SPEC, {}, [])
    # terms are ORed, expressions within one term ANDed
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "DoesNotExist"}]},
        {"matchExpressions": [{"key": "c", "operator": "NotIn", "values": ["x"]}]}]}}}}
    assert op.daemonset_selects(spec, {"a": "1"}, [])
    assert not op.daemonset_selects(spec, {"a": "1", "b": "2", "c": "x"}, [])
    assert op.daemonset_selects(spec, {"c": "y"}, [])
    # a nodeSelector must match too
    assert not op.daemonset_selects({"nodeSelector": {"pool": "gpu"}}, {"pool": "general"}, [])


def test_daemonset_selection_respects_taints():
    hybrid = {"eks.amazonaws.com/compute-type": "hybrid"}
    taint = {"key": "dedicated", "value": "edge", "effect": "NoSchedule"}
    assert op.daemonset_selects(HYBRID_POD_SPEC, hybrid, [taint])  # tolerates everything
    narrow = dict(HYBRID_POD_SPEC, tolerations=[{"key": "other", "operator": "Exists"}])
    assert not op.daemonset_selects(narrow, hybrid, [taint])
    assert op.daemonset_selects(narrow, hybrid, [dict(taint, effect="PreferNoSchedule")])
    equal = dict(HYBRID_POD_SPEC, tolerations=[{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}])
    assert op.daemonset_selects(equal, hybrid, [taint])


def test_write_cni_conf_once(tmp_path):
    assert op.write_cni_conf(tmp_path)
    conf = tmp_path / op.CNI_CONF.lstrip("/")
    assert json.loads(conf.read_text())["plugins"][0]["type"] == "cilium-cni"
    conf.write_text("{}")
    assert not op.write_cni_conf(tmp_path) and conf.read_text() == "{}"
