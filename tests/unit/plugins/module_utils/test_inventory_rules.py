# -*- coding: utf-8 -*-
"""The inventory rules: each rule passing and failing, and a broken inventory reporting every problem at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.hybridnodes.eks.plugins.module_utils.controller import inventory_rules as rules

REPO = Path(__file__).resolve().parents[4]

CLUSTER = {
    "hybrid_cluster_name": "hybrid-example",
    "hybrid_region": "us-west-2",
    "hybrid_kubernetes_version": "1.31",
    "hybrid_credential_provider": "ssm",
    "hybrid_vpc_cidrs": ["10.100.0.0/16"],
    "hybrid_service_cidr": "172.20.0.0/16",
    "hybrid_remote_node_cidrs": ["10.200.0.0/16"],
    "hybrid_remote_pod_cidrs": ["192.168.0.0/16"],
    "hybrid_route_table_ids": ["rtb-0a1b2c3d4e5f60718"],
    "hybrid_nodeadm_version": "v1.0.20",
    "hybrid_validate_vpc_targets": ["10.100.0.10", "10.100.0.20:443"],
}
POOL = {
    "hybrid_node_labels": {"hybridnodes.eks/pool": "general"},
    "hybrid_node_taints": ["hybridnodes.eks/dedicated=gpu:NoSchedule", "edge:NoExecute"],
    "hybrid_ntp_servers": ["0.pool.ntp.org"],
    "hybrid_architecture": "amd64",
}
HOSTS = {
    "edge01": dict(POOL, ansible_host="10.200.1.23", hybrid_vpn_server_ip="10.200.1.1", hybrid_node_name="edge01"),
    "edge02": dict(POOL, ansible_host="10.200.1.24"),
}


def role_files(kind):
    found = {}
    for path in sorted((REPO / "roles").glob("*/%s" % kind)):
        found[path.parents[1].name] = yaml.safe_load(path.read_text())
    return found


ROLE_SPECS = dict((role, spec["argument_specs"]["main"]["options"]) for role, spec in role_files("meta/argument_specs.yml").items())
ROLE_DEFAULTS = role_files("defaults/main.yml")


def check(cluster=None, hosts=None, **kwargs):
    return rules.check_inventory(CLUSTER if cluster is None else cluster, HOSTS if hosts is None else hosts, **kwargs)


def changed_cluster(**changes):
    cluster = copy.deepcopy(CLUSTER)
    for key, value in changes.items():
        if value is None:
            cluster.pop(key, None)
        else:
            cluster[key] = value
    return cluster


def changed_host(host="edge01", **changes):
    hosts = copy.deepcopy(HOSTS)
    for key, value in changes.items():
        if value is None:
            hosts[host].pop(key, None)
        else:
            hosts[host][key] = value
    return hosts


def codes(problems):
    return sorted(item["code"] for item in problems)


def test_valid_inventory_has_no_problem():
    assert check() == []
    assert check(role_specs=ROLE_SPECS, role_defaults=ROLE_DEFAULTS) == []


@pytest.mark.parametrize("variable", ["hybrid_cluster_name", "hybrid_region", "hybrid_kubernetes_version",
                                      "hybrid_nodeadm_version", "hybrid_vpc_cidrs", "hybrid_remote_node_cidrs"])
def test_required_cluster_variables(variable):
    problems = check(changed_cluster(**{variable: None}))
    assert [(item["code"], item["variable"]) for item in problems] == [("missing", variable)]
    assert variable in problems[0]["message"] and problems[0]["fix"]


@pytest.mark.parametrize("variable,value,code", [
    ("hybrid_kubernetes_version", 1.3, "invalid"),
    ("hybrid_kubernetes_version", "1.31.2", "invalid"),
    ("hybrid_nodeadm_version", "latest", "invalid"),
    ("hybrid_nodeadm_version", "1.0.20", "invalid"),
    ("hybrid_region", "Oregon", "invalid"),
    ("hybrid_cluster_name", ["a"], "type"),
    ("hybrid_vpc_cidrs", "10.100.0.0/16", "type"),
    ("hybrid_remote_node_cidrs", [], "missing"),
    ("hybrid_service_cidr", ["172.20.0.0/16"], "type"),
    ("hybrid_credential_provider", "iam", "invalid"),
    ("hybrid_nodeadm_base_url", "http://mirror.internal:8080", "insecure"),
])
def test_cluster_values(variable, value, code):
    problems = check(changed_cluster(**{variable: value}))
    assert [(item["code"], item["variable"]) for item in problems] == [(code, variable)]


@pytest.mark.parametrize("variable,value", [
    ("hybrid_vpc_id", "vpc-123"), ("hybrid_route_table_ids", ["rtb-0a1b2c3d4e5f60718", "rt-0a1b2c3d"]),
    ("hybrid_vpn_gateway_id", "tgw-0a1b2c3d4e5f60718"), ("hybrid_transit_gateway_id", "tgw-0A1B2C3D"),
    ("hybrid_vpn_connection_id", "vpn-0a1b2c3d4e5f6071"),
])
def test_aws_ids(variable, value):
    problems = check(changed_cluster(**{variable: value}))
    assert [(item["code"], item["variable"]) for item in problems] == [("aws-id", variable)]


def test_aws_ids_of_both_lengths_pass():
    assert check(changed_cluster(hybrid_vpc_id="vpc-0a1b2c3d", hybrid_vpn_gateway_id="vgw-0a1b2c3d4e5f60718",
                                 hybrid_vpn_connection_id="vpn-0a1b2c3d4e5f60718")) == []
    assert check(changed_cluster(hybrid_transit_gateway_id="tgw-0a1b2c3d")) == []


def test_unquoted_kubernetes_version_gets_a_hint_and_a_good_float_passes():
    problems = check(changed_cluster(hybrid_kubernetes_version=1.3))
    assert "unquoted" in problems[0]["message"] and "'1.31'" in problems[0]["fix"]
    assert check(changed_cluster(hybrid_kubernetes_version=1.31)) == []


def test_iam_ra_needs_the_ca_path():
    problems = check(changed_cluster(hybrid_credential_provider="iam-ra"))
    assert [(item["code"], item["variable"]) for item in problems] == [("missing", "hybrid_iam_ra_ca_certificate_path")]
    assert check(changed_cluster(hybrid_credential_provider="iam-ra", hybrid_iam_ra_ca_certificate_path="/etc/ca.pem")) == []
    assert check(changed_cluster(hybrid_credential_provider=None)) == []  # ssm by default


def test_cidr_rules():
    problems = check(changed_cluster(hybrid_remote_pod_cidrs=["10.100.128.0/17"], hybrid_remote_node_cidrs=["10.200.0.1/16"]))
    assert codes(problems) == ["host-bits", "overlap"]
    overlap = [item for item in problems if item["code"] == "overlap"][0]
    assert "hybrid_vpc_cidrs" in overlap["message"] and "hybrid_remote_pod_cidrs" in overlap["message"]


def test_cilium_pool_must_equal_the_pod_networks():
    cluster = changed_cluster(cilium_remote_pod_cidrs=["192.168.0.0/17"])
    problems = check(cluster)
    assert [(item["code"], item["variable"]) for item in problems] == [("cilium-pool", "cilium_remote_pod_cidrs")]
    assert check(changed_cluster(cilium_remote_pod_cidrs=["192.168.0.0/16"])) == []
    hosts = changed_host(cilium_remote_pod_cidrs=["10.201.0.0/16"])
    problems = check(hosts=hosts)
    assert [(item["code"], item["host"]) for item in problems] == [("cilium-pool", "edge01")]


def test_empty_pod_networks_leave_cilium_without_a_pool():
    problems = check(changed_cluster(hybrid_remote_pod_cidrs=[]))
    assert [(item["code"], item["variable"]) for item in problems] == [("missing", "hybrid_remote_pod_cidrs")]
    assert "Cilium" in problems[0]["message"]


@pytest.mark.parametrize("mask,ok", [(25, True), (16, True), (15, False), (33, False), ("x", False)])
def test_cilium_mask_size(mask, ok):
    problems = check(changed_cluster(hybrid_pod_cidr_mask_size=mask))
    assert (problems == []) is ok
    if not ok:
        assert codes(problems) == ["cilium-mask"]


def test_node_address_inside_the_node_networks():
    problems = check(hosts=changed_host("edge02", ansible_host="10.9.0.5"))
    assert [(item["code"], item["host"], item["variable"]) for item in problems] == [("address-outside", "edge02", "ansible_host")]
    problems = check(hosts=changed_host("edge02", hybrid_node_ip="10.9.0.5"))
    assert [(item["code"], item["variable"]) for item in problems] == [("address-outside", "hybrid_node_ip")]
    problems = check(hosts=changed_host("edge02", ansible_host="edge02.example.internal"))
    assert codes(problems) == ["address-invalid"]


def test_node_addresses_and_names_are_unique():
    problems = check(hosts=changed_host("edge02", ansible_host="10.200.1.23", hybrid_node_name="edge01"))
    assert codes(problems) == ["duplicate-address", "duplicate-node-name"]
    assert all(item["host"] == "edge01, edge02" for item in problems)


@pytest.mark.parametrize("changes,code", [
    ({"hybrid_vpn_server_ip": "172.16.0.1"}, "vpn-server-ip-off-link"),
    ({"hybrid_vpn_server_ip": "10.200.2.1", "hybrid_nic_prefix": 24}, "vpn-server-ip-off-link"),
    ({"hybrid_vpn_server_ip": "10.200.1.23"}, "vpn-server-ip-self"),
    ({"hybrid_vpn_server_ip": "10.200.255.255"}, "vpn-server-ip-invalid"),
    ({"hybrid_vpn_server_ip": "vpn.example.internal"}, "vpn-server-ip-invalid"),
    ({"hybrid_vpn_server_ip": "10.200.1.1", "hybrid_nic_prefix": "wide"}, "type"),
])
def test_vpn_server_ip_must_be_on_link(changes, code):
    problems = check(hosts=changed_host(**changes))
    assert [(item["code"], item["host"]) for item in problems] == [(code, "edge01")]


def test_vpn_server_ip_on_link_passes_and_is_optional():
    assert check(hosts=changed_host(hybrid_vpn_server_ip="10.200.2.1")) == []  # inside 10.200.0.0/16
    assert check(hosts=changed_host(hybrid_vpn_server_ip="10.200.1.254", hybrid_nic_prefix=24)) == []
    assert check(hosts=changed_host(hybrid_vpn_server_ip="")) == []


@pytest.mark.parametrize("variable,value,code", [
    ("hybrid_node_labels", ["pool=general"], "type"),
    ("hybrid_node_labels", {"pool": True}, "label"),
    ("hybrid_node_labels", {"bad key!": "x"}, "label"),
    ("hybrid_node_taints", "dedicated=gpu:NoSchedule", "type"),
    ("hybrid_node_taints", ["dedicated=gpu"], "taint"),
    ("hybrid_node_taints", ["dedicated=gpu:Sometimes"], "taint"),
    ("hybrid_node_taints", ["bad key!=gpu:NoSchedule"], "taint"),
    ("hybrid_ntp_servers", "pool.ntp.org", "type"),
    ("hybrid_ntp_servers", [""], "type"),
    ("hybrid_architecture", "x86_64", "invalid"),
    ("hybrid_node_name", "Edge_01", "invalid"),
])
def test_pool_values(variable, value, code):
    problems = check(hosts=changed_host(**{variable: value}))
    assert [(item["code"], item["variable"], item["host"]) for item in problems] == [(code, variable, "edge01")]
    assert item_names(problems[0], "edge01")


@pytest.mark.parametrize("labels", [{"node-role.kubernetes.io/worker": ""}, {"app.kubernetes.io/name": "edge"},
                                    {"k8s.io/x": "y"}])
def test_labels_the_kubelet_refuses_are_refused(labels):
    problems = check(hosts=changed_host(hybrid_node_labels=labels))
    assert [(item["code"], item["variable"], item["host"]) for item in problems] == [
        ("label-restricted", "hybrid_node_labels", "edge01")]
    assert "kubectl label" in problems[0]["fix"] and list(labels)[0] in problems[0]["message"]


def test_a_label_with_a_bad_key_and_a_bad_value_reports_both():
    problems = check(hosts=changed_host(hybrid_node_labels={"bad key!": True}))
    assert [item["code"] for item in problems] == ["label", "label"]


def test_labels_the_kubelet_may_set_pass():
    assert check(hosts=changed_host(hybrid_node_labels={"node.kubernetes.io/pool": "a", "topology.kubernetes.io/zone": "z",
                                                        "example.com/role": "edge"})) == []


def iam_ra_cluster():
    return changed_cluster(hybrid_credential_provider="iam-ra", hybrid_iam_ra_ca_certificate_path="/pki/ca.pem")


def test_every_bad_node_name_is_reported_at_once_set_or_defaulted_with_iam_ra():
    hosts = {
        "Edge01": dict(POOL, ansible_host="10.200.1.21"),                                # defaulted, upper case
        "edge02": dict(POOL, ansible_host="10.200.1.22", hybrid_node_name="n" * 65),     # set, too long
        "edge03": dict(POOL, ansible_host="10.200.1.23", hybrid_node_name="edge_03"),    # set, underscore
        "edge04.site.example": dict(POOL, ansible_host="10.200.1.24"),                   # defaulted, fine
        "Edge05": dict(POOL, ansible_host="10.200.1.25", hybrid_node_name="edge05"),     # set overrides the default
    }
    problems = check(cluster=iam_ra_cluster(), hosts=hosts)
    assert [(item["code"], item["host"]) for item in problems] == [
        ("invalid", "Edge01"), ("invalid", "edge02"), ("invalid", "edge03")]
    assert "the inventory name" in problems[0]["message"] and "set hybrid_node_name for Edge01" in problems[0]["fix"]
    assert "at most 64" in problems[1]["message"]


def test_with_ssm_the_inventory_name_is_not_the_node_name():
    hosts = {"Edge01": dict(POOL, ansible_host="10.200.1.21"),
             "edge02": dict(POOL, ansible_host="10.200.1.22", hybrid_node_name="Edge_02")}
    problems = check(hosts=hosts)
    assert [(item["code"], item["host"]) for item in problems] == [("invalid", "edge02")]
    assert problems[0]["message"].startswith("edge02: hybrid_node_name='Edge_02' is not a Kubernetes node name")


def item_names(item, host):
    return item["message"].startswith(host + ":") and item["fix"]


def test_a_pool_mistake_is_reported_once_for_all_its_hosts():
    hosts = copy.deepcopy(HOSTS)
    for values in hosts.values():
        values["hybrid_node_taints"] = ["dedicated=gpu"]
    problems = check(hosts=hosts)
    assert [(item["code"], item["host"]) for item in problems] == [("taint", "edge01, edge02")]


def test_a_host_must_not_override_a_cluster_variable():
    problems = check(hosts=changed_host(hybrid_remote_node_cidrs=["10.200.1.0/24"]))
    assert [(item["code"], item["variable"], item["host"]) for item in problems] == [
        ("host-override", "hybrid_remote_node_cidrs", "edge01")]
    assert check(hosts=changed_host(hybrid_region="us-west-2")) == []  # the same value is harmless


def test_no_host_is_a_problem():
    assert codes(check(hosts={})) == ["missing-hosts"]


def test_role_inputs_follow_the_argument_specs():
    inputs = rules.role_inputs(ROLE_SPECS, ROLE_DEFAULTS)
    assert ("nodeadm", "nodeadm_proxy") in [(role, option) for role, option, dummy in inputs["hybrid_proxy"]]
    assert ("cilium", "cilium_remote_pod_cidrs") in [(role, option) for role, option, dummy in inputs["hybrid_remote_pod_cidrs"]]
    cluster = changed_cluster(nodeadm_retries="many", cilium_method="kubectl")
    hosts = changed_host(host_prep_swap_off="maybe")
    problems = check(cluster, hosts, role_specs=ROLE_SPECS, role_defaults=ROLE_DEFAULTS)
    assert sorted((item["code"], item["variable"], item.get("host")) for item in problems) == [
        ("role-input", "cilium_method", None), ("role-input", "host_prep_swap_off", "edge01"),
        ("role-input", "nodeadm_retries", None)]
    method = [item for item in problems if item["variable"] == "cilium_method"][0]
    assert "roles/cilium/meta/argument_specs.yml" in method["message"] and "helm, manifest" in method["fix"]
    # Values the role accepts (Ansible converts them) are no problem.
    assert check(changed_cluster(nodeadm_retries="3"), role_specs=ROLE_SPECS, role_defaults=ROLE_DEFAULTS) == []


def test_a_secret_refused_by_its_argument_spec_is_never_quoted():
    specs = {"myrole": {"myrole_pin": {"type": "int", "no_log": True}, "myrole_mode": {"type": "str", "choices": ["a"],
                                                                                       "no_log": True}}}
    defaults = {"myrole": {"myrole_pin": "{{ hybrid_pin }}", "myrole_mode": "{{ hybrid_mode }}"}}
    problems = check(changed_cluster(hybrid_pin="Pa55-not-for-screens", hybrid_mode="Se3cret-mode"),
                     role_specs=specs, role_defaults=defaults)
    assert sorted(item["variable"] for item in problems) == ["hybrid_mode", "hybrid_pin"]
    text = str(problems)
    assert "Pa55-not-for-screens" not in text and "Se3cret-mode" not in text and "********" in text


def test_a_hybrid_variable_is_checked_against_the_role_option_it_feeds():
    specs = {"myrole": {"myrole_count": {"type": "int", "description": "d", "default": "{{ hybrid_count }}"},
                        "myrole_name": {"type": "str"}}}
    defaults = {"myrole": {"myrole_count": "{{ hybrid_count | default(1) }}", "myrole_name": "x-{{ hybrid_name }}"}}
    assert rules.role_inputs(specs, defaults)["hybrid_count"] == [("myrole", "myrole_count", specs["myrole"]["myrole_count"])]
    assert "hybrid_name" not in rules.role_inputs(specs, defaults)  # composed, not mapped
    hosts = copy.deepcopy(HOSTS)
    for values in hosts.values():
        values["hybrid_count"] = "lots"
    problems = check(changed_cluster(hybrid_count=[1]), hosts, role_specs=specs, role_defaults=defaults)
    assert [(item["code"], item["variable"], item.get("host")) for item in problems] == [
        ("role-input", "hybrid_count", "edge01, edge02"), ("role-input", "hybrid_count", None)]
    assert "role myrole's myrole_count" in problems[0]["message"] and "'lots'" in problems[0]["message"]
    assert "type int" in problems[0]["fix"]


def test_a_broken_inventory_reports_every_problem_at_once():
    cluster = changed_cluster(hybrid_remote_pod_cidrs=["10.100.128.0/17"], hybrid_credential_provider="iam-ra",
                              hybrid_kubernetes_version="1.3", nodeadm_retries="many")
    hosts = copy.deepcopy(HOSTS)
    hosts["edge01"].update(hybrid_vpn_server_ip="172.16.0.1", hybrid_node_taints=["dedicated=gpu"])
    hosts["edge02"].update(ansible_host="10.9.0.5", hybrid_architecture="x86_64")
    problems = check(cluster, hosts, role_specs=ROLE_SPECS, role_defaults=ROLE_DEFAULTS)
    assert codes(problems) == sorted(["invalid", "missing", "overlap", "vpn-server-ip-off-link", "taint",
                                      "address-outside", "invalid", "role-input"])
    for item in problems:
        assert item["message"] and item["fix"]


def test_one_gateway_target_for_the_route_tables():
    both = changed_cluster(hybrid_vpn_gateway_id="vgw-0a1b2c3d4e5f60718", hybrid_transit_gateway_id="tgw-0a1b2c3d4e5f60718")
    problems = check(both)
    assert [(item["code"], item["variable"]) for item in problems] == [("conflict", "hybrid_transit_gateway_id")]
    assert "remove the other" in problems[0]["fix"]
    assert check(changed_cluster(hybrid_vpn_gateway_id="vgw-0a1b2c3d4e5f60718")) == []
    assert check(changed_cluster(hybrid_transit_gateway_id="tgw-0a1b2c3d4e5f60718")) == []


@pytest.mark.parametrize("value, code", [(None, "missing"), ([], "missing"), ("10.100.0.10", "type")])
def test_validation_needs_what_the_edge_hosts_must_reach(value, code):
    problems = check(changed_cluster(hybrid_validate_vpc_targets=value))
    assert [(item["code"], item["variable"]) for item in problems] == [(code, "hybrid_validate_vpc_targets")]


def test_an_http_nodeadm_mirror_only_when_allowed():
    http = {"hybrid_nodeadm_base_url": "http://mirror.internal:8080"}
    assert check(changed_cluster(hybrid_nodeadm_allow_insecure_url=True, **http)) == []
    assert check(changed_cluster(hybrid_nodeadm_base_url="https://mirror.internal")) == []
    (problem,) = check(changed_cluster(**http))
    assert "is not https" in problem["message"] and "hybrid_nodeadm_allow_insecure_url" in problem["fix"]


def test_crl_state_other_than_present_or_absent_is_refused_on_the_controller():
    """hybrid_iam_ra_crl_state feeds aws_prerequisites_iam_ra_crl_state: a typo must not reach the role, where
    anything but absent would quietly keep the CRL."""
    assert ("aws_prerequisites", "aws_prerequisites_iam_ra_crl_state") in [
        (role, option) for role, option, dummy in rules.role_inputs(ROLE_SPECS, ROLE_DEFAULTS)["hybrid_iam_ra_crl_state"]]
    problems = check(changed_cluster(hybrid_iam_ra_crl_state="remove"), role_specs=ROLE_SPECS, role_defaults=ROLE_DEFAULTS)
    assert [(item["code"], item["variable"]) for item in problems] == [("role-input", "hybrid_iam_ra_crl_state")]
    # The words tests/lab/tests/collection/test_reliability_bad_input.py (case iam-ra-crl-state-typo) expects from site.yml.
    assert ("hybrid_iam_ra_crl_state='remove' (role aws_prerequisites's aws_prerequisites_iam_ra_crl_state) is refused "
            "by roles/aws_prerequisites") in problems[0]["message"]
    assert problems[0]["fix"].startswith("Give hybrid_iam_ra_crl_state a value of type str")
    assert "present, absent" in problems[0]["fix"]
    assert check(changed_cluster(hybrid_iam_ra_crl_state="absent", hybrid_iam_ra_crl_path="/pki/ca.crl"),
                 role_specs=ROLE_SPECS, role_defaults=ROLE_DEFAULTS) == []


def test_a_new_cluster_variable_is_one_entry_of_the_table(monkeypatch):
    monkeypatch.setitem(rules.CLUSTER_SPEC, "hybrid_example_zone", {
        "required": True, "type": "str", "pattern": rules.re.compile(r"^[a-z]+$"),
        "missing_fix": "Set {variable}.", "invalid": "{variable}={value!r} is not a zone ({type_name}).",
        "fix": "Use lower-case letters."})
    assert [(found["code"], found["message"], found["fix"]) for found in rules.check_cluster(CLUSTER)] == [
        ("missing", "hybrid_example_zone is not set; the cluster needs it.", "Set hybrid_example_zone.")]
    assert [found["message"] for found in rules.check_cluster(dict(CLUSTER, hybrid_example_zone=["a"]))] == [
        "hybrid_example_zone=['a'] is not a zone (a list)."]
    assert [found["code"] for found in rules.check_cluster(dict(CLUSTER, hybrid_example_zone="Zone-1"))] == ["invalid"]
    assert rules.check_cluster(dict(CLUSTER, hybrid_example_zone="zone")) == []


def test_the_cluster_spec_gives_the_wrong_type_its_own_words_and_checks_list_items():
    spec = {"type": "list", "elements": "str", "type_message": "{variable} is {type_name}.", "type_fix": "List it."}
    assert rules.check_variable({"v": ["a", 1]}, "v", spec) == [
        {"code": "type", "message": "v is a list.", "fix": "List it.", "variable": "v"}]
    assert rules.check_variable({"v": ["a"]}, "v", spec) == rules.check_variable({}, "v", spec) == []
    choices = {"default": "a", "not_set": (), "choices": ("a", "b"), "invalid": "{value!r} not in {choices}.", "fix": "f"}
    assert rules.check_variable({}, "v", choices) == []
    assert rules.check_variable({"v": None}, "v", choices)[0]["message"] == "None not in a, b."


def test_the_credential_provider_inputs_come_from_its_registry_entry(monkeypatch):
    from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import credential_providers
    monkeypatch.setitem(credential_providers.PROVIDERS["ssm"], "inventory_inputs", {"hybrid_ssm_example": "Set it."})
    for value in (None, "", 5, ["a"]):
        assert rules.check_cluster(dict(CLUSTER, hybrid_ssm_example=value)) == [
            {"code": "missing", "message": "hybrid_ssm_example is not set; the cluster needs it.", "fix": "Set it.",
             "variable": "hybrid_ssm_example"}]
    assert rules.check_cluster(dict(CLUSTER, hybrid_ssm_example="a")) == []


def test_the_cluster_variables_are_the_table_but_the_validate_targets():
    assert set(rules.CLUSTER_VARIABLES) == set(rules.CLUSTER_SPEC) - {"hybrid_validate_vpc_targets"}
    assert rules.AWS_ID_PREFIXES == (("hybrid_vpc_id", "vpc"), ("hybrid_route_table_ids", "rtb"),
                                     ("hybrid_vpn_gateway_id", "vgw"), ("hybrid_transit_gateway_id", "tgw"),
                                     ("hybrid_vpn_connection_id", "vpn"))
