"""playbooks/aws_prerequisites.yml and the SSM activation module, run by ansible-playbook against the
lab's AWS emulator: the first run creates exactly the role, its policies, the access entry and the
remote networks; the re-run makes no write call; a bad inventory fails, listing every problem, before
any write; the activation code never appears in -vvv output.

Starts its own emulator on a free loopback port with a temporary state dir (never the lab's ports).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hnlab import aws
from hnlab.aws.clients import client
from hnlab.aws.labapi import LabApi
from hnlab.config import LabConfig, isolated
from hnlab.testing import REPO, play

PLAYBOOK = REPO / "playbooks" / "aws_prerequisites.yml"
ROLE = "hybrid-lab-hybrid-nodes"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cfg = isolated(tmp_path_factory.mktemp("state"), "moto_port")
    aws.start(cfg)
    try:
        aws.seed(cfg, None, "https://10.100.0.20")
        yield cfg
    finally:
        aws.stop(cfg)


def _inventory(cfg: LabConfig, tmp_path: Path, **overrides) -> Path:
    cluster_vars = {
        "hybrid_cluster_name": cfg.cluster_name,
        "hybrid_region": cfg.region,
        "hybrid_credential_provider": "ssm",
        "hybrid_vpc_cidrs": [cfg.vpc_cidr],
        "hybrid_remote_node_cidrs": [cfg.edge_cidr],
        "hybrid_remote_pod_cidrs": [cfg.pod_cidr],
        "hybrid_aws_endpoint_url": cfg.moto_endpoint,
        # as in the lab inventory: the edge hosts' interpreter, which the playbook must override for localhost
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    cluster_vars.update(overrides)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": cluster_vars, "hosts": {}}}))
    return path


def _run(inventory: Path, playbook: Path, *extra: str) -> tuple[int, str]:
    return play(inventory, playbook, *extra, timeout=300)


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), (int(g) for g in match.groups())))


def test_first_run_creates_exactly_the_prerequisites_and_the_rerun_writes_nothing(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    inventory = _inventory(cfg, tmp_path)

    api.reset()
    code, output = _run(inventory, PLAYBOOK, "--check")
    assert code == 0, output
    assert api.writes() == {}, api.requests()

    code, output = _run(inventory, PLAYBOOK)
    assert code == 0, output
    assert _recap(output)["changed"] == 4, output  # role, inline policy, access entry, remote networks
    assert api.writes() == {
        ("iam", "CreateRole"): 1,
        ("iam", "AttachRolePolicy"): 2,
        ("iam", "PutRolePolicy"): 1,
        ("eks", "CreateAccessEntry"): 1,
        ("eks", "UpdateClusterConfig"): 1,
    }, api.requests()

    iam = client(cfg, "iam")
    role = iam.get_role(RoleName=ROLE)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": cfg.account_id}
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": f"arn:aws:ssm:{cfg.region}:{cfg.account_id}:*"}
    attached = sorted(p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"])
    assert attached == ["AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"]
    inline = iam.get_role_policy(RoleName=ROLE, PolicyName="eks-hybrid-nodes")["PolicyDocument"]
    inline = json.loads(inline) if isinstance(inline, str) else inline
    actions = [a for s in inline["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert sorted(actions) == ["eks:DescribeCluster", "eks:ListAccessEntries", "ssm:DeregisterManagedInstance",
                               "ssm:DescribeInstanceInformation"]
    deregister = [s for s in inline["Statement"] if s["Action"] == "ssm:DeregisterManagedInstance"][0]
    cluster_arn = client(cfg, "eks").describe_cluster(name=cfg.cluster_name)["cluster"]["arn"]
    assert deregister["Condition"] == {"StringEquals": {"ssm:resourceTag/EKSClusterARN": cluster_arn}}
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=ROLE)["Tags"]}
    assert tags["hybridnodes.eks/cluster"] == client(cfg, "eks").describe_cluster(name=cfg.cluster_name)["cluster"]["arn"]
    entry = client(cfg, "eks").describe_access_entry(clusterName=cfg.cluster_name, principalArn=role["Arn"])
    assert entry["accessEntry"]["type"] == "HYBRID_LINUX"

    api.reset()
    code, output = _run(inventory, PLAYBOOK)
    assert code == 0, output
    assert _recap(output)["changed"] == 0, output
    assert api.writes() == {}, api.requests()


def test_a_role_of_the_same_name_of_another_cluster_is_refused_not_taken_over(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    name = "shared-hybrid-nodes"
    other = f"arn:aws:eks:{cfg.region}:{cfg.account_id}:cluster/another-cluster"
    iam = client(cfg, "iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
                    Tags=[{"Key": "hybridnodes.eks/cluster", "Value": other}, {"Key": "team", "Value": "ops"}])
    try:
        api.reset()
        code, output = _run(_inventory(cfg, tmp_path, hybrid_iam_role_name=name), PLAYBOOK)
        assert code != 0, output
        assert f"The IAM role {name} belongs to {other}" in output and "nothing was changed" in output, output
        assert api.writes() == {}, api.requests()
        assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == {"Version": "2012-10-17",
                                                                                   "Statement": []}
    finally:
        iam.delete_role(RoleName=name)


def test_bad_inventory_fails_listing_every_problem_without_a_write(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    inventory = _inventory(cfg, tmp_path, hybrid_remote_pod_cidrs=["10.100.128.0/20"],  # inside the VPC
                           hybrid_remote_node_cidrs=["203.0.113.0/24"],  # public
                           hybrid_iam_role_name="never-created")
    api.reset()
    code, output = _run(inventory, PLAYBOOK)
    assert code != 0
    assert "2 problem(s)" in output, output
    assert f"VPC CIDR {cfg.vpc_cidr} (hybrid_vpc_cidrs) overlaps remote pod network 10.100.128.0/20" in output, output
    assert "203.0.113.0/24" in output and "RFC 1918" in output, output
    assert api.writes() == {}, api.requests()


def test_activation_region_other_than_the_clusters_fails_without_a_write(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    inventory = _inventory(cfg, tmp_path, aws_prerequisites_ssm_activation_region="eu-west-1",
                           hybrid_iam_role_name="never-created")
    api.reset()
    code, output = _run(inventory, PLAYBOOK)
    assert code != 0
    assert f"Set it (or hybrid_region) to {cfg.region}" in output, output
    assert api.writes() == {}, api.requests()


ACTIVATION_PLAYBOOK = """
- name: SSM activation at join time
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  module_defaults:
    group/hybridnodes.eks.aws:
      region: {region}
      endpoint_url: {endpoint}
  tasks:
    - name: One activation for the unregistered hosts
      hybridnodes.eks.ssm_activation:
        cluster_name: {cluster}
        iam_role: {role}
        hosts_to_register: {count}
        default_instance_name: {cluster}-node
      register: activation
      no_log: true

    - name: Hand the code over (here to the test, in place of the NodeConfig)
      ansible.builtin.copy:
        content: "{{{{ {{'id': activation.activation_id, 'code': activation.activation_code | default('')}} | to_json }}}}"
        dest: {out}
        mode: "0600"
      no_log: true
      when: activation is changed
"""

CLEANUP_PLAYBOOK = """
- name: Delete the used activations
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
    - name: Activations of the cluster that are used up or expired
      hybridnodes.eks.ssm_activation:
        cluster_name: {cluster}
        state: absent
        region: {region}
        endpoint_url: {endpoint}
"""


def test_activation_for_three_hosts_is_secret_and_deleted_once_used(lab, tmp_path):
    cfg = lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    ssm = client(cfg, "ssm")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts: {}\n")
    out = tmp_path / "activation.json"
    common = dict(region=cfg.region, endpoint=cfg.moto_endpoint, cluster=cfg.cluster_name, role=ROLE, out=out)
    join = tmp_path / "join.yml"
    join.write_text(ACTIVATION_PLAYBOOK.format(count=3, **common))
    cleanup = tmp_path / "cleanup.yml"
    cleanup.write_text(CLEANUP_PLAYBOOK.format(**common))

    api.reset()
    code, output = _run(inventory, join, "-vvv")
    assert code == 0, output
    assert api.writes() == {("ssm", "CreateActivation"): 1}, api.requests()
    handed = json.loads(out.read_text())
    assert len(handed["code"]) >= 20
    assert handed["code"] not in output  # not in the -vvv output, anywhere
    activations = ssm.describe_activations()["ActivationList"]
    assert [(a["ActivationId"], a["RegistrationLimit"]) for a in activations] == [(handed["id"], 3)]
    assert {"Key": "EKSClusterARN", "Value": f"arn:aws:eks:{cfg.region}:{cfg.account_id}:cluster/{cfg.cluster_name}"} \
        in activations[0]["Tags"]

    code, output = _run(inventory, cleanup)
    assert code == 0, output
    assert _recap(output)["changed"] == 0, output  # not used up yet: kept

    for index in range(3):
        api.register_instance(handed["id"], handed["code"], f"edge0{index + 1}")
    code, output = _run(inventory, cleanup)
    assert code == 0, output
    assert _recap(output)["changed"] == 1, output
    assert ssm.describe_activations()["ActivationList"] == []

    api.reset()
    join.write_text(ACTIVATION_PLAYBOOK.format(count=0, **common))  # every host registered now
    code, output = _run(inventory, join)
    assert code == 0, output
    assert api.writes() == {}, api.requests()


def _private_ca(path: Path) -> Path:
    """A private CA certificate (PEM), as an operator's CA for the node certificates."""
    import datetime  # pylint: disable=import-outside-toplevel

    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hybrid-lab nodes CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def fresh_lab(tmp_path_factory):
    cfg = isolated(tmp_path_factory.mktemp("state-iam-ra"), "moto_port")
    aws.start(cfg)
    try:
        aws.seed(cfg, None, "https://10.100.0.20")
        yield cfg
    finally:
        aws.stop(cfg)


def test_iam_ra_creates_trust_anchor_role_and_profile_once(fresh_lab, tmp_path):
    cfg = fresh_lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    ca = _private_ca(tmp_path / "ca.pem")
    inventory = _inventory(cfg, tmp_path, hybrid_credential_provider="iam-ra", hybrid_iam_ra_ca_certificate_path=str(ca))

    api.reset()
    code, output = _run(inventory, PLAYBOOK, "--check")
    assert code == 0, output
    assert api.writes() == {}, api.requests()

    code, output = _run(inventory, PLAYBOOK)
    assert code == 0, output
    assert api.writes() == {
        ("rolesanywhere", "CreateTrustAnchor"): 1,
        ("iam", "CreateRole"): 1,
        ("iam", "AttachRolePolicy"): 1,
        ("iam", "PutRolePolicy"): 1,
        ("rolesanywhere", "CreateProfile"): 1,
        ("eks", "CreateAccessEntry"): 1,
        ("eks", "UpdateClusterConfig"): 1,
    }, api.requests()

    ra = client(cfg, "rolesanywhere")
    anchors = ra.list_trust_anchors()["trustAnchors"]
    profiles = ra.list_profiles()["profiles"]
    assert [a["name"] for a in anchors] == [ROLE] and anchors[0]["enabled"] is True
    assert len(profiles) == 1 and profiles[0]["acceptRoleSessionName"] is True and profiles[0]["enabled"] is True
    assert profiles[0]["durationSeconds"] == 3600
    role = client(cfg, "iam").get_role(RoleName=ROLE)["Role"]
    assert profiles[0]["roleArns"] == [role["Arn"]]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "rolesanywhere.amazonaws.com"}] * 2
    assert all(s["Condition"]["ArnEquals"] == {"aws:SourceArn": anchors[0]["trustAnchorArn"]} for s in trust["Statement"])
    assert trust["Statement"][1]["Condition"]["StringEquals"] == {
        "sts:RoleSessionName": "${aws:PrincipalTag/x509Subject/CN}"}
    attached = [p["PolicyName"] for p in client(cfg, "iam").list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
    assert attached == ["AmazonEC2ContainerRegistryPullOnly"]

    api.reset()
    code, output = _run(inventory, PLAYBOOK)
    assert code == 0, output
    assert _recap(output)["changed"] == 0, output
    assert api.writes() == {}, api.requests()


def test_iam_ra_refuses_a_public_ca_before_any_write(fresh_lab, tmp_path):
    cfg = fresh_lab
    api = LabApi(cfg.moto_endpoint, cfg.region)
    bundle = Path("/etc/ssl/certs/ca-certificates.crt").read_text()
    public = tmp_path / "public-ca.pem"
    public.write_text(bundle.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    inventory = _inventory(cfg, tmp_path, hybrid_credential_provider="iam-ra",
                           hybrid_iam_ra_ca_certificate_path=str(public))
    api.reset()
    code, output = _run(inventory, PLAYBOOK)
    assert code != 0
    # The file, the store it was found in, and the fix.
    assert "is a public CA (found in" in output and "Use a private CA for the hybrid nodes" in output, output
    assert api.writes() == {}, api.requests()
