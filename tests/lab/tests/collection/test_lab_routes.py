"""Cilium and the routes of the hybrid networks on the running lab (root only).

In file order, with every edge host of the running lab:
  - playbooks/join.yml joins the hosts; playbooks/cilium.yml with the manifest method (the manifest the lab
    renders, hnlab.cilium_manifest, passed with -e so that this works before and after a lab re-up) applies the
    CiliumNode CRD, cilium-config with the pool = the remote pod CIDRs, and the agent DaemonSet and operator
    Deployment with the hybrid node affinity; a re-run reports changed=0; a pod CIDR pool other than the
    deployed one is refused before anything is changed;
  - playbooks/routes.yml puts the hybrid node and pod CIDRs in the VPC route tables and on the VPN connection in
    the emulator, and on the VPN gateway vpngw one route `<podCIDR> via <node InternalIP>` per node, persisted in
    its networkd drop-in; the cloud worker then pings the stand-in pod address of every node (it did not before);
    a re-run reports changed=0 and makes no AWS write;
  - a Node deleted from the API (its kubelet stopped) loses exactly its pod route on vpngw at the next run.
Everything is undone at the end (nodeadm, Nodes, CiliumNodes, Cilium's objects, routes on the edge hosts and on
vpngw and their files, the VPC and VPN routes in the emulator, the IAM role, its access entry and activations),
since other lab tests expect a clean lab.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import time
import uuid

import pytest
import yaml

from hnlab.testing import REPO, light_inventory, play, recap as _recap, ssh as _ssh
from hnlab import cilium_manifest, edge, k8s, netns, testing
from hnlab.aws.clients import client
from hnlab.aws.labapi import LabApi

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

# On the light profile's inventory (hnlab.testing.light_inventory): it runs join.yml alone, and the real profile's IAM
# Roles Anywhere join needs the ARNs and the cluster's remote networks that site.yml's aws stage makes (the real
# nodeadm refuses a cluster without remote networks, as EKS does: configenricher.go). The real join, certificates
# included, is test_zy_real_site.py's site run.

JOIN = REPO / "playbooks" / "join.yml"
CILIUM = REPO / "playbooks" / "cilium.yml"
ROUTES = REPO / "playbooks" / "routes.yml"
NODEADM = "/usr/local/bin/nodeadm"
EDGE_DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
POD_DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes-pods.conf"
COMPUTE_TYPE = "eks.amazonaws.com/compute-type"
POD_OFFSET = 10  # the kubelet stand-in puts the 10th address of the node's pod CIDR on cilium_host


def _play(cfg, playbook, *extra, timeout=900):
    return play(light_inventory(cfg), playbook, *extra, timeout=timeout)


def _wait(what, probe, timeout=60.0, interval=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _worker_ping(cfg, address):
    """One ping from the cloud worker (in the VPC), bounded to two seconds."""
    return netns.run(["ping", "-c", "1", "-W", "2", address], netns=cfg.netns_worker, check=False).returncode == 0


def _kube():
    from kubernetes import client as kube

    return kube


def _nodes_by_ip(cfg, ips):
    kube = _kube()
    with k8s.api_client(cfg) as api:
        nodes = kube.CoreV1Api(api).list_node().items
    found = {}
    for node in nodes:
        for address in node.status.addresses or []:
            if address.type == "InternalIP" and address.address in ips:
                found[address.address] = node
    return found


def _ciliumnodes(cfg):
    """{name: podCIDRs} of every CiliumNode (empty when the CRD does not exist)."""
    kube = _kube()
    from kubernetes.client.rest import ApiException

    with k8s.api_client(cfg) as api:
        try:
            items = kube.CustomObjectsApi(api).list_cluster_custom_object("cilium.io", "v2", "ciliumnodes")["items"]
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise
    return {c["metadata"]["name"]: ((c.get("spec") or {}).get("ipam") or {}).get("podCIDRs") or [] for c in items}


def _inventory_vars(cfg):
    return yaml.safe_load(light_inventory(cfg).read_text())["all"]["vars"]


def _aws_routes(cfg, ids):
    """({(table, cidr): target}, {vpn route cidr}) of the lab's route tables and VPN connection."""
    ec2 = client(cfg, "ec2")
    tables = {}
    for table in ec2.describe_route_tables(RouteTableIds=ids["route_tables"])["RouteTables"]:
        for route in table.get("Routes") or []:
            if route.get("DestinationCidrBlock"):
                tables[(table["RouteTableId"], route["DestinationCidrBlock"])] = (
                    route.get("GatewayId") or route.get("TransitGatewayId") or route.get("NetworkInterfaceId"))
    vpn = ec2.describe_vpn_connections(VpnConnectionIds=[ids["vpn_connection"]])["VpnConnections"][0]
    return tables, {r["DestinationCidrBlock"] for r in vpn.get("Routes") or [] if r.get("State") != "deleted"}


def _gateway_pod_routes(cfg, gateway):
    """{podCIDR: next hop} of the routes inside the pod network on vpngw (from `ip -j route`)."""
    out = _ssh(cfg, gateway, f"ip -j -4 route show root {cfg.pod_cidr}")
    assert out.returncode == 0, out.stderr
    return {r["dst"]: r.get("gateway") for r in json.loads(out.stdout or "[]")}


def _cleanup(cfg, site):
    hosts, gateway, role_name = site["hosts"], site["gateway"], site["role"]
    vpc_route = f"{cfg.vpc_cidr} via {cfg.vpn_gateway_edge_ip}"
    # The agent DaemonSet first: while it selects a Node, the lab's Cilium stand-in writes its CNI configuration again.
    testing.cilium_agent_daemonset(cfg, present=False)
    for host in hosts:
        _ssh(cfg, host, f"[ -x {NODEADM} ] && {NODEADM} uninstall --skip pod-validation,node-validation; "
                        f"rm -f {NODEADM} {EDGE_DROP_IN}; rm -rf /etc/nodeadm /var/lib/amazon/ssm; "
                        f"rmdir {os.path.dirname(EDGE_DROP_IN)} /opt/cni /var/lib/amazon /etc/eks /var/lib/nodeadm-standin "
                        f"2>/dev/null; ip route del {vpc_route} 2>/dev/null; "
                        f"ip link del cilium_host 2>/dev/null; {testing.CNI_CLEANUP}; networkctl reload; true", timeout=180)
    # vpngw: the pod routes and their drop-in.
    for dst in _gateway_pod_routes(cfg, gateway):
        _ssh(cfg, gateway, f"ip -4 route del {dst}")
    _ssh(cfg, gateway, f"rm -f {POD_DROP_IN}; rmdir {os.path.dirname(POD_DROP_IN)} 2>/dev/null; networkctl reload; true")

    kube = _kube()
    from kubernetes.client.rest import ApiException

    ips = {host["ip"] for host in hosts}
    with k8s.api_client(cfg) as api:
        core = kube.CoreV1Api(api)
        for node in _nodes_by_ip(cfg, ips).values():
            try:
                core.delete_node(node.metadata.name)
            except ApiException:
                pass
    # Cilium's objects (all of the manifest but the CRD, which goes after its CiliumNodes if this test made it).
    objects = [doc for doc in cilium_manifest.build([cfg.pod_cidr], cfg.pod_mask_size)
               if doc["kind"] != "CustomResourceDefinition"]
    subprocess.run([str(cfg.kubectl_binary), "--kubeconfig", str(cfg.kubeconfig), "delete", "--ignore-not-found",
                    "--wait=false", "-f", "-"], input=yaml.safe_dump_all(objects), capture_output=True, text=True,
                   timeout=60, check=False)
    if k8s.ciliumnode_crd_exists(cfg):
        with k8s.api_client(cfg) as api:
            custom = kube.CustomObjectsApi(api)
            for name in list(_ciliumnodes(cfg)):
                if name in site["node_names"].values() or name not in site["ciliumnodes_before"]:
                    try:
                        custom.delete_cluster_custom_object("cilium.io", "v2", "ciliumnodes", name)
                    except ApiException:
                        pass
            if not site["crd_before"]:
                try:
                    kube.ApiextensionsV1Api(api).delete_custom_resource_definition("ciliumnodes.cilium.io")
                except ApiException:
                    pass
        if not site["crd_before"]:
            try:
                _wait("the CiliumNode CRD to go", lambda: not k8s.ciliumnode_crd_exists(cfg), timeout=30)
            except AssertionError:
                pass

    # The emulator: the VPC and VPN routes this test made.
    ec2 = client(cfg, "ec2")
    tables, vpn = _aws_routes(cfg, site["ids"])
    for (table, cidr) in tables:
        if (table, cidr) not in site["aws_before"][0] and cidr in site["ids"]["cidrs"]:
            ec2.delete_route(RouteTableId=table, DestinationCidrBlock=cidr)
    for cidr in vpn - site["aws_before"][1]:
        ec2.delete_vpn_connection_route(VpnConnectionId=site["ids"]["vpn_connection"], DestinationCidrBlock=cidr)

    ssm, iam, eks = client(cfg, "ssm"), client(cfg, "iam"), client(cfg, "eks")
    for activation in ssm.describe_activations()["ActivationList"]:
        if activation.get("IamRole") == role_name:
            ssm.delete_activation(ActivationId=activation["ActivationId"])
    for instance in ssm.describe_instance_information()["InstanceInformationList"]:
        if instance.get("IamRole") == role_name:
            ssm.deregister_managed_instance(InstanceId=instance["InstanceId"])
    arn = f"arn:aws:iam::{cfg.account_id}:role/{role_name}"
    try:
        eks.delete_access_entry(clusterName=cfg.cluster_name, principalArn=arn)
    except Exception:  # noqa: BLE001 - cleanup is best effort, each step on its own
        pass
    try:
        iam.delete_role(RoleName=role_name)
    except Exception:  # noqa: BLE001
        pass


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory):
    """The edge hosts, vpngw, a hybrid nodes role with a HYBRID_LINUX access entry and the lab's rendered Cilium
    manifest; the emulator's routes and the CRD as found, to restore them; everything undone at the end."""
    hosts = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "edge"]
    gateway = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "vpngw"][0]
    inv = _inventory_vars(lab)
    ids = {"route_tables": inv["hybrid_route_table_ids"], "vpn_connection": inv["hybrid_vpn_connection_id"],
           "vpn_gateway": inv["hybrid_vpn_gateway_id"],
           "cidrs": inv["hybrid_remote_node_cidrs"] + inv["hybrid_remote_pod_cidrs"]}
    assert ids["route_tables"] and ids["vpn_connection"] and ids["vpn_gateway"], inv
    assert _nodes_by_ip(lab, {h["ip"] for h in hosts}) == {}, "the lab is not clean: edge hosts are Nodes already"
    assert _gateway_pod_routes(lab, gateway) == {}, "the lab is not clean: vpngw has pod routes already"
    manifest = cilium_manifest.write(lab, tmp_path_factory.mktemp("cilium") / "cilium.yaml")
    role_name = f"lab-routes-{uuid.uuid4().hex[:8]}"
    state = {"hosts": hosts, "gateway": gateway, "role": role_name, "ids": ids, "manifest": manifest,
             "aws_before": _aws_routes(lab, ids), "crd_before": k8s.ciliumnode_crd_exists(lab), "ciliumnodes_before": _ciliumnodes(lab),
             "node_names": {}}
    try:
        arn = client(lab, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=arn, type="HYBRID_LINUX")
        state["join"] = ["-e", f"hybrid_iam_role_name={role_name}", "-e", "nodeadm_retry_delay=1"]
        state["cilium"] = ["-e", json.dumps({"cilium_method": "manifest", "cilium_manifest_path": str(manifest),
                                             "cilium_wait_rollout": False, "cilium_crd_wait_timeout": 60})]
        yield state
    finally:
        _cleanup(lab, state)


def _cilium_objects(cfg):
    kube = _kube()
    with k8s.api_client(cfg) as api:
        apps, core = kube.AppsV1Api(api), kube.CoreV1Api(api)
        return (core.read_namespaced_config_map("cilium-config", "kube-system"),
                apps.read_namespaced_daemon_set("cilium", "kube-system"),
                apps.read_namespaced_deployment("cilium-operator", "kube-system"))


def _hybrid_affinity(pod_spec):
    terms = pod_spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    return [[(e.key, e.operator, e.values) for e in term.match_expressions] for term in terms]


def test_join_then_cilium_with_the_manifest_method(lab, site):
    code, output = _play(lab, JOIN, *site["join"])
    assert code == 0, output
    nodes = _nodes_by_ip(lab, {h["ip"] for h in site["hosts"]})
    assert sorted(nodes) == sorted(h["ip"] for h in site["hosts"]), output
    site["node_names"].update({ip: node.metadata.name for ip, node in nodes.items()})

    code, output = _play(lab, CILIUM, *site["cilium"])
    assert code == 0, output
    assert _recap(output)["localhost"]["changed"] == 1, output  # the one apply of the manifest
    config, agent, operator = _cilium_objects(lab)
    assert config.data["ipam"] == "cluster-pool"
    assert config.data["cluster-pool-ipv4-cidr"].split() == _inventory_vars(lab)["hybrid_remote_pod_cidrs"]
    assert config.data["cluster-pool-ipv4-mask-size"] == str(lab.pod_mask_size)
    assert config.data["external-envoy-proxy"] == "false"
    hybrid = [[(COMPUTE_TYPE, "In", ["hybrid"])]]
    assert _hybrid_affinity(agent.spec.template.spec) == hybrid
    assert _hybrid_affinity(operator.spec.template.spec) == hybrid
    assert operator.spec.replicas == 1
    assert sorted(t.key for t in operator.spec.template.spec.tolerations) == [
        "node.cilium.io/agent-not-ready", "node.kubernetes.io/not-ready"]
    versions = [obj.metadata.resource_version for obj in (config, agent, operator)]

    code, output = _play(lab, CILIUM, *site["cilium"])
    assert code == 0, output
    assert _recap(output)["localhost"]["changed"] == 0, output

    # Another pool than the deployed one: refused before any change.
    code, output = _play(lab, CILIUM, *site["cilium"], "-e", json.dumps({"hybrid_remote_pod_cidrs": ["172.30.0.0/16"]}))
    assert code != 0, output
    assert f"uses cluster-pool-ipv4-cidr {lab.pod_cidr} with mask size {lab.pod_mask_size}" in output, output
    assert "cannot be changed after deployment" in output, output
    assert [obj.metadata.resource_version for obj in _cilium_objects(lab)] == versions

    # The lab's operator stand-in allocates a pod CIDR to every hybrid node from the deployed pool.
    def allocated():
        cns = _ciliumnodes(lab)
        return all(cns.get(name) for name in site["node_names"].values()) and cns

    cns = _wait("a CiliumNode with a pod CIDR for every node", allocated)
    for name in site["node_names"].values():
        network = ipaddress.ip_network(cns[name][0])
        assert network.subnet_of(ipaddress.ip_network(lab.pod_cidr)) and network.prefixlen == lab.pod_mask_size


def _pod_address(cidr):
    return str(ipaddress.ip_network(cidr).network_address + POD_OFFSET)


def test_routes_program_aws_and_the_vpn_gateway_and_pods_answer(lab, site):
    if not site["node_names"]:
        pytest.skip("the join did not happen")
    cns = _ciliumnodes(lab)
    expected = {cns[name][0]: ip for ip, name in site["node_names"].items()}
    for cidr, ip in expected.items():
        host = [h for h in site["hosts"] if h["ip"] == ip][0]
        _wait(f"{_pod_address(cidr)} on {host['name']}'s cilium_host",
              lambda: _pod_address(cidr) in _ssh(lab, host, "ip -4 -o addr show dev cilium_host").stdout, timeout=45)
    unreachable = [cidr for cidr in expected if not _worker_ping(lab, _pod_address(cidr))]
    assert unreachable == list(expected), "a pod address answered before vpngw had its route"

    api = LabApi(lab.moto_endpoint, lab.region)
    api.reset()
    code, output = _play(lab, ROUTES)
    assert code == 0, output
    writes = api.writes()
    tables, vpn = _aws_routes(lab, site["ids"])
    for table in site["ids"]["route_tables"]:
        for cidr in site["ids"]["cidrs"]:
            assert tables.get((table, cidr)) == site["ids"]["vpn_gateway"], (table, cidr, tables)
    assert set(site["ids"]["cidrs"]) <= vpn, vpn
    created = len(site["ids"]["cidrs"]) * len(site["ids"]["route_tables"]) - len(
        [key for key in site["aws_before"][0] if key[1] in site["ids"]["cidrs"]])
    assert writes.get(("ec2", "CreateRoute"), 0) + writes.get(("ec2", "ReplaceRoute"), 0) == created, writes

    # vpngw: one route per node, `<podCIDR> via <InternalIP>`, and the same in its networkd drop-in.
    assert _gateway_pod_routes(lab, site["gateway"]) == expected, output
    assert _recap(output)["vpngw"]["changed"] == 1, output
    drop_in = _ssh(lab, site["gateway"], f"cat {POD_DROP_IN}").stdout
    for cidr, ip in expected.items():
        assert f"[Route]\nDestination={cidr}\nGateway={ip}\n" in drop_in, drop_in
    assert drop_in.count("[Route]") == len(expected), drop_in
    # The table for routers configured by hand is still printed.
    for cidr, ip in expected.items():
        assert re.search(rf"\| {re.escape(cidr)}\s+\| {re.escape(ip)}\s+\|", output), output

    unreachable = [cidr for cidr in expected if not _worker_ping(lab, _pod_address(cidr))]
    assert unreachable == [], f"the cloud worker cannot reach the pod addresses of {unreachable} through vpngw"

    api.reset()
    code, output = _play(lab, ROUTES)
    assert code == 0, output
    assert all(counts["changed"] == 0 for counts in _recap(output).values()), output
    assert api.writes() == {}, api.requests()
    assert _gateway_pod_routes(lab, site["gateway"]) == expected


def test_a_departed_node_loses_its_pod_route(lab, site):
    before = _gateway_pod_routes(lab, site["gateway"])
    if len(before) < 2:
        pytest.skip("the routes were not applied")
    host = site["hosts"][-1]
    name = site["node_names"][host["ip"]]
    cidr = [dst for dst, hop in before.items() if hop == host["ip"]][0]
    # Its kubelet stopped first: the stand-in would register the Node again.
    assert _ssh(lab, host, "systemctl stop kubelet").returncode == 0
    kube = _kube()
    from kubernetes.client.rest import ApiException

    with k8s.api_client(lab) as api:
        kube.CoreV1Api(api).delete_node(name)
        try:
            kube.CustomObjectsApi(api).delete_cluster_custom_object("cilium.io", "v2", "ciliumnodes", name)
        except ApiException as exc:
            if exc.status != 404:  # the operator stand-in may have deleted it already
                raise
    _wait(f"CiliumNode {name} to go", lambda: name not in _ciliumnodes(lab), timeout=30)

    code, output = _play(lab, ROUTES)
    assert code == 0, output
    assert _recap(output)["vpngw"]["changed"] == 1, output
    after = _gateway_pod_routes(lab, site["gateway"])
    assert after == {dst: hop for dst, hop in before.items() if dst != cidr}, (before, after)
    drop_in = _ssh(lab, site["gateway"], f"cat {POD_DROP_IN}").stdout
    assert f"Destination={cidr}\n" not in drop_in and drop_in.count("[Route]") == len(after), drop_in

    code, output = _play(lab, ROUTES)
    assert code == 0, output
    assert _recap(output)["vpngw"]["changed"] == 0, output


def test_an_empty_read_of_the_pod_routes_does_not_wipe_the_gateway(lab, site, tmp_path):
    # What routes.yml would hand the gateway if the CiliumNodes read came back empty (another cluster's API server,
    # Cilium gone): refused before any change, the gateway keeps every pod route.
    before = _gateway_pod_routes(lab, site["gateway"])
    if not before:
        pytest.skip("the routes were not applied")
    drop_in = _ssh(lab, site["gateway"], f"cat {POD_DROP_IN}").stdout
    play = tmp_path / "empty-read.yml"
    play.write_text(yaml.safe_dump([{
        "name": "Pod routes from an empty read", "hosts": "vpn_gateways", "gather_facts": False,
        "roles": [{"role": "hybridnodes.eks.vpn_gateway_routes", "vars": {"vpn_gateway_routes_pod_routes": []}}]}]))
    code, output = _play(lab, play)
    assert code != 0, output
    assert f"removes {len(before)} of the {len(before)} routes" in output and "allow_mass_removal" in output, output
    assert _gateway_pod_routes(lab, site["gateway"]) == before
    assert _ssh(lab, site["gateway"], f"cat {POD_DROP_IN}").stdout == drop_in
