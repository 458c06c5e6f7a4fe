"""playbooks/validate.yml on the running lab (root only).

The edge hosts are joined with playbooks/join.yml (a role with a HYBRID_LINUX access entry), Cilium's cluster pool
is "deployed" (the CiliumNode CRD and kube-system/cilium-config, so that the lab's operator stand-in gives every
Node a CiliumNode and pod CIDR) and the VPN gateway vpngw gets "<pod CIDR> via <InternalIP>" for every node. Then:
  - validate.yml passes every check on every host with changed=0, prints one line per host and writes
    validate.json and validate.md naming every host;
  - the `host` probe method (vpngw pinging each node from its VPC address) passes too;
  - the `pod` probe method creates its debug pod, reports every host with the reason when the pod cannot run (the
    lab has no kubelet for cloud nodes) and deletes the pod;
  - with one pod route deleted on vpngw and one VPN tunnel set DOWN in the AWS emulator, validate.yml (in check
    mode) fails naming that host and that tunnel with their fixes, and still writes both reports.
Everything is undone at the end: nodeadm uninstalled, Nodes, CiliumNodes, the ConfigMap (and the CRD when this
test created it), the routes on vpngw and the edge hosts, the tunnel, the AWS role, access entry and activations.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from hnlab.testing import REPO, light_inventory, play, recap as _recap, ssh as _ssh
from hnlab import edge, inventory, k8s, testing
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
VALIDATE = REPO / "playbooks" / "validate.yml"
NODEADM = "/usr/local/bin/nodeadm"
ROUTE_DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
CRD = "ciliumnodes.cilium.io"


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


def _kube(cfg):
    from kubernetes import client as kube

    return kube, k8s.api_client(cfg)


def _node_names_by_ip(cfg, ips):
    kube, api_client = _kube(cfg)
    with api_client as api:
        found = {}
        for node in kube.CoreV1Api(api).list_node().items:
            for address in node.status.addresses or []:
                if address.type == "InternalIP" and address.address in ips:
                    found[address.address] = node.metadata.name
        return found


def _cleanup(cfg, hosts, gateway, role_name, pod_routes, crd_was_there):
    from kubernetes.client.rest import ApiException

    for cidr in pod_routes:
        _ssh(cfg, gateway, f"ip route del {cidr} 2>/dev/null; true")
    testing.cilium_agent_daemonset(cfg, present=False)
    route = f"{cfg.vpc_cidr} via {cfg.vpn_gateway_edge_ip}"
    for host in hosts:
        _ssh(cfg, host, f"[ -x {NODEADM} ] && {NODEADM} uninstall --skip pod-validation,node-validation; "
                        f"rm -f {NODEADM} {ROUTE_DROP_IN}; rm -rf /etc/nodeadm /var/lib/amazon/ssm; "
                        f"rmdir {os.path.dirname(ROUTE_DROP_IN)} /opt/cni /var/lib/amazon /etc/eks /var/lib/nodeadm-standin "
                        f"2>/dev/null; ip route del {route} 2>/dev/null; ip link del cilium_host 2>/dev/null; {testing.CNI_CLEANUP}; true",
             timeout=180)
    ips = {host["ip"] for host in hosts}
    kube, api_client = _kube(cfg)
    with api_client as api:
        core, custom = kube.CoreV1Api(api), kube.CustomObjectsApi(api)
        names = [name for ip, name in _node_names_by_ip(cfg, ips).items()]
        for name in names:
            core.delete_node(name)
        for call in (lambda: core.delete_namespaced_config_map("cilium-config", "kube-system"),):
            try:
                call()
            except ApiException as exc:
                if exc.status != 404:
                    raise
        if crd_was_there:
            for name in names:
                try:
                    custom.delete_cluster_custom_object("cilium.io", "v2", "ciliumnodes", name)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
        else:
            try:
                kube.ApiextensionsV1Api(api).delete_custom_resource_definition(CRD)
            except ApiException as exc:
                if exc.status != 404:
                    raise
    ssm, iam, eks = client(cfg, "ssm"), client(cfg, "iam"), client(cfg, "eks")
    for activation in ssm.describe_activations()["ActivationList"]:
        if activation.get("IamRole") == role_name:
            ssm.delete_activation(ActivationId=activation["ActivationId"])
    for instance in ssm.describe_instance_information()["InstanceInformationList"]:
        if instance.get("IamRole") == role_name:
            ssm.deregister_managed_instance(InstanceId=instance["InstanceId"])
    arn = f"arn:aws:iam::{cfg.account_id}:role/{role_name}"
    for call in (lambda: eks.delete_access_entry(clusterName=cfg.cluster_name, principalArn=arn),
                 lambda: iam.delete_role(RoleName=role_name)):
        try:
            call()
        except Exception:  # noqa: BLE001 - cleanup is best effort, each step on its own
            pass
    if not crd_was_there:
        _wait("the CiliumNode CRD to go", lambda: not k8s.ciliumnode_crd_exists(cfg), timeout=30)


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory):
    """Joined hosts with CiliumNodes and their pod routes on vpngw; everything undone at the end."""
    from kubernetes import client as kube

    specs = edge.load_hosts(lab)
    hosts = [spec for spec in specs if spec["kind"] == "edge"]
    gateway = [spec for spec in specs if spec["kind"] == "vpngw"][0]
    crd_was_there = k8s.ciliumnode_crd_exists(lab)
    role_name = f"lab-validate-{uuid.uuid4().hex[:8]}"
    pod_routes = {}
    vars_file = tmp_path_factory.mktemp("validate") / "vars.json"
    reports = vars_file.parent / "reports"
    # The running lab's inventory may predate the validate variables: pass them as inventory.py writes them.
    vars_file.write_text(json.dumps(dict(inventory.validate_vars(lab), hybrid_validate_report_dir=str(reports),
                                         hybrid_validate_ping_count=1)))
    try:
        arn = client(lab, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=arn, type="HYBRID_LINUX")
        code, output = _play(lab, JOIN, "-e", f"hybrid_iam_role_name={role_name}", "-e", "nodeadm_retry_delay=1")
        assert code == 0, output

        k8s.create_ciliumnode_crd(lab)
        with k8s.api_client(lab) as api:
            kube.CoreV1Api(api).create_namespaced_config_map("kube-system", kube.V1ConfigMap(
                metadata=kube.V1ObjectMeta(name="cilium-config", namespace="kube-system"),
                data={"cluster-pool-ipv4-cidr": lab.pod_cidr, "cluster-pool-ipv4-mask-size": str(lab.pod_mask_size)}))
            custom = kube.CustomObjectsApi(api)
            names = _node_names_by_ip(lab, {host["ip"] for host in hosts})
            assert len(names) == len(hosts), names

            def allocated():
                items = custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnodes")["items"]
                cidrs = {item["metadata"]["name"]: ((item.get("spec") or {}).get("ipam") or {}).get("podCIDRs")
                         for item in items}
                return all(cidrs.get(name) for name in names.values()) and cidrs

            cidrs = _wait("a CiliumNode with a pod CIDR for every node", allocated)
        # Cilium's agent DaemonSet: the lab's Cilium stand-in writes the CNI configuration on each host, and the Nodes,
        # NotReady until then, turn Ready.
        testing.cilium_agent_daemonset(lab, present=True)
        _wait("every Node Ready once Cilium's DaemonSet selects it",
              lambda: all(n and testing.ready(n) for n in (testing.read_node(lab, name) for name in names.values())))
        # What routes.yml installs on the Linux VPN gateways (role vpn_gateway_routes): each pod CIDR via its node.
        for host in hosts:
            cidr = cidrs[names[host["ip"]]][0]
            pod_routes[cidr] = host
            result = _ssh(lab, gateway, f"ip route replace {cidr} via {host['ip']}")
            assert result.returncode == 0, result.stderr
        yield {"hosts": hosts, "gateway": gateway, "names": names, "pod_routes": pod_routes,
               "vars": ["-e", f"@{vars_file}"], "reports": reports}
    finally:
        _cleanup(lab, hosts, gateway, role_name, pod_routes, crd_was_there)


def _report(site):
    data = json.loads((site["reports"] / "validate.json").read_text())
    markdown = (site["reports"] / "validate.md").read_text()
    # The reports name the site's hosts, nodes and addresses: not for every local user.
    modes = {path.name: path.stat().st_mode & 0o777 for path in site["reports"].iterdir()}
    assert modes == {"validate.json": 0o640, "validate.md": 0o640}, modes
    return data, markdown


def test_every_check_passes_on_every_host(lab, site):
    code, output = _play(lab, VALIDATE, *site["vars"])
    assert code == 0, output
    recap = _recap(output)
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap.values()), output
    lines = output.splitlines()
    header = [index for index, line in enumerate(lines) if line.split()[:2] == ["HOST", "NODE"]]
    assert header, output
    table = [line.split() for line in lines[header[0] + 1:header[0] + 1 + len(site["hosts"])]]
    cidr_of = {host["name"]: cidr for cidr, host in site["pod_routes"].items()}
    assert table == [[host["name"], site["names"][host["ip"]], "yes", "yes", cidr_of[host["name"]], "yes", "yes", "yes"]
                     for host in sorted(site["hosts"], key=lambda item: item["name"])], output
    assert "VPN tunnels: OK" in output and "2/2 tunnels UP" in output, output

    data, markdown = _report(site)
    assert data["ok"] is True and data["failures"] == []
    assert [row["host"] for row in data["hosts"]] == sorted(host["name"] for host in site["hosts"])
    for row in data["hosts"]:
        assert row["ready"] and row["cilium_node"] and row["reaches_vpc"] and row["answers_from_cluster"], row
        assert row["pod_route"] == "present" and f"via {row['ip']}" in row["pod_route_detail"], row
        assert row["node"] == site["names"][row["ip"]]
    assert data["gateways"] == [site["gateway"]["name"]]
    assert "**Result: PASSED**" in markdown
    for host in site["hosts"]:
        assert f"| {host['name']} | {site['names'][host['ip']]} | yes |" in markdown, markdown


def test_the_host_probe_method_from_the_gateways_vpc_address(lab, site):
    code, output = _play(lab, VALIDATE, *site["vars"], "-e", "hybrid_validate_probe_method=host",
                         "-e", f"hybrid_validate_probe_host={site['gateway']['name']}",
                         "-e", f"hybrid_validate_probe_source={lab.vpn_gateway_vpc_ip}")
    assert code == 0, output
    data, _markdown = _report(site)
    assert data["probe_method"] == "host"
    for row in data["hosts"]:
        assert row["answers_from_cluster"] is True and "echo replies" in row["probe_detail"], row


def test_the_pod_probe_method_reports_a_pod_that_cannot_run_and_deletes_it(lab, site):
    """The lab has no kubelet for cloud nodes, so the debug pod stays Pending: every host must be reported as not
    answering, with the reason, and the pod must be gone afterwards."""
    from kubernetes import client as kube
    from kubernetes.client.rest import ApiException

    with k8s.api_client(lab) as api:
        core = kube.CoreV1Api(api)
        # Pods need their service account; the lab runs no controller-manager to make "default".
        try:
            core.create_namespaced_service_account("default", kube.V1ServiceAccount(
                metadata=kube.V1ObjectMeta(name="default")))
            made_account = True
        except ApiException as exc:
            if exc.status != 409:
                raise
            made_account = False
        try:
            code, output = _play(lab, VALIDATE, *site["vars"], "-e", "hybrid_validate_probe_method=pod",
                                 "-e", "hybrid_validate_pod_timeout=5")
            with pytest.raises(ApiException) as gone:
                core.read_namespaced_pod("hybridnodes-eks-validate", "default")
            assert gone.value.status == 404
        finally:
            try:
                core.delete_namespaced_pod("hybridnodes-eks-validate", "default")
            except ApiException:
                pass
            if made_account:
                core.delete_namespaced_service_account("default", "default")
    assert code != 0, output
    assert f"{len(site['hosts'])} check(s) failed:" in output, output
    for host in site["hosts"]:
        assert f"[{host['name']}] answers_from_cluster: {host['name']} ({host['ip']}) does not answer from the " \
               f"cluster side (pod probe): the debug pod did not become Ready" in output, output
    data, _markdown = _report(site)
    assert data["probe_method"] == "pod" and all(row["answers_from_cluster"] is False for row in data["hosts"])


def test_a_missing_pod_route_and_a_down_tunnel_fail_naming_them_and_the_fix(lab, site):
    labapi = LabApi(lab.moto_endpoint, lab.region)
    vpn_id = client(lab, "ec2").describe_vpn_connections()["VpnConnections"][0]["VpnConnectionId"]
    cidr, host = sorted(site["pod_routes"].items())[-1]
    for stale in ("validate.json", "validate.md"):
        (site["reports"] / stale).unlink(missing_ok=True)
    assert _ssh(lab, site["gateway"], f"ip route del {cidr}").returncode == 0
    outside_ip = labapi.set_tunnel(vpn_id, "DOWN", tunnel=1, message="IPSEC IS DOWN")
    try:
        code, output = _play(lab, VALIDATE, *site["vars"], "--check")
    finally:
        labapi.set_tunnel(vpn_id, "UP", tunnel=1)
        _ssh(lab, site["gateway"], f"ip route replace {cidr} via {host['ip']}")
    assert code != 0, output
    assert "2 check(s) failed:" in output, output
    assert f"[{host['name']}] pod_route: {site['gateway']['name']} has no route {cidr} via {host['ip']} (missing)" in output
    assert f"Likely fix: install the pod CIDR routes on the VPN gateway (playbooks/routes.yml), or by hand: " \
           f"`ip route replace {cidr} via {host['ip']}` on {site['gateway']['name']}" in output, output
    assert f"[{vpn_id} tunnel {outside_ip}] tunnel: tunnel {outside_ip} of {vpn_id} is DOWN (IPSEC IS DOWN)" in output
    assert "VPN tunnels: FAILED" in output and "1/2 tunnels UP" in output, output
    assert all(counts["changed"] == 0 for counts in _recap(output).values()), output

    data, markdown = _report(site)
    assert data["ok"] is False
    assert sorted((item["host"], item["check"]) for item in data["failures"]) == sorted(
        [(host["name"], "pod_route"), (f"{vpn_id} tunnel {outside_ip}", "tunnel")])
    assert [row["host"] for row in data["hosts"] if row["failed"]] == [host["name"]]
    assert "**Result: FAILED**" in markdown and f"| {host['name']} | pod_route |" in markdown
    for other in site["hosts"]:
        assert f"| {other['name']} |" in markdown
