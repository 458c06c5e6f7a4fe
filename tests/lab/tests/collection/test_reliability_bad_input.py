"""Reliability, bad input: every input mistake an operator can make is refused with an error that names the input
and the fix, and nothing changes on the lab hosts, in the AWS emulator or in the API server.

Each case gives one bad input the way an operator would (an -e extra var, a modified copy of the lab inventory, an
own user-data file or an own playbook) to the playbook the operator would run:
  - inventory, CIDR, version, id and provider mistakes: playbooks/site.yml (all stages; stage 1, validate_inventory,
    must refuse them on the controller, so the recap lists localhost alone and no later stage ran);
  - a wrong type for each role's argument spec: the playbook that uses the role;
  - Palette user-data and .arg mistakes: playbooks/appliance_artifacts.yml (and nothing is written);
  - what only the hosts or the emulator know (an OS outside the support matrix, the wrong architecture, a route table
    or VPN connection that does not exist): the playbook that finds it (site.yml's preflight, routes.yml);
  - a malformed SSM activation id: the module hybridnodes.eks.nodeadm_config in an operator's own playbook.

The state (hosts, emulator, API server; hnlab.state) is snapshotted once before any case. The cases that stop on
the controller (CONTROLLER: their recap lists localhost alone, with nothing ok past the refusal and nothing
changed) run concurrently, then one snapshot after that batch is compared with the first, and each of them also
asserts its own recap. The cases that reach the hosts or the emulator (HOSTS) run one at a time, each followed by its
own snapshot compared with the first.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from hnlab import config, state
from hnlab.testing import REPO, light_inventory, play, recap

pytestmark = pytest.mark.lab

# On the light profile's inventory (hnlab.testing.light_inventory): the refusals are written against the light
# inventory's values.

INVENTORY = light_inventory(config.load())
SITE = "playbooks/site.yml"
UNKNOWN_RTB = "rtb-0123456789abcdef0"
UNKNOWN_VPN = "vpn-0123456789abcdef0"
ACTIVATION_CODE = "AbCdEfGhIjKlMnOpQrSt1234"  # stand-in secret: must never be printed
PALETTE_TOKEN = "lab-palette-token-0123456789"  # stand-in secret: must never be printed
PALETTE = ["-e", "palette_artifacts_image_registry=registry.lab.invalid", "-e", "palette_artifacts_image_repo=edge",
           "-e", f"hybrid_palette_token={PALETTE_TOKEN}"]
USER_DATA_WITHOUT_IAM = {
    "edgeHostToken": PALETTE_TOKEN,
    "install": {"extra-dirs-rootfs": ["/eks-hybrid"],
                "bind_mounts": ["/eks-hybrid", "/etc/aws", "/etc/containerd", "/etc/eks", "/etc/modules-load.d",
                                "/var/lib/amazon"]},
}
ACTIVATION_PLAYBOOK = [{
    "name": "An operator's own NodeConfig", "hosts": "edge01", "gather_facts": False,
    "tasks": [{"name": "Write the NodeConfig with an activation",
               "hybridnodes.eks.nodeadm_config": {
                   "cluster_name": "hybrid-lab", "region": "us-west-2", "credential_provider": "ssm",
                   "ssm_activation_id": "act-1234", "ssm_activation_code": ACTIVATION_CODE}}],
}]


def ev(**values):
    """-e with JSON, so that types (lists, numbers, booleans) reach Ansible as written."""
    return ["-e", json.dumps(values)]


def host(name, **values):
    def edit(inventory):
        for pool in inventory["all"]["children"]["hybrid_nodes"]["children"].values():
            if name in pool.get("hosts", {}):
                pool["hosts"][name].update(values)
    return edit


def pool(name, **values):
    def edit(inventory):
        inventory["all"]["children"]["hybrid_nodes"]["children"][name]["vars"].update(values)
    return edit


@dataclass
class Case:
    id: str
    expect: tuple  # every one must be in the output: the input's name and the fix
    extra: list = field(default_factory=list)
    edit: object = None  # a function changing a copy of the lab inventory
    playbook: str = SITE
    where: str = "controller"  # controller: refused there, recap localhost alone; hosts: reached hosts or emulator
    secret: str = ""  # must not be in the output


CASES = [
    # The EKS CIDR rules (stage 1 of site.yml).
    Case("node-cidr-public", ("hybrid_remote_node_cidrs: 203.0.113.0/24 is not inside RFC 1918",
                              "Fix: Choose a range inside 10.0.0.0/8"),
         ev(hybrid_remote_node_cidrs=["203.0.113.0/24"])),
    Case("pod-cidr-public", ("hybrid_remote_pod_cidrs: 100.64.0.0/16 is not inside RFC 1918", "Fix: Choose a range"),
         ev(hybrid_remote_pod_cidrs=["100.64.0.0/16"])),
    Case("node-cidr-ipv6", ("hybrid_remote_node_cidrs: fd00:200::/64 is IPv6", "Fix: Use IPv4 RFC 1918 ranges"),
         ev(hybrid_remote_node_cidrs=["fd00:200::/64"])),
    Case("pod-cidr-ipv6", ("hybrid_remote_pod_cidrs: fd00:1::/56 is IPv6", "Fix: Use IPv4"),
         ev(hybrid_remote_pod_cidrs=["fd00:1::/56"])),
    Case("vpc-cidr-ipv6", ("hybrid_vpc_cidrs: 2600:1f14::/56 is IPv6", "Fix: Use IPv4"),
         ev(hybrid_vpc_cidrs=["10.100.0.0/16", "2600:1f14::/56"])),
    Case("node-cidr-slash7", ("hybrid_remote_node_cidrs: 10.0.0.0/7 is larger than a /8",
                              "Fix: Split it into networks of /8 or longer"),
         ev(hybrid_remote_node_cidrs=["10.0.0.0/7"])),
    Case("pod-cidr-slash7", ("hybrid_remote_pod_cidrs: 172.0.0.0/7 is larger than a /8", "Fix: Split it"),
         ev(hybrid_remote_pod_cidrs=["172.0.0.0/7"])),
    Case("node-cidr-host-bits", ("hybrid_remote_node_cidrs: 10.200.0.1/24 has host bits set", "Fix: Write 10.200.0.0/24"),
         ev(hybrid_remote_node_cidrs=["10.200.0.1/24"])),
    Case("node-cidr-not-cidr", ("hybrid_remote_node_cidrs: '10.200.0.0' is not in CIDR notation", "Fix: Write it as a network"),
         ev(hybrid_remote_node_cidrs=["10.200.0.0"])),
    Case("vpc-overlaps-node", ("VPC CIDR 10.200.0.0/16 (hybrid_vpc_cidrs) overlaps remote node network 10.200.0.0/24",
                               "Fix: Change hybrid_vpc_cidrs or hybrid_remote_node_cidrs"),
         ev(hybrid_vpc_cidrs=["10.200.0.0/16"])),
    Case("vpc-overlaps-pod", ("VPC CIDR 10.100.0.0/16 (hybrid_vpc_cidrs) overlaps remote pod network 10.100.128.0/17",
                              "Fix: Change hybrid_vpc_cidrs or hybrid_remote_pod_cidrs"),
         ev(hybrid_remote_pod_cidrs=["10.100.128.0/17"])),
    Case("service-overlaps-node", ("service CIDR 10.200.0.0/16 (hybrid_service_cidr) overlaps remote node network",
                                   "Fix: Change hybrid_service_cidr or hybrid_remote_node_cidrs"),
         ev(hybrid_service_cidr="10.200.0.0/16")),
    Case("service-overlaps-pod", ("service CIDR 192.168.0.0/20 (hybrid_service_cidr) overlaps remote pod network",
                                  "Fix: Change hybrid_service_cidr or hybrid_remote_pod_cidrs"),
         ev(hybrid_service_cidr="192.168.0.0/20")),
    Case("service-overlaps-vpc", ("VPC CIDR 10.100.0.0/16 (hybrid_vpc_cidrs) overlaps service CIDR 10.100.0.0/20",
                                  "Fix: Change hybrid_vpc_cidrs or hybrid_service_cidr"),
         ev(hybrid_service_cidr="10.100.0.0/20")),
    Case("node-overlaps-pod", ("remote node network 10.200.0.0/24 (hybrid_remote_node_cidrs) overlaps remote pod network",
                               "Fix: Change hybrid_remote_node_cidrs or hybrid_remote_pod_cidrs"),
         ev(hybrid_remote_pod_cidrs=["10.200.0.0/25"])),
    Case("node-cidrs-overlap", ("hybrid_remote_node_cidrs: 10.200.0.0/24 and 10.200.0.0/16 overlap", "Fix: Merge them"),
         ev(hybrid_remote_node_cidrs=["10.200.0.0/24", "10.200.0.0/16"])),
    Case("vpc-cidrs-not-a-list", ("hybrid_vpc_cidrs is a string; it must be a list of strings",
                                  "Fix: Write hybrid_vpc_cidrs as a YAML list"),
         ["-e", "hybrid_vpc_cidrs=10.100.0.0/16"]),
    # Node addresses and next hops (inventory copies).
    Case("node-address-outside", ("edge02: node address 10.201.0.12 is outside the remote node networks 10.200.0.0/24",
                                  "Fix: Add a CIDR containing 10.201.0.12 to hybrid_remote_node_cidrs"),
         edit=host("edge02", hybrid_node_ip="10.201.0.12")),
    Case("node-address-duplicate", ("edge01, edge03 share the node address 10.200.0.11", "Fix: Give every hybrid node"),
         edit=host("edge03", hybrid_node_ip="10.200.0.11")),
    Case("vpn-server-ip-off-link", ("edge01: hybrid_vpn_server_ip 10.100.0.1 is not on the host's subnet 10.200.0.0/24",
                                    "Fix: Set hybrid_vpn_server_ip to the VPN server's address on 10.200.0.0/24"),
         edit=host("edge01", hybrid_vpn_server_ip="10.100.0.1")),
    Case("vpn-server-ip-off-link-prefix", ("edge02: hybrid_vpn_server_ip 10.200.0.254 is not on the host's subnet "
                                           "10.200.0.0/28", "Fix: Set hybrid_vpn_server_ip"),
         edit=host("edge02", hybrid_nic_prefix=28)),
    Case("vpn-server-ip-not-ipv4", ("edge01: hybrid_vpn_server_ip='vpngw' is not an IPv4 address",
                                    "Fix: Set hybrid_vpn_server_ip to the VPN server's IPv4 address"),
         edit=host("edge01", hybrid_vpn_server_ip="vpngw")),
    Case("vpn-server-ip-self", ("edge03: hybrid_vpn_server_ip 10.200.0.13 is the host's own address",
                                "Fix: Set hybrid_vpn_server_ip to the VPN server's address"),
         edit=host("edge03", hybrid_vpn_server_ip="10.200.0.13")),
    Case("nic-prefix-invalid", ("edge01: hybrid_nic_prefix=40 is not a prefix length from 8 to 32",
                                "Fix: Set hybrid_nic_prefix"),
         edit=host("edge01", hybrid_nic_prefix=40)),
    # Cilium's pool and per-node mask.
    Case("cilium-pool-differs", ("cilium_remote_pod_cidrs ['10.201.0.0/16'] differs from hybrid_remote_pod_cidrs",
                                 "Fix: Remove cilium_remote_pod_cidrs from the inventory"),
         ev(cilium_remote_pod_cidrs=["10.201.0.0/16"])),
    Case("cilium-pool-differs-on-host", ("edge02: cilium_remote_pod_cidrs ['192.168.0.0/17'] differs",
                                         "Fix: Remove cilium_remote_pod_cidrs"),
         edit=host("edge02", cilium_remote_pod_cidrs=["192.168.0.0/17"])),
    Case("cilium-mask-shorter-than-pool", ("hybrid_pod_cidr_mask_size=12: each node's pod CIDR must be a prefix length",
                                           "Fix: Set hybrid_pod_cidr_mask_size to an integer"),
         ev(hybrid_pod_cidr_mask_size=12)),
    Case("pod-cidrs-empty", ("hybrid_remote_pod_cidrs is empty: Cilium's cluster pool", "Fix: Set hybrid_remote_pod_cidrs"),
         ev(hybrid_remote_pod_cidrs=[])),
    # Versions.
    Case("kubernetes-version-float", ("hybrid_kubernetes_version=1.3 is not a Kubernetes minor version",
                                      "Fix: Set it as a quoted string"),
         ev(hybrid_kubernetes_version=1.3)),
    Case("kubernetes-version-v-prefix", ("hybrid_kubernetes_version='v1.31' is not a Kubernetes minor version",
                                         "Fix: Set it as a quoted string"),
         ev(hybrid_kubernetes_version="v1.31")),
    Case("nodeadm-version-latest", ("hybrid_nodeadm_version='latest' is not a nodeadm release", "Fix: Pin a release"),
         ev(hybrid_nodeadm_version="latest")),
    Case("nodeadm-version-no-v", ("hybrid_nodeadm_version='1.0.20' is not a nodeadm release", "Fix: Pin a release"),
         ev(hybrid_nodeadm_version="1.0.20")),
    # Credential provider, AWS ids, cluster variables.
    Case("provider-unknown", ("hybrid_credential_provider='ssm-hybrid' is not one of ssm, iam-ra",
                              "Fix: Set hybrid_credential_provider to ssm"),
         ev(hybrid_credential_provider="ssm-hybrid")),
    Case("provider-iam-ra-without-ca", ("hybrid_iam_ra_ca_certificate_path is not set",
                                        "Fix: With iam-ra, set hybrid_iam_ra_ca_certificate_path"),
         ev(hybrid_credential_provider="iam-ra")),
    Case("route-table-id-malformed", ("hybrid_route_table_ids: 'rtb-lab1' is not an AWS id",
                                      "Fix: Copy the id from the AWS console"),
         ev(hybrid_route_table_ids=["rtb-472cc19255c0fa6ce", "rtb-lab1"])),
    Case("vpn-connection-id-malformed", ("hybrid_vpn_connection_id: 'vpn-123' is not an AWS id", "Fix: Copy the id"),
         ev(hybrid_vpn_connection_id="vpn-123")),
    Case("two-gateways", ("hybrid_vpn_gateway_id and hybrid_transit_gateway_id are both set",
                          "Fix: Keep the gateway the Site-to-Site VPN is attached to"),
         ev(hybrid_transit_gateway_id="tgw-a27a4e769ce613592")),
    Case("region-malformed", ("hybrid_region='us-west' is not an AWS region name", "Fix: Set hybrid_region"),
         ev(hybrid_region="us-west")),
    Case("cluster-name-empty", ("[missing] hybrid_cluster_name is not set", "Fix: Set hybrid_cluster_name"),
         ev(hybrid_cluster_name="")),
    Case("cluster-variable-per-host", ("edge02: hybrid_region='eu-west-1' differs from the cluster's value",
                                       "Fix: Set hybrid_region once in group_vars/all"),
         edit=host("edge02", hybrid_region="eu-west-1")),
    # Pool variables.
    Case("taint-without-effect", ("edge02: taint 'dedicated=edge' is not key[=value]:Effect",
                                  "Fix: Write it such as dedicated=edge:NoSchedule"),
         edit=pool("pool_b", hybrid_node_taints=["dedicated=edge"])),
    Case("labels-not-a-dict", ("edge01, edge03: hybrid_node_labels is a list, not a dict",
                               "Fix: Write hybrid_node_labels as a mapping"),
         edit=pool("pool_a", hybrid_node_labels=["pool=a"])),
    Case("label-value-boolean", ("hybrid_node_labels[gpu]=True is not a Kubernetes label value", "Fix: Quote it"),
         edit=pool("pool_b", hybrid_node_labels={"gpu": True})),
    Case("label-kubelet-restricted", ("edge01, edge03: hybrid_node_labels: node-role.kubernetes.io/worker is in the "
                                      "kubernetes.io/k8s.io namespace, which the kubelet refuses",
                                      "Fix: Remove node-role.kubernetes.io/worker from hybrid_node_labels"),
         edit=pool("pool_a", hybrid_node_labels={"node-role.kubernetes.io/worker": ""})),
    Case("node-name-too-long", ("edge02: hybrid_node_name='%s' is not a Kubernetes node name: it has 65 characters"
                                % ("n" * 65), "Fix: Use lowercase letters"),
         edit=host("edge02", hybrid_node_name="n" * 65)),
    Case("node-name-invalid", ("edge01: hybrid_node_name='Edge_01' is not a Kubernetes node name",
                               "Fix: Use lowercase letters"),
         edit=host("edge01", hybrid_node_name="Edge_01")),
    Case("node-name-duplicate", ("edge01, edge03 share the node name edge01", "Fix: Give every hybrid node its own"),
         edit=host("edge03", hybrid_node_name="edge01")),
    Case("ntp-servers-a-string", ("hybrid_ntp_servers='pool.ntp.org' is not a list of server names",
                                  "Fix: Write hybrid_ntp_servers as a list"),
         edit=pool("pool_a", hybrid_ntp_servers="pool.ntp.org")),
    Case("architecture-unknown", ("hybrid_architecture='x86_64' is not one of amd64, arm64",
                                  "Fix: Set hybrid_architecture to amd64 or arm64"),
         edit=pool("pool_b", hybrid_architecture="x86_64")),
    Case("role-input-in-inventory", ("host_prep_swap_off='maybe' is refused by roles/host_prep/meta/argument_specs.yml",
                                     "Fix: Give host_prep_swap_off a value of type bool"),
         ["-e", "host_prep_swap_off=maybe"]),
    Case("iam-ra-crl-state-typo", ("hybrid_iam_ra_crl_state='remove' (role aws_prerequisites's "
                                   "aws_prerequisites_iam_ra_crl_state) is refused by roles/aws_prerequisites",
                                   "Fix: Give hybrid_iam_ra_crl_state a value of type str"),
         ev(hybrid_iam_ra_crl_state="remove")),
    # Wrong types for every role's argument spec, through the playbook that uses the role.
    Case("role-aws_prerequisites", ("aws_prerequisites_role_max_session_hours", "convert to int"),
         ["-e", "aws_prerequisites_role_max_session_hours=many"], playbook="playbooks/aws_prerequisites.yml"),
    Case("role-cilium", ("cilium_crd_wait_timeout", "convert to int"),
         ["-e", "cilium_crd_wait_timeout=soon"], playbook="playbooks/cilium.yml"),
    Case("role-palette_artifacts", ("palette_artifacts_ssh_public_keys", "convert to list"),
         PALETTE + ev(palette_artifacts_ssh_public_keys={"admin": "ssh-ed25519 AAAA"}),
         playbook="playbooks/appliance_artifacts.yml", secret=PALETTE_TOKEN),
    Case("role-edge_routes", ("edge_routes_destinations", "convert to list"),
         ev(edge_routes_destinations={"vpc": "10.100.0.0/16"}), playbook="playbooks/join.yml", where="hosts"),
    Case("role-host_prep", ("host_prep_package_lock_timeout", "convert to int"),
         ["-e", "host_prep_package_lock_timeout=forever"], playbook="playbooks/prepare_hosts.yml", where="hosts"),
    Case("role-nodeadm", ("nodeadm_retries", "convert to int"),
         ["-e", "nodeadm_retries=many"], playbook="playbooks/join.yml", where="hosts"),
    Case("role-vpn_gateway_routes", ("vpn_gateway_routes_pod_cidrs", "convert to list"),
         ev(vpn_gateway_routes_pod_cidrs={"pods": "192.168.0.0/16"}), playbook="playbooks/routes.yml", where="hosts"),
    # Palette: the operator's own user-data, the .arg.
    Case("user-data-missing-bind-mount", ("install.bind_mounts lacks /etc/iam",
                                          "Fix: Keep the install block of the EKS Hybrid Nodes guide"),
         PALETTE, playbook="playbooks/appliance_artifacts.yml", secret=PALETTE_TOKEN),
    Case("palette-os-unsupported", ("palette_artifacts_os_distribution", "debian", "ubuntu, rhel"),
         PALETTE + ["-e", "palette_artifacts_os_distribution=debian"], playbook="playbooks/appliance_artifacts.yml",
         secret=PALETTE_TOKEN),
    Case("palette-kubernetes-version-unsupported", ("K8S_VERSION 1.27.0 is not one CanvOS builds for nodeadm",
                                                    "Fix: Use one of 1.28.0"),
         PALETTE + ["-e", "hybrid_kubernetes_version=1.27"], playbook="playbooks/appliance_artifacts.yml",
         secret=PALETTE_TOKEN),
    # What only the hosts or the emulator know.
    Case("os-unsupported", ("[os]", "outside the EKS Hybrid Nodes support matrix",
                            "Fix: Install a supported OS, or set allow_unsupported_os (hybrid_allow_unsupported_os)"),
         ev(hybrid_allow_unsupported_os=False), where="hosts"),
    Case("architecture-of-the-hosts", ("[architecture] architecture amd64 differs from the pool's arm64",
                                       "Fix: Move the host to a pool whose hybrid_architecture is amd64"),
         ev(hybrid_architecture="arm64"), where="hosts"),
    Case("route-table-unknown", (UNKNOWN_RTB, "not found", "Nothing was changed"),
         ev(hybrid_route_table_ids=["rtb-472cc19255c0fa6ce", UNKNOWN_RTB]), playbook="playbooks/routes.yml",
         where="hosts"),
    Case("vpn-connection-unknown", (f"VPN connection {UNKNOWN_VPN}", "does not exist",
                                    "Check vpn_connection_id and the region"),
         ev(hybrid_vpn_connection_id=UNKNOWN_VPN), playbook="playbooks/routes.yml", where="hosts"),
    Case("activation-id-malformed", ("The SSM activation id 'act-1234' is not a UUID",
                                     "Use the ActivationId returned by ssm:CreateActivation"),
         playbook="activation", where="hosts", secret=ACTIVATION_CODE),
    # Inputs that would become a directive or an option on the host: refused by the module before it changes anything.
    Case("nic-name-injection", ("is not an interface name", "set hybrid_nic to the interface of the edge network"),
         ["--limit", "edge01"], edit=host("edge01", hybrid_nic="eth0\nGateway=10.200.0.99"),
         playbook="playbooks/join.yml", where="hosts"),
    # Playbooks that take nodes out: refused before anything changes without an explicit limit, a confirmation naming
    # exactly those hosts, and within the maximum count.
    Case("decommission-without-limit", ("no --limit", "Fix: name the hosts with --limit",
                                        "hybrid_decommission_confirm names no host"),
         playbook="playbooks/decommission.yml", where="hosts"),
    Case("decommission-confirm-other-hosts", ("hybrid_decommission_confirm names edge02 but the run targets edge01",
                                              "Fix: -e hybrid_decommission_confirm=edge01"),
         ["--limit", "edge01", "-e", "hybrid_decommission_confirm=edge02"], playbook="playbooks/decommission.yml",
         where="hosts"),
    Case("decommission-too-many", ("more than hybrid_decommission_max_hosts=2", "Fix: run in smaller limits"),
         ["--limit", "hybrid_nodes", "-e", "hybrid_decommission_max_hosts=2",
          "-e", "hybrid_decommission_confirm=edge01,edge02,edge03"], playbook="playbooks/decommission.yml",
         where="hosts"),
    Case("repave-access-without-limit", ("no --limit", "hybrid_repave_confirm names no host"),
         ["-e", "hybrid_repave=access_management"], playbook="playbooks/repave.yml", where="hosts"),
    Case("vpc-target-option", ("'-fc10' is not an address or host name", "give ADDRESS or ADDRESS:PORT"),
         ev(hybrid_validate_vpc_targets=["-fc10"]), playbook="playbooks/validate.yml", where="hosts"),
]
CONTROLLER = [case for case in CASES if case.where == "controller"]
HOSTS = [case for case in CASES if case.where == "hosts"]


def run_case(case: Case, workdir: Path) -> dict:
    """Write the case's inventory copy or files under workdir, run its playbook; {rc, output, seconds, ...}."""
    workdir.mkdir(parents=True, exist_ok=True)
    inventory = INVENTORY
    if case.edit:
        data = copy.deepcopy(yaml.safe_load(INVENTORY.read_text()))
        case.edit(data)
        inventory = workdir / "hosts.yml"
        inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    extra = list(case.extra)
    playbook = REPO / case.playbook
    output_dir = workdir / "palette"
    if case.playbook.endswith("appliance_artifacts.yml"):
        extra += ["-e", f"palette_artifacts_output_dir={output_dir}"]
        if case.id == "user-data-missing-bind-mount":
            user_data = workdir / "user-data"
            user_data.write_text("#cloud-config\n" + yaml.safe_dump(USER_DATA_WITHOUT_IAM))
            extra += ["-e", f"palette_artifacts_user_data_file={user_data}"]
    if case.playbook == "activation":
        playbook = workdir / "activation.yml"
        playbook.write_text(yaml.safe_dump(ACTIVATION_PLAYBOOK, sort_keys=False))
    started = time.monotonic()
    rc, output = play(inventory, playbook, *extra, timeout=600)
    return {"rc": rc, "output": output, "seconds": time.monotonic() - started,
            "palette_written": output_dir.exists()}


@pytest.fixture(scope="module")
def before(lab):
    return state.snapshot(lab)


@pytest.fixture(scope="module")
def controller_batch(lab, before, tmp_path_factory):
    """Every CONTROLLER case, two at a time (the controller has two cores), then one snapshot of the lab."""
    base = tmp_path_factory.mktemp("bad_input")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case.id: pool.submit(run_case, case, base / case.id) for case in CONTROLLER}
        results = {name: future.result() for name, future in futures.items()}
    return results, state.snapshot(lab)


def check_refusal(case: Case, result: dict):
    output = result["output"]
    assert result["rc"] != 0, f"{case.id}: not refused\n{output[-3000:]}"
    for text in case.expect:
        assert text in output, f"{case.id}: {text!r} not in the output\n{output[-4000:]}"
    if case.secret:
        assert case.secret not in output, f"{case.id}: a secret is in the output"
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.reliability("bad_input")
@pytest.mark.parametrize("case", CONTROLLER, ids=[case.id for case in CONTROLLER])
def test_refused_on_the_controller(case, before, controller_batch):
    """Refused on the controller before any host is contacted: rc != 0, the error names the input and the fix, the
    recap lists localhost alone with nothing changed; the lab is unchanged (one snapshot after the whole batch,
    valid because no case of the batch contacted a host or changed anything, which each asserts)."""
    results, after = controller_batch
    result = results[case.id]
    check_refusal(case, result)
    counts = recap(result["output"])
    assert list(counts) == ["localhost"], f"{case.id}: reached {list(counts)}\n{result['output'][-3000:]}"
    assert counts["localhost"]["changed"] == 0 and counts["localhost"]["failed"] == 1, counts
    if case.playbook == SITE:
        # Stage 1 only: no play of a later stage started.
        assert "PLAY [Preflight of the edge hosts]" not in result["output"]
    if case.playbook != SITE and "convert to" in case.expect[-1]:
        # The role's argument validation is its first task: nothing of the role ran before it.
        assert counts["localhost"]["ok"] == 0, counts
    assert not result["palette_written"], f"{case.id}: Palette files were written"
    assert state.diff(before, after) == []


@pytest.fixture(scope="module")
def last_snapshot(controller_batch):
    """The lab's state before the next HOSTS case: the snapshot after the batch, then the one after each case."""
    return {"state": controller_batch[1]}


@pytest.mark.reliability("bad_input")
@pytest.mark.parametrize("case", HOSTS, ids=[case.id for case in HOSTS])
def test_refused_before_a_change(case, lab, before, last_snapshot, tmp_path):
    """Refused where it is found (the hosts' preflight, a role's argument validation, a module against the emulator),
    before anything changes: rc != 0, the error names the input and the fix, nothing changed in the recap, and the
    lab's own snapshot right after this case equals the one right before it (so a change is laid at the door of the
    case that made it) and the one taken before any case."""
    result = run_case(case, tmp_path)
    check_refusal(case, result)
    counts = recap(result["output"])
    after = state.snapshot(lab)
    previous, last_snapshot["state"] = last_snapshot["state"], after
    assert all(c["changed"] == 0 for c in counts.values()), counts
    assert state.diff(previous, after) == []
    assert state.diff(before, after) == []


def test_own_user_data_is_written(tmp_path):
    """The counterpart of user-data-missing-bind-mount: an own user-data with the whole install block passes the
    check and is written as given, mode 0600 (on the controller only)."""
    complete = copy.deepcopy(USER_DATA_WITHOUT_IAM)
    complete["install"]["bind_mounts"].append("/etc/iam")
    user_data = tmp_path / "user-data.yaml"
    user_data.write_text("#cloud-config\n" + yaml.safe_dump(complete))
    rc, output = play(INVENTORY, REPO / "playbooks" / "appliance_artifacts.yml", *PALETTE,
                      "-e", f"palette_artifacts_output_dir={tmp_path / 'out'}",
                      "-e", f"palette_artifacts_user_data_file={user_data}")
    assert rc == 0, output[-3000:]
    written = tmp_path / "out" / "user-data"
    assert yaml.safe_load(written.read_text()) == complete
    assert written.stat().st_mode & 0o777 == 0o600
    assert PALETTE_TOKEN not in output
