# -*- coding: utf-8 -*-
"""The product carries no lab default (issue 19): what ships (plugins/, roles/, playbooks/, meta/, ansible.cfg and the
documented example inventory) names no value that exists only in the test lab (tests/lab/hnlab/config.py), neither as
a default nor in an example. Examples use inventories/example's names (cluster hybrid-example, hosts edge-a01...).

Not markers, because the example inventory uses them too (they are the EKS architecture page's networks and AWS's
documentation values, which the lab copies): 10.200.0.0/16 and addresses in it such as 10.200.0.34, 10.100.0.0/16,
192.168.0.0/16, 172.20.0.0/16, us-west-2, account 123456789012. The lab's own addresses inside those networks are."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED = ("plugins", "roles", "playbooks", "meta", "ansible.cfg", os.path.join("inventories", "example"))
SKIP_DIRS = {"__pycache__"}
# What only the lab has: its cluster, package, prefix and state directory, its runner, its loopback services (moto,
# the emulated AWS endpoint), its hosts, and its addresses (edge gateway, mirror, hosts .11 and up, VPN gateway;
# cloud worker and cluster endpoint in the VPC).
LAB_MARKERS = {
    "the lab's cluster name": r"hybrid-lab\b",
    "the lab's package": r"\bhnlab\b",
    "the lab's name prefix": r"\bhnl-",
    "the lab's state directory": r"hybridnodes-lab",
    "the lab's runner": r"\blabctl\b",
    "the lab's AWS endpoint or moto port": r":(4566|5055)\b",
    "a lab host's name": r"\bedge0\d\b",
    "the lab's edge gateway, mirror, hosts or VPN gateway": r"\b10\.200\.0\.(1|2|1\d|254)\b(?!/)",
    "the lab's cloud worker or cluster endpoint": r"\b10\.100\.0\.(10|20)\b(?!/)",
}
PATTERN = re.compile("|".join("(?P<m%d>%s)" % (index, regex) for index, regex in enumerate(LAB_MARKERS.values())))
NAMES = list(LAB_MARKERS)


def shipped_files():
    found = []
    for entry in SHIPPED:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            found.append(path)
        for top, dirs, files in os.walk(path):
            dirs[:] = sorted(name for name in dirs if name not in SKIP_DIRS)
            found.extend(os.path.join(top, name) for name in sorted(files) if not name.endswith(".pyc"))
    return found


def lab_names(text):
    """(line number, marker description, text found) for every lab marker in text."""
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in PATTERN.finditer(line):
            index = int(match.lastgroup[1:])
            hits.append((number, NAMES[index], match.group(0)))
    return hits


def test_the_shipped_files_are_found():
    names = {os.path.relpath(path, ROOT) for path in shipped_files()}
    for expected in ("ansible.cfg", "plugins/modules/ssm_activation.py", "roles/cilium/defaults/main.yml",
                     "playbooks/site.yml", "meta/runtime.yml", "inventories/example/hosts.yml"):
        assert expected in names


@pytest.mark.parametrize("text, marker", [
    ("cluster_name: hybrid-lab", "the lab's cluster name"),
    ("arn:aws:eks:us-west-2:123456789012:cluster/hybrid-lab", "the lab's cluster name"),
    ("python -m hnlab up", "the lab's package"),
    ("ip link del hnl-edge", "the lab's name prefix"),
    ("state: /var/lib/hybridnodes-lab/state.json", "the lab's state directory"),
    ("tests/lab/labctl.py up", "the lab's runner"),
    ("endpoint_url: http://localhost:4566", "the lab's AWS endpoint or moto port"),
    ("endpoint_url: http://127.0.0.1:5055", "the lab's AWS endpoint or moto port"),
    ('endpoints: ["10.100.0.20:443"]', "the lab's cloud worker or cluster endpoint"),
    ("--limit edge03", "a lab host's name"),
    ('endpoints: ["10.200.0.2:8080"]', "the lab's edge gateway, mirror, hosts or VPN gateway"),
    ("--node-ip=10.200.0.11", "the lab's edge gateway, mirror, hosts or VPN gateway"),
    ("hybrid_vpn_server_ip: 10.200.0.254", "the lab's edge gateway, mirror, hosts or VPN gateway"),
    ("targets: [10.100.0.10]", "the lab's cloud worker or cluster endpoint"),
])
def test_a_lab_name_is_found(text, marker):
    assert [hit[1] for hit in lab_names(text)] == [marker]


@pytest.mark.parametrize("text", [
    "hybrid_cluster_name: hybrid-example",
    "hybrid_remote_node_cidrs: [10.200.0.0/16]",
    "ansible_host: 10.200.0.34",
    "hybrid_vpc_cidrs: [10.100.0.0/16]",
    "targets: [10.100.10.25, '10.100.10.40:443']",
    "--limit edge-a01,edge-b01",
    "arn:aws:iam::123456789012:role/hybrid-example-hybrid-nodes",
    "region: us-west-2",
    "10.200.0.100",
    "a lab-grown example",
])
def test_an_example_name_is_not_a_lab_name(text):
    assert lab_names(text) == []


@pytest.mark.parametrize("path", shipped_files(), ids=lambda path: os.path.relpath(path, ROOT))
def test_no_shipped_file_names_the_lab(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError:
        pytest.skip("not a text file")
    hits = lab_names(text)
    assert not hits, "%s names the test lab's values; use inventories/example's names instead: %s" % (
        os.path.relpath(path, ROOT), "; ".join("line %d: %s (%s)" % hit for hit in hits))
