"""IAM Roles Anywhere node certificates on the lab: playbooks/join.yml with hybrid_credential_provider=iam-ra (root only).

A test CA (ECDSA, its key encrypted with a passphrase) is made in a temporary directory on the
controller; the lab's AWS emulator gets a trust anchor holding it, a profile and a hybrid nodes role
with a HYBRID_LINUX access entry. In file order, over every edge host of the running lab:
  - a public root of the controller's trust store given as the CA is refused with a message naming
    the file, the store and the fix, before any change on the hosts (no route, no package, no file);
  - --check predicts and changes nothing; the join gives each host /etc/iam/pki/server.pem with CN = its node name, issued and signed by
    the test CA (clientAuth, digitalSignature), for the key /etc/iam/pki/server.key (mode 0600) that
    was made on the host; nodeadm init succeeds (the stand-in checks the CN) and each Node is Ready;
    neither the host keys, the CA key nor its passphrase appear in the -vvv output;
  - a re-run reports changed=0 and leaves the certificates as they are;
  - with a renewal window longer than the certificates' remaining validity, each certificate is
    issued again (same host key, new validity) and the next run changes nothing.
Everything is undone at the end (nodeadm uninstalled, /etc/iam, /etc/nodeadm, the packages the run
installed, Nodes, routes, and the emulator's trust anchor, profile, access entry and role), since
other lab tests expect hosts without the VPC route and without nodeadm.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import uuid
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hnlab.testing import REPO, light_inventory, play, recap as _recap, ssh as _ssh
from hnlab import edge, k8s, realnode, testing
from hnlab.aws.clients import client

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

# On the light profile's inventory (hnlab.testing.light_inventory): it runs join.yml alone, and the real profile's IAM
# Roles Anywhere join needs the ARNs and the cluster's remote networks that site.yml's aws stage makes (the real
# nodeadm refuses a cluster without remote networks, as EKS does: configenricher.go). The real join, certificates
# included, is test_zy_real_site.py's site run.

JOIN = REPO / "playbooks" / "join.yml"
NODEADM = "/usr/local/bin/nodeadm"
NODE_CONFIG = "/etc/nodeadm/nodeConfig.yaml"
CERT = "/etc/iam/pki/server.pem"
KEY = "/etc/iam/pki/server.key"
ROUTE_DROP_IN = "/etc/systemd/network/10-eth0.network.d/hybridnodes-eks-routes.conf"
PUBLIC_ROOT = "/etc/ssl/certs/ISRG_Root_X1.pem"
PACKAGES = "dpkg-query -W -f '${Package}\\n' | sort"


def _play(cfg, *extra, timeout=900):
    return play(light_inventory(cfg), JOIN, *extra, timeout=timeout)


def _node_names(cfg):
    inv = yaml.safe_load(light_inventory(cfg).read_text())
    names = {}
    for pool in inv["all"]["children"]["hybrid_nodes"]["children"].values():
        for name, hostvars in pool["hosts"].items():
            names[name] = (hostvars or {}).get("hybrid_node_name", name)
    return names


def _node_by_ip(cfg, ip):
    from kubernetes import client as kube

    with k8s.api_client(cfg) as api:
        for node in kube.CoreV1Api(api).list_node().items:
            if any(a.type == "InternalIP" and a.address == ip for a in (node.status.addresses or [])):
                return node
    return None


def _make_ca(directory: Path, passphrase: str) -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hnlab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"hnlab iam-ra test CA {uuid.uuid4().hex[:6]}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(passphrase.encode()))
    key_path.write_bytes(key_pem)
    key_path.chmod(0o600)
    return {"cert": cert, "cert_path": str(cert_path), "key_path": str(key_path), "key_pem": key_pem.decode()}


def _pem_bodies(pem: str) -> list[str]:
    """The base64 lines of a PEM (what would show if it leaked), long enough not to match by chance."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----") and len(line) >= 40]


def _cleanup(cfg, hosts, packages_before, role_name, anchor_id, profile_id):
    route = f"{cfg.vpc_cidr} via {cfg.vpn_gateway_edge_ip}"
    for host in hosts:
        _ssh(cfg, host, f"[ -x {NODEADM} ] && {NODEADM} uninstall --skip pod-validation,node-validation; "
                        f"rm -f {NODEADM} {ROUTE_DROP_IN}; rm -rf /etc/nodeadm /etc/iam {' '.join(realnode.INIT_WRITES)}; "
                        f"rmdir {os.path.dirname(ROUTE_DROP_IN)} /etc/aws /opt/cni /var/lib/amazon /etc/eks "
                        f"/var/lib/nodeadm-standin 2>/dev/null; ip route del {route} 2>/dev/null; {testing.CNI_CLEANUP}; true", timeout=180)
        before = packages_before.get(host["name"])
        if before is not None:
            added = sorted(set(_ssh(cfg, host, PACKAGES).stdout.split()) - set(before))
            if added:
                _ssh(cfg, host, "DEBIAN_FRONTEND=noninteractive apt-get -y -q purge " + " ".join(map(shlex.quote, added)),
                     timeout=300)
    from kubernetes import client as kube

    ips = {host["ip"] for host in hosts}
    with k8s.api_client(cfg) as api:
        core = kube.CoreV1Api(api)
        for node in core.list_node().items:
            if any(a.type == "InternalIP" and a.address in ips for a in (node.status.addresses or [])):
                core.delete_node(node.metadata.name)
    ra, iam, eks = client(cfg, "rolesanywhere"), client(cfg, "iam"), client(cfg, "eks")
    steps = [lambda: ra.delete_profile(profileId=profile_id) if profile_id else None,
             lambda: ra.delete_trust_anchor(trustAnchorId=anchor_id) if anchor_id else None,
             lambda: eks.delete_access_entry(clusterName=cfg.cluster_name,
                                             principalArn=f"arn:aws:iam::{cfg.account_id}:role/{role_name}"),
             lambda: iam.delete_role(RoleName=role_name)]
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - cleanup is best effort, each step on its own
            pass


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory):
    """The edge hosts, a test CA, and in the emulator its trust anchor, a profile and a role; all undone at the end."""
    hosts = [spec for spec in edge.load_hosts(lab) if spec["kind"] == "edge"]
    if not hosts:
        pytest.skip("the lab has no edge hosts")
    for host in hosts:
        present = _ssh(lab, host, f"ls -d {NODEADM} {NODE_CONFIG} /etc/iam 2>/dev/null; true").stdout.split()
        assert present == [], (host["name"], "expected a host without nodeadm", present)
    passphrase = f"ca-pass-{uuid.uuid4().hex}"
    ca = _make_ca(tmp_path_factory.mktemp("iam-ra-ca"), passphrase)
    role_name = f"lab-iam-ra-{uuid.uuid4().hex[:8]}"
    packages_before = {}
    anchor_id = profile_id = None
    try:
        for host in hosts:
            listing = _ssh(lab, host, PACKAGES)
            assert listing.returncode == 0, listing.stderr
            packages_before[host["name"]] = listing.stdout.split()
        role_arn = client(lab, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "rolesanywhere.amazonaws.com"},
                                                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]}
        ))["Role"]["Arn"]
        client(lab, "eks").create_access_entry(clusterName=lab.cluster_name, principalArn=role_arn, type="HYBRID_LINUX")
        ra = client(lab, "rolesanywhere")
        anchor = ra.create_trust_anchor(name=role_name, enabled=True, source={
            "sourceType": "CERTIFICATE_BUNDLE",
            "sourceData": {"x509CertificateData": Path(ca["cert_path"]).read_text()}})["trustAnchor"]
        anchor_id = anchor["trustAnchorId"]
        # acceptRoleSessionName: nodeadm asks for the node name as the session name, which CreateSession refuses
        # otherwise (the real aws_signing_helper and the emulator's CreateSession; the EKS guide's profile has it).
        profile = ra.create_profile(name=role_name, roleArns=[role_arn], enabled=True,
                                    acceptRoleSessionName=True)["profile"]
        profile_id = profile["profileId"]
        extra = {
            "hybrid_credential_provider": "iam-ra",
            "hybrid_iam_role_name": role_name,
            "hybrid_iam_ra_ca_certificate_path": ca["cert_path"],
            "hybrid_iam_ra_ca_private_key_path": ca["key_path"],
            "hybrid_iam_ra_ca_private_key_passphrase": passphrase,
            "hybrid_iam_ra_trust_anchor_arn": anchor["trustAnchorArn"],
            "hybrid_iam_ra_profile_arn": profile["profileArn"],
            "hybrid_iam_ra_role_arn": role_arn,
            "nodeadm_retry_delay": 1,
        }
        yield {"hosts": hosts, "ca": ca, "passphrase": passphrase, "extra": extra, "names": _node_names(lab),
               "packages": packages_before}
    finally:
        _cleanup(lab, hosts, packages_before, role_name, anchor_id, profile_id)


def _extra(site, **overrides):
    return ["-e", json.dumps(dict(site["extra"], **overrides))]


def _certificate(cfg, host):
    out = _ssh(cfg, host, f"cat {CERT}")
    assert out.returncode == 0, (host["name"], out.stderr)
    return x509.load_pem_x509_certificate(out.stdout.encode())


def test_a_public_ca_is_refused_before_any_change(lab, site):
    hosts = site["hosts"]
    code, output = _play(lab, *_extra(site, hybrid_iam_ra_ca_certificate_path=PUBLIC_ROOT))
    assert code != 0, output
    assert f"The CA certificate (hybrid_iam_ra_ca_certificate_path) {PUBLIC_ROOT}" in output, output
    assert "is a public CA (found in /etc/ssl/certs/ca-certificates.crt)" in output, output
    assert "Use a private CA for the hybrid nodes: AWS Private CA, or your own" in output, output
    assert "nothing was changed" in output, output
    recap = _recap(output)
    # The check runs once, on the controller, and stops the play for every host before any other task.
    assert sum(counts["failed"] for counts in recap.values()) == 1, output
    assert "Add the VPC route" not in output and "TASK [hybridnodes.eks.edge_routes" not in output, output
    for host in hosts:
        assert recap[host["name"]]["changed"] == 0, output
        present = _ssh(lab, host, f"ls -d {NODEADM} {NODE_CONFIG} /etc/iam {ROUTE_DROP_IN} 2>/dev/null; true").stdout.split()
        assert present == [], (host["name"], present)
        assert lab.vpc_cidr not in _ssh(lab, host, "ip -4 route").stdout
        assert _ssh(lab, host, PACKAGES).stdout.split() == site["packages"][host["name"]], host["name"]


def test_join_gives_each_host_a_certificate_with_its_node_name_from_the_ca(lab, site):
    hosts, ca = site["hosts"], site["ca"]
    # --check first: predicts (the package to install) and changes nothing on the hosts.
    code, output = _play(lab, "--check", *_extra(site, nodeadm_verify=False))
    assert code == 0, output
    assert re.search(r"TASK \[hybridnodes.eks.nodeadm : Install the Python library community.crypto needs on the host\] \*+\n"
                     r"(changed: \[edge0\d\]\n)+", output), output
    for host in hosts:
        assert _ssh(lab, host, f"ls -d /etc/iam {NODE_CONFIG} 2>/dev/null; true").stdout.split() == [], host["name"]
        assert _ssh(lab, host, PACKAGES).stdout.split() == site["packages"][host["name"]], host["name"]

    code, output = _play(lab, "-vvv", *_extra(site))
    assert code == 0, output[-20000:]
    ca_key = ca["cert"].public_key()
    for host in hosts:
        name = site["names"][host["name"]]
        cert = _certificate(lab, host)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        assert cert.issuer == ca["cert"].subject
        ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
        assert datetime.timedelta(days=89) < left <= datetime.timedelta(days=90)  # the 90-day default
        mode = _ssh(lab, host, f"stat -c '%a %U' {KEY} $(dirname {KEY})").stdout.split()
        assert mode == ["600", "root", "700", "root"], (host["name"], mode)
        key_pem = _ssh(lab, host, f"cat {KEY}").stdout
        key = serialization.load_pem_private_key(key_pem.encode(), None)
        assert key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            == cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        # The host's key, the CA's key and its passphrase never appear in the -vvv output.
        assert _pem_bodies(key_pem) and not any(line in output for line in _pem_bodies(key_pem)), host["name"]
        # nodeadm init ran with the certificate (its CreateSession needs the CN to be nodeName) and the kubelet posts
        # the Node's status (NotReady until a CNI runs).
        config = yaml.safe_load(_ssh(lab, host, f"cat {NODE_CONFIG}").stdout)
        ira = config["spec"]["hybrid"]["iamRolesAnywhere"]
        assert (ira["nodeName"], ira["certificatePath"], ira["privateKeyPath"]) == (name, CERT, KEY)
        node = _node_by_ip(lab, host["ip"])
        assert node is not None and node.metadata.name == name, host["name"]
        assert testing.kubelet_posting(node), node.status.conditions
    assert not any(line in output for line in _pem_bodies(ca["key_pem"]))
    assert site["passphrase"] not in output
    assert "PRIVATE KEY-----" not in output


def test_rerun_changes_nothing(lab, site):
    probe = f"sha256sum {CERT} {KEY}; stat -c %Y {CERT} {KEY}"
    before = {host["name"]: _ssh(lab, host, probe).stdout for host in site["hosts"]}
    code, output = _play(lab, *_extra(site))
    assert code == 0, output
    assert all(counts["changed"] == 0 for counts in _recap(output).values()), output
    assert {host["name"]: _ssh(lab, host, probe).stdout for host in site["hosts"]} == before


def test_a_certificate_expiring_within_the_renewal_window_is_issued_again(lab, site):
    hosts = site["hosts"]
    before = {host["name"]: _certificate(lab, host) for host in hosts}
    key_before = {host["name"]: _ssh(lab, host, f"sha256sum {KEY}").stdout for host in hosts}
    # The 90-day certificates expire within a 400-day window: issued again, valid 500 days.
    longer = {"hybrid_iam_ra_certificate_renew_days": 400, "hybrid_iam_ra_certificate_days": 500}
    code, output = _play(lab, *_extra(site, **longer))
    assert code == 0, output
    recap = _recap(output)
    for host in hosts:
        name = site["names"][host["name"]]
        assert recap[host["name"]]["changed"] >= 1, output
        flat = " ".join(output.split())  # the YAML callback wraps long messages
        assert re.search(rf"Issuing the certificate of {name}: it expires on \d{{14}}Z, within 400 days", flat), output
        cert = _certificate(lab, host)
        old = before[host["name"]]
        assert cert.serial_number != old.serial_number
        assert cert.subject == old.subject and cert.issuer == site["ca"]["cert"].subject
        assert cert.not_valid_after_utc - old.not_valid_after_utc > datetime.timedelta(days=130)
        assert _ssh(lab, host, f"sha256sum {KEY}").stdout == key_before[host["name"]]  # the same host key
    code, output = _play(lab, *_extra(site, **longer))
    assert code == 0, output
    assert all(counts["changed"] == 0 for counts in _recap(output).values()), output
