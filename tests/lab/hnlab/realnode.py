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
import contextlib

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


def sysctl_standin_program() -> bytes:
    """The stand-in as the hosts run it: its source with the hosts' Python as interpreter."""
    return b"#!/usr/bin/python3\n" + SYSCTL_STANDIN.read_bytes()


def install_sysctl_standin(cfg, host: dict) -> None:
    path = host_root(cfg, host["name"]) / SYSCTL_PATH.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sysctl_standin_program())
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


# ------------------------------------------------------------------ IAM Roles Anywhere for a real node
def make_ca(name: str = "hnlab node CA", days: int = 2):
    """(certificate, key) of a CA that issues node certificates, as a site's own PKI would."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue_node_certificate(ca, ca_key, node_name: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a node: CN = node name, clientAuth (the EKS user guide's requirements)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return cert.public_bytes(pem), key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                                     serialization.NoEncryption())


def rolesanywhere_setup(cfg, ca, role_name: str, accept_session_name: bool = True) -> dict:
    """A trust anchor holding CA and a profile for the role, both enabled, in the emulator: the ARNs NodeConfig
    names (trustAnchorArn, profileArn, roleArn)."""
    from cryptography.hazmat.primitives import serialization

    ra = client(cfg, "rolesanywhere")
    pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    anchor = ra.create_trust_anchor(name=f"{role_name}-anchor", enabled=True, source={
        "sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pem}})["trustAnchor"]
    role_arn = f"arn:aws:iam::{cfg.account_id}:role/{role_name}"
    profile = ra.create_profile(name=f"{role_name}-profile", roleArns=[role_arn], enabled=True,
                                acceptRoleSessionName=accept_session_name)["profile"]
    return {"trustAnchorArn": anchor["trustAnchorArn"], "profileArn": profile["profileArn"], "roleArn": role_arn}


def rolesanywhere_cleanup(cfg, arns: dict) -> None:
    ra = client(cfg, "rolesanywhere")
    ra.delete_profile(profileId=arns["profileArn"].rsplit("/", 1)[1])
    ra.delete_trust_anchor(trustAnchorId=arns["trustAnchorArn"].rsplit("/", 1)[1])


@contextlib.contextmanager
def vpc_route(cfg, host: dict):
    """The host's route to the VPC via the VPN server IP (what host preparation installs on a real site), for the
    time of a block; removed after it only when it was added here."""
    from .testing import ssh

    route = f"{cfg.vpc_cidr} via {cfg.vpn_gateway_edge_ip}"
    added = ssh(cfg, host, f"ip route show {cfg.vpc_cidr} | grep -q . || {{ ip route add {route} && echo added; }}")
    if added.returncode != 0:
        raise RuntimeError(f"{host['name']}: cannot add the route {route}: {added.stderr}")
    try:
        yield
    finally:
        if "added" in added.stdout:
            ssh(cfg, host, f"ip route del {route}")


# ------------------------------------------------------------------ the real profile (hnlab.inventory)
def prepare_hosts(cfg, hosts: list[dict] | None = None) -> int:
    """What every edge host needs for the real nodeadm and kubelet that a real host has: the sysctl stand-in (above),
    /dev/kmsg (the kubelet's OOM watcher reads it; nspawn has none: a link to the console, as lab recipes say), and the
    kernel values the kubelet insists on, set on the machine until the lab stops (hnlab.network). Returns the count."""
    from . import edge, network
    from .testing import ssh

    network.set_kubelet_sysctls(cfg, hold=True)
    count = 0
    for spec in hosts if hosts is not None else edge.load_hosts(cfg):
        if spec["kind"] != "edge":
            continue
        install_sysctl_standin(cfg, spec)
        result = ssh(cfg, spec, "[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg")
        if result.returncode != 0:
            raise RuntimeError(f"{spec['name']}: /dev/kmsg: {result.stderr}")
        count += 1
    return count


def site_ca_paths(cfg) -> tuple:
    """(certificate, key) of the lab site's IAM Roles Anywhere CA (the real profile's hybrid_iam_ra_ca_*_path)."""
    directory = cfg.state_dir / "iam-ra"
    return directory / "ca.pem", directory / "ca.key"


def make_site_ca(cfg) -> tuple:
    """The site CA that issues the node certificates in the real profile, made once per lab."""
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = site_ca_paths(cfg)
    if not (cert_path.exists() and key_path.exists()):
        cert_path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        ca, key = make_ca(f"{cfg.cluster_name} lab site CA", days=365)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        cert_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
