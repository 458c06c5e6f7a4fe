"""One place for every name, address, port and path the lab uses.

Every lab component (edge hosts, VPN gateway, cloud worker, AWS emulator,
Kubernetes API server, artifact mirror, nodeadm stand-in) reads its settings
from here, so that the components agree and ``down`` can find everything
``up`` made.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
from pathlib import Path

# tests/lab (the lab's checkout: hnlab is installed editable, see tests/lab/pyproject.toml) and the repository.
LAB_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = LAB_DIR.parents[1]


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


@dataclasses.dataclass(frozen=True)
class LabConfig:
    """Settings of one lab. Only one lab runs on a machine at a time."""

    # Long-lived caches, kept outside the repository and reused across labs:
    # the debootstrap tree, the kube-apiserver binary.
    cache_dir: Path = _env_path("HNLAB_CACHE", "/var/cache/hybridnodes-lab")
    # Everything a running lab owns: pid files, overlays, logs, keys, certs, its inventory (inventory_path).
    state_dir: Path = _env_path("HNLAB_STATE", "/var/lib/hybridnodes-lab")
    # The path the docs, make targets, Molecule and the demo give to -i: a symlink to inventory_path that `up`
    # makes and `down` removes (git-ignored), so that nothing the lab generates lives in the source tree.
    inventory_link: Path = REPO_ROOT / "inventories" / "lab" / "hosts.yml"

    # Names: every kernel object the lab creates starts with this prefix so
    # that ``down`` and the leak test can find them.
    prefix: str = "hnl"

    # The hybrid node network (edge LAN). The root namespace holds the
    # default gateway address and NATs to the package archive only.
    edge_cidr: str = "10.200.0.0/24"
    edge_gateway_ip: str = "10.200.0.1"
    mirror_ip: str = "10.200.0.2"  # artifact mirror on the edge LAN (site mirror)
    vpn_gateway_edge_ip: str = "10.200.0.254"  # the "VPN server IP"
    first_host_offset: int = 11  # edge host i (1-based) gets .10+i

    # The EKS VPC. The root namespace has no address and no route here: only
    # the VPN gateway connects the edge LAN and the VPC.
    vpc_cidr: str = "10.100.0.0/16"  # the VPC as AWS knows it
    vpc_subnet_cidr: str = "10.100.0.0/24"  # the lab's VPC network segment
    vpn_gateway_vpc_ip: str = "10.100.0.1"
    cloud_worker_ip: str = "10.100.0.10"
    eks_endpoint_ip: str = "10.100.0.20"  # the cluster endpoint inside the VPC
    # Ports on eks_endpoint_ip, forwarded to the loopback services: what the
    # nodes reach of "AWS" and "EKS" once their VPN route is in place.
    eks_endpoint_port: int = 443
    aws_endpoint_port: int = 4566
    # The AWS API host names (every name under amazonaws.com, hnlab.dns) answer here, over TLS on 443 with a lab CA
    # the hosts trust (hnlab.awstls), forwarded to the emulator: what real components reach as https://<service>.
    aws_api_ip: str = "10.100.0.21"
    aws_api_port: int = 443
    # The ECR registries' host names (<account>.dkr.ecr.<region>.amazonaws.com) answer here, over TLS with the same
    # lab CA, forwarded to the mirror's registry path (hnlab.pause: the sandbox image nodeadm init pulls).
    registry_ip: str = "10.100.0.22"

    # Pod networks (Cilium cluster pool = remote pod networks).
    pod_cidr: str = "192.168.0.0/16"
    pod_mask_size: int = 25
    service_cidr: str = "172.20.0.0/16"

    # Loopback services in the root namespace (controller side).
    moto_port: int = 5055
    authn_port: int = 21362  # the API server's token webhook (hnlab.authn), aws-iam-authenticator's port
    apiserver_port: int = 6443
    etcd_client_port: int = 23790
    etcd_peer_port: int = 23800
    mirror_port: int = 8080  # listened on at mirror_ip inside the mirror namespace

    # The simulated AWS account and cluster.
    region: str = "us-west-2"
    account_id: str = "123456789012"
    cluster_name: str = "hybrid-lab"
    kubernetes_version: str = "1.31"
    # The versions the mirror publishes the nodeadm STAND-IN under (tests/lab/nodeadm_standin; the first is the
    # inventory's hybrid_nodeadm_version); none of them is real_nodeadm_version.
    nodeadm_versions: tuple = ("v1.0.20", "v1.0.18")
    # The pinned release of the REAL nodeadm, built from its Go module (github.com/aws/eks-hybrid, cmd/nodeadm) by
    # hnlab.gobuild and published by the mirror at releases/<this>/bin/linux/amd64/. v1.0.19 is the newest tag the
    # Go module proxy serves (v1.0.20 is refused there); releases before v1.0.19 fail SSM installs.
    real_nodeadm_version: str = "v1.0.19"
    # The pinned release of the REAL Kubernetes of the lab's control plane (kube-apiserver, kubectl) and of the real
    # kubelet, built from k8s.io/kubernetes by hnlab.gobuild. v1.34.4 is the newest patch of an EKS-supported minor
    # that the Go module proxy serves with all its staging modules (v0.31.14 of k8s.io/kube-scheduler, for one, is
    # refused there). The simulated EKS cluster reports this minor (cluster_kubernetes_version); the edge hosts'
    # hybrid_kubernetes_version (kubernetes_version) stays within the kubelet skew policy below it.
    real_kubernetes_version: str = "v1.34.4"
    # What the real `nodeadm install` takes from its manifest besides kubelet and kubectl, each the newest version the
    # Go module proxy serves that goes with Kubernetes 1.34 and nodeadm v1.0.19 (docs/lab-real-nodeadm.md, section 4):
    # the CNI plugins, aws-iam-authenticator, the ECR credential provider (v1.34.4 carries a replace directive,
    # v1.34.3 none) and, for IAM Roles Anywhere, aws_signing_helper (v1.4.0: newer zips are refused).
    real_cni_plugins_version: str = "v1.7.1"
    real_iam_authenticator_version: str = "v0.7.2"
    real_ecr_credential_provider_version: str = "v1.34.3"
    real_signing_helper_version: str = "v1.4.0"

    # Edge hosts.
    default_hosts: int = 3
    max_hosts: int = 200

    @property
    def netns_vpngw(self) -> str:
        return f"{self.prefix}-vpngw"

    @property
    def netns_worker(self) -> str:
        return f"{self.prefix}-worker"

    @property
    def netns_mirror(self) -> str:
        return f"{self.prefix}-mirror"

    @property
    def netns_eksapi(self) -> str:
        return f"{self.prefix}-eksapi"

    @property
    def bridge_edge(self) -> str:
        return f"{self.prefix}-edge"

    @property
    def bridge_vpc(self) -> str:
        return f"{self.prefix}-vpc"

    def host_name(self, index: int) -> str:
        """Edge host name for 1-based index."""
        return f"edge{index:02d}"

    def host_netns(self, index: int) -> str:
        return f"{self.prefix}-{self.host_name(index)}"

    def host_ip(self, index: int) -> str:
        net = ipaddress.ip_network(self.edge_cidr)
        return str(net.network_address + self.first_host_offset - 1 + index)

    # Paths.
    @property
    def rootfs_cache(self) -> Path:
        return self.cache_dir / "rootfs-bookworm"

    @property
    def cluster_kubernetes_version(self) -> str:
        """The minor of the control plane ("1.34"): what the simulated EKS cluster reports."""
        return ".".join(self.real_kubernetes_version.lstrip("v").split(".")[:2])

    @property
    def kubernetes_builds_dir(self) -> Path:
        return self.cache_dir / "go-builds" / f"kubernetes-{self.real_kubernetes_version}"

    @property
    def apiserver_binary(self) -> Path:
        return self.kubernetes_builds_dir / "kube-apiserver"

    @property
    def kubelet_binary(self) -> Path:
        return self.kubernetes_builds_dir / "kubelet"

    @property
    def go_builds_dir(self) -> Path:
        return self.cache_dir / "go-builds"

    @property
    def real_nodeadm_binary(self) -> Path:
        return self.go_builds_dir / f"nodeadm-{self.real_nodeadm_version}" / "nodeadm"

    @property
    def kubectl_binary(self) -> Path:
        return self.kubernetes_builds_dir / "kubectl"

    @property
    def ssh_key(self) -> Path:
        return self.state_dir / "ssh" / "id_ed25519"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "k8s" / "kubeconfig"

    @property
    def inventory_path(self) -> Path:
        """The running lab's inventory (inventory_link points here)."""
        return self.state_dir / "inventory" / "hosts.yml"

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def mirror_base_url(self) -> str:
        return f"http://{self.mirror_ip}:{self.mirror_port}"


def load() -> LabConfig:
    return LabConfig()


def free_loopback_ports(count: int) -> list:
    """Distinct free loopback ports, all held open while picked so that none repeats."""
    sockets = [socket.socket() for _index in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def isolated(state_dir, *port_fields: str, base: LabConfig | None = None) -> LabConfig:
    """A LabConfig with its own state dir and free loopback ports for the named
    fields (e.g. "moto_port"): for tests that start a component beside a lab. An API server of its own (apiserver_port)
    comes with a token webhook of its own (authn_port)."""
    if "apiserver_port" in port_fields and "authn_port" not in port_fields:
        port_fields += ("authn_port",)
    ports = free_loopback_ports(len(port_fields))
    return dataclasses.replace(base or LabConfig(), state_dir=Path(state_dir), **dict(zip(port_fields, ports)))
