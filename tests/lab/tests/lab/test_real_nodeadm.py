"""The real nodeadm in the lab, and the stand-in held to it (root only).

The real nodeadm (github.com/aws/eks-hybrid at cfg.real_nodeadm_version, built from its Go module by hnlab.gobuild)
is published by the lab mirror in the hybrid-assets layout. These tests:
  - fetch it onto a lab host through the collection's own download-and-verify tasks (role nodeadm, download.yml),
    next to the stand-in fetched the same way;
  - run `nodeadm config check` of the real nodeadm on every kind of NodeConfig the collection renders (ssm and
    iam-ra, labels, taints, kubelet flags and configuration, containerd configuration, credentials file, proxy-free
    and with the node IP flag): the real nodeadm must accept each one;
  - compare the stand-in with the real nodeadm on the same argument lists and the same NodeConfigs: exit codes, and
    the meaning of the message (usage error, the same validation error). What the comparison showed the stand-in doing
    otherwise (refusing another kind or apiVersion, ignoring unknown fields) was mended in the stand-in; the cases
    stay here (REFUSED, ACCEPTED_AS_IS) so that a change on either side shows.
config check needs systemd's D-Bus socket (internal/daemon/systemd.go), hence a lab host rather than the machine.
"""

from __future__ import annotations

import datetime
import json
import shlex
import tempfile
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hnlab import edge, mirror
from hnlab.testing import play, ssh

from ansible_collections.hybridnodes.eks.plugins.module_utils.rules import nodeconfig

REAL = "/usr/local/bin/nodeadm-real"
STANDIN = "/usr/local/bin/nodeadm-standin"
WORK = "/root/nodeadm-contract"
UUID = "8d4c6b1e-3f2a-4b5c-9d7e-0123456789ab"
CODE = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"


def _ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def host(lab):
    """One edge host with both binaries, fetched by the collection's download tasks; removed at the end."""
    if not lab.real_nodeadm_binary.exists():
        pytest.fail(f"{lab.real_nodeadm_binary} missing: the lab's one-time builds (tests/lab/k8s/build.py) make it")
    assert mirror.publish_real_nodeadm(lab) is not None
    spec = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"][0]
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "fetch.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "Fetch nodeadm builds with the collection's download tasks",
            "hosts": spec["name"], "gather_facts": False,
            "tasks": [{"name": f"Fetch {version}", "ansible.builtin.include_role": {
                "name": "hybridnodes.eks.nodeadm", "tasks_from": "download.yml"},
                "vars": {"nodeadm_version": version, "nodeadm_binary": dest, "nodeadm_cache_dir": ""}}
                for version, dest in ((lab.real_nodeadm_version, REAL), (lab.nodeadm_versions[0], STANDIN))],
        }]))
        code, output = play(lab.inventory_path, playbook)
    assert code == 0, output
    _ok(ssh(lab, spec, f"mkdir -p {WORK}"))
    try:
        yield spec
    finally:
        ssh(lab, spec, f"rm -rf {REAL} {STANDIN} {WORK} /etc/iam/pki-contract; rmdir /etc/iam 2>/dev/null; true")


def test_the_collection_fetches_and_verifies_the_real_nodeadm(lab, host):
    published = (mirror.mirror_root(lab) / "releases" / lab.real_nodeadm_version / "bin/linux/amd64/nodeadm.sha256")
    digest = mirror.parse_checksum_file(published.read_text())
    on_host = _ok(ssh(lab, host, f"sha256sum {REAL}")).stdout.split()[0]
    assert on_host == digest
    # The very binary hnlab.gobuild built from the Go module, and it says its pinned version.
    import hashlib

    assert hashlib.sha256(lab.real_nodeadm_binary.read_bytes()).hexdigest() == digest
    assert _ok(ssh(lab, host, f"{REAL} --version")).stdout.strip() == f"Version: {lab.real_nodeadm_version}"


def _iam_ra_files(lab, host, node_name):
    """A private CA, and a node key and certificate (CN = node name) on the host, where NodeConfig points."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "contract test CA")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    _ok(ssh(lab, host, f"mkdir -p /etc/iam/pki-contract && umask 077 && "
                       f"printf %s {shlex.quote(pem)} > /etc/iam/pki-contract/server.pem && "
                       f"printf %s {shlex.quote(key_pem)} > /etc/iam/pki-contract/server.key"))
    return "/etc/iam/pki-contract/server.pem", "/etc/iam/pki-contract/server.key"


def _rendered(lab, host):
    """{name: NodeConfig} of each kind the collection renders (plugins/module_utils/rules/nodeconfig.render)."""
    cert, key = _iam_ra_files(lab, host, "edge-contract-01")
    ssm = {"activationId": UUID, "activationCode": CODE}
    iam_ra = {"nodeName": "edge-contract-01",
              "trustAnchorArn": f"arn:aws:rolesanywhere:{lab.region}:{lab.account_id}:trust-anchor/" + UUID,
              "profileArn": f"arn:aws:rolesanywhere:{lab.region}:{lab.account_id}:profile/" + UUID,
              "roleArn": f"arn:aws:iam::{lab.account_id}:role/hybrid-lab-hybrid-nodes",
              "certificatePath": cert, "privateKeyPath": key}
    base = {"cluster_name": lab.cluster_name, "region": lab.region}
    return {
        "ssm-minimal": nodeconfig.render(credential_provider="ssm", ssm=ssm, **base),
        "ssm-node-ip-labels-taints": nodeconfig.render(
            credential_provider="ssm", ssm=ssm, node_ip="10.200.0.11",
            node_labels={"hybridnodes.eks/pool": "general", "topology.kubernetes.io/zone": "edge-a"},
            node_taints=["dedicated=edge:NoSchedule", "gpu:NoExecute"], **base),
        "ssm-kubelet-extra-config-containerd": nodeconfig.render(
            credential_provider="ssm", ssm=ssm, node_ip="10.200.0.11", kubelet_extra_flags=["--max-pods=58"],
            kubelet_config={"shutdownGracePeriod": "30s", "maxPods": 58},
            containerd_config='[plugins."io.containerd.grpc.v1.cri".containerd]\ndiscard_unpacked_layers = false\n',
            **base),
        "iam-ra": nodeconfig.render(credential_provider="iam-ra", iam_roles_anywhere=iam_ra, node_ip="10.200.0.12",
                                    **base),
        "iam-ra-credentials-file-labels": nodeconfig.render(
            credential_provider="iam-ra", iam_roles_anywhere=iam_ra, node_ip="10.200.0.12",
            node_labels={"hybridnodes.eks/pool": "gpu"}, node_taints=["nvidia.com/gpu=true:NoSchedule"],
            enable_credentials_file=True, **base),
    }


def _check(lab, host, binary, name, doc):
    path = f"{WORK}/{name}.yaml"
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    _ok(ssh(lab, host, f"umask 077 && printf %s {shlex.quote(text)} > {path}"))
    return ssh(lab, host, f"{binary} config check -c file://{path}")


def _fatal(stderr):
    """The error of nodeadm's (or the stand-in's) fatal JSON log line, or None."""
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") == "fatal":
            return entry.get("error", "")
    return None


def test_the_real_nodeadm_accepts_every_nodeconfig_the_collection_renders(lab, host):
    for name, doc in _rendered(lab, host).items():
        # The collection's own rules find nothing either.
        assert nodeconfig.problems(doc, [lab.edge_cidr]) == [], name
        real = _check(lab, host, REAL, name, doc)
        assert real.returncode == 0 and "Configuration is valid" in real.stderr, (name, real.stderr)
        standin = _check(lab, host, STANDIN, name, doc)
        assert standin.returncode == 0, (name, standin.stderr)


# NodeConfigs both must refuse, with the same validation message (nodeadm internal/node/hybrid/validator.go).
REFUSED = {
    "no-region": ({"spec": {"cluster": {"name": "c"}, "hybrid": {"ssm": {"activationId": UUID, "activationCode": CODE}}}},
                  "Region is missing in cluster configuration"),
    "no-name": ({"spec": {"cluster": {"region": "us-west-2"}, "hybrid": {"ssm": {"activationId": UUID,
                                                                                 "activationCode": CODE}}}},
                "Name is missing in cluster configuration"),
    "short-code": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"},
                             "hybrid": {"ssm": {"activationId": UUID, "activationCode": "short"}}}},
                   "invalid ActivationCode format"),
    "upper-id": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"},
                           "hybrid": {"ssm": {"activationId": UUID.upper(), "activationCode": CODE}}}},
                 "invalid ActivationID format"),
    "both-providers": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"}, "hybrid": {
        "ssm": {"activationId": UUID, "activationCode": CODE},
        "iamRolesAnywhere": {"nodeName": "n", "roleArn": "r", "profileArn": "p", "trustAnchorArn": "t"}}}},
        "Only one of IAMRolesAnywhere or SSM must be provided"),
    "long-node-name": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"}, "hybrid": {"iamRolesAnywhere": {
        "nodeName": "n" * 65, "roleArn": "r", "profileArn": "p", "trustAnchorArn": "t"}}}},
        "NodeName can't be longer than 64 characters"),
    "no-role-arn": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"}, "hybrid": {"iamRolesAnywhere": {
        "nodeName": "n", "profileArn": "p", "trustAnchorArn": "t"}}}}, "RoleARN is missing"),
    # A file:// NodeConfig is decoded strictly (internal/configprovider/file.go); the stand-in ignored unknown fields
    # until this comparison showed it.
    "unknown-field": ({"spec": {"cluster": {"name": "c", "region": "us-west-2", "bogus": 1},
                                "hybrid": {"ssm": {"activationId": UUID, "activationCode": CODE}}}},
                      'json: unknown field "bogus"'),
    "unknown-nested-field": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"},
                                       "hybrid": {"ssm": {"activationId": UUID, "activationCode": CODE,
                                                          "activationToken": "x"}}}},
                             'json: unknown field "activationToken"'),
    "hostname-override": ({"spec": {"cluster": {"name": "c", "region": "us-west-2"},
                                    "kubelet": {"flags": ["--hostname-override=other"]},
                                    "hybrid": {"ssm": {"activationId": UUID, "activationCode": CODE}}}},
                          "hostname-override kubelet flag is not supported for hybrid nodes"),
}

# NodeConfigs both must accept although they look wrong: nodeadm decodes apiVersion and kind but checks neither
# (internal/api/bridge/decode.go). The stand-in refused both until this comparison showed it.
ACCEPTED_AS_IS = {
    "other-kind": {"apiVersion": "node.eks.aws/v1alpha1", "kind": "Other",
                   "spec": {"cluster": {"name": "c", "region": "us-west-2"},
                            "hybrid": {"ssm": {"activationId": UUID, "activationCode": CODE}}}},
    "other-api-version": {"apiVersion": "node.eks.aws/v1", "kind": "NodeConfig",
                          "spec": {"cluster": {"name": "c", "region": "us-west-2"},
                                   "hybrid": {"ssm": {"activationId": UUID, "activationCode": CODE}}}},
}


def _with_header(doc):
    return {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig", **doc} if "kind" not in doc else doc


def test_the_stand_in_refuses_what_nodeadm_refuses_with_its_message(lab, host):
    for name, (doc, message) in REFUSED.items():
        real = _check(lab, host, REAL, name, _with_header(doc))
        standin = _check(lab, host, STANDIN, name, _with_header(doc))
        assert real.returncode == 1 and message in (_fatal(real.stderr) or ""), (name, real.stderr)
        assert standin.returncode == 1 and message in (_fatal(standin.stderr) or ""), (name, standin.stderr)


def test_the_stand_in_accepts_what_nodeadm_accepts_as_is(lab, host):
    for name, doc in ACCEPTED_AS_IS.items():
        real = _check(lab, host, REAL, name, doc)
        standin = _check(lab, host, STANDIN, name, doc)
        assert real.returncode == 0, (name, real.stderr)
        assert standin.returncode == 0, (name, standin.stderr)


# Argument lists that stop before nodeadm changes anything (parsing, or checks before any action), with what both
# must answer: 2 = usage error (help printed), 1 = fatal error, 0 = a trap that does nothing.
ARGV = [
    (["--version"], 0),
    (["bogus-verb"], 2),
    (["install"], 2),                                        # KUBERNETES_VERSION missing
    (["install", "1.31"], 2),                                # --credential-provider missing
    (["install", "1.31", "-p", "foo"], 1),                   # invalid credential provider
    (["install", "1.31", "-p", "ssm", "--bogus"], 2),        # unknown flag
    (["install", "1.31", "-p", "ssm", "-s", "foo"], 1),      # invalid containerd source
    (["init"], 2),                                           # --config-source missing
    (["init", "-c", "file:///nonexistent.yaml", "--bogus"], 2),
    (["upgrade", "1.32"], 2),                                # --config-source missing
    (["uninstall", "-x"], 2),
    (["debug", "--bogus"], 2),
]


def test_the_stand_in_parses_arguments_as_nodeadm_does(lab, host):
    # Nothing is installed on this host (no /opt/nodeadm/tracker): the traps stay traps for both.
    assert ssh(lab, host, "[ ! -e /opt/nodeadm/tracker ]").returncode == 0
    for argv, expected in ARGV:
        args = " ".join(shlex.quote(a) for a in argv)
        real = ssh(lab, host, f"{REAL} {args}")
        standin = ssh(lab, host, f"{STANDIN} {args}")
        assert real.returncode == expected, (argv, real.stdout, real.stderr)
        assert standin.returncode == expected, (argv, standin.stdout, standin.stderr)
        if expected == 1:  # the same error, in nodeadm's words
            assert _fatal(real.stderr) and _fatal(standin.stderr), (argv, real.stderr, standin.stderr)
            assert _fatal(real.stderr).split(".")[0] in _fatal(standin.stderr), (argv, real.stderr, standin.stderr)
