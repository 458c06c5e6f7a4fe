"""The AWS API host names behind TLS inside the lab, and the lab CA the edge hosts trust for them.

Real components use the real AWS host names over https and verify them against the system's CA bundle:
aws_signing_helper's CreateSession at rolesanywhere.<region>.amazonaws.com (rolesanywhere-credential-helper v1.4.0
has no endpoint setting that nodeadm passes), nodeadm's own STS, EKS and ECR calls (aws-sdk-go-v2). The lab answers
every name under amazonaws.com with cfg.aws_api_ip (hnlab.dns), where hnlab.nsforward terminates TLS with SERVER_CERT
and hands the plain HTTP request, Host header unchanged, to the AWS emulator (moto dispatches on the Host).

SERVER_CERT is issued by a lab CA of its own (not the cluster's CA), which stands in for the public CAs: the edge
hosts trust it as Debian's update-ca-certificates would make them trust a local CA (trust_on_hosts).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from . import edge

HOST_CA = "/usr/local/share/ca-certificates/hnlab-aws-api-ca.crt"
HOST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def tls_dir(cfg) -> Path:
    return cfg.state_dir / "aws-tls"


def ca_path(cfg) -> Path:
    return tls_dir(cfg) / "ca.crt"


def server_paths(cfg) -> tuple[Path, Path]:
    return tls_dir(cfg) / "server.crt", tls_dir(cfg) / "server.key"


def server_names(cfg) -> list[str]:
    """The names the server certificate covers: one wildcard level each, as TLS matches them."""
    return ["amazonaws.com", "*.amazonaws.com", f"*.{cfg.region}.amazonaws.com",
            f"*.ecr.{cfg.region}.amazonaws.com", f"*.eks.{cfg.region}.amazonaws.com",
            f"*.dkr.ecr.{cfg.region}.amazonaws.com"]


def make_pki(cfg) -> None:
    """The lab CA and the AWS API server certificate, once per lab (kept in its state dir)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    cert_path, key_path = server_paths(cfg)
    now = datetime.datetime.now(datetime.timezone.utc)
    if ca_path(cfg).exists() and cert_path.exists() and key_path.exists():
        kept = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = kept.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
        if kept.not_valid_after_utc > now + datetime.timedelta(days=1) and names == server_names(cfg):
            return
    tls_dir(cfg).mkdir(parents=True, mode=0o700, exist_ok=True)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("hnlab AWS API CA")).issuer_name(name("hnlab AWS API CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("amazonaws.com")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in server_names(cfg)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(pem))
    ca_path(cfg).write_bytes(ca.public_bytes(pem))


def trust_on_hosts(cfg, hosts: list[dict] | None = None) -> int:
    """Make the edge hosts trust the lab CA: the file update-ca-certificates reads, and the bundle it would write
    (appended, once). Returns how many hosts were changed."""
    pem = ca_path(cfg).read_text()
    changed = 0
    for spec in hosts if hosts is not None else edge.load_hosts(cfg):
        if spec["kind"] != "edge":
            continue
        root = edge.host_root(cfg, spec["name"])
        local = root / HOST_CA.lstrip("/")
        bundle = root / HOST_BUNDLE.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(pem)
        text = bundle.read_text() if bundle.exists() else ""
        if pem.strip() not in text:
            bundle.parent.mkdir(parents=True, exist_ok=True)
            bundle.write_text(text + ("" if text.endswith("\n") or not text else "\n") + pem)
            changed += 1
    return changed
