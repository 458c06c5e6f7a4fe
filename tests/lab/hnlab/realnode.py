"""What a lab host needs for the real nodeadm's init, and what init leaves on it.

The real nodeadm (hnlab.gobuild, published by hnlab.mirror) runs on an nspawn host unchanged. The few places where an
nspawn host differs from a real one are bridged here, each named:
  - /proc/sys is read-only in the container, so `sysctl --system` (init's sysctl aspect) fails on keys the container
    cannot write: the STAND-IN tests/lab/sysctl_standin/sysctl.py takes the place of sysctl on PATH for those keys alone
    (its docstring gives the boundary; tests/lab/tests/lab/test_sysctl_standin.py holds it to the real sysctl).
The NodeConfig a test gives init is built from what the emulated EKS reports of the lab's cluster (DescribeCluster),
so init needs no AWS call for it (docs/lab-real-nodeadm.md, step 3).
"""

from __future__ import annotations

import base64

from .aws.clients import client
from .config import LAB_DIR
from .edge import host_root

SYSCTL_STANDIN = LAB_DIR / "sysctl_standin" / "sysctl.py"
SYSCTL_PATH = "/usr/local/sbin/sysctl"
SYSCTL_RECORD = "/var/lib/hnlab-sysctl-standin"
# What init writes (aws/eks-hybrid v1.0.19: node/hybrid/aws.go, internal/containerd/config.go, internal/kubelet/*.go,
# internal/system/sysctl.go): removed when a test leaves the host.
INIT_WRITES = ("/etc/aws/hybrid", "/etc/containerd", "/etc/kubernetes", "/var/lib/kubelet", "/etc/eks/kubelet",
               "/etc/eks/image-credential-provider/config.json", "/etc/sysctl.d/99-nodeadm.conf",
               "/etc/modules-load.d/containerd.conf", "/eks-hybrid")


def install_sysctl_standin(cfg, host: dict) -> None:
    path = host_root(cfg, host["name"]) / SYSCTL_PATH.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SYSCTL_STANDIN.read_bytes())
    path.chmod(0o755)


def remove_sysctl_standin_command() -> str:
    return f"rm -rf {SYSCTL_PATH} {SYSCTL_RECORD}"


def cluster(cfg) -> dict:
    """The lab cluster as nodeadm would read it with eks:DescribeCluster."""
    return client(cfg, "eks").describe_cluster(name=cfg.cluster_name)["cluster"]


def iam_ra_node_config(cfg, node_name: str, arns: dict, kubelet_config: dict | None = None) -> dict:
    """An IAM Roles Anywhere NodeConfig with the cluster's endpoint, CA and service CIDR given, as nodeadm's
    configenricher would otherwise fetch them (node/hybrid/configenricher.go)."""
    described = cluster(cfg)
    spec = {
        "cluster": {"name": cfg.cluster_name, "region": cfg.region, "apiServerEndpoint": described["endpoint"],
                    "certificateAuthority": described["certificateAuthority"]["data"],
                    "cidr": described["kubernetesNetworkConfig"]["serviceIpv4Cidr"]},
        "hybrid": {"iamRolesAnywhere": dict(arns, nodeName=node_name, certificatePath="/etc/iam/pki/server.pem",
                                            privateKeyPath="/etc/iam/pki/server.key")},
    }
    if kubelet_config:
        spec["kubelet"] = {"config": kubelet_config}
    return {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig", "spec": spec}


def ca_pem(described: dict) -> str:
    return base64.b64decode(described["certificateAuthority"]["data"]).decode()
