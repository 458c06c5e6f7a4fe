"""The lab's token authenticator (hnlab.authn) held to the real aws-iam-authenticator, and the API server using it.

On an edge host, the real aws-iam-authenticator (real_iam_authenticator_version, built from its Go module) makes a
token as a kubelet's kubeconfig has it made for IAM Roles Anywhere: credentials from the real aws_signing_helper's
CreateSession (a node certificate of the trust anchor's CA, session name = node name), then a presigned
sts:GetCallerIdentity signing the cluster's name. The same tokens, valid and altered, go to the real verifier
(`aws-iam-authenticator verify`, on the host, which replays them against the lab's STS over TLS) and to the lab's
webhook: they must agree on what they accept and on the caller. The webhook then maps the caller through the
cluster's access entries (HYBRID_LINUX -> system:node:<session name>, group system:nodes), which the API server
shows as the user of a request made with the token.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid

import pytest

from hnlab import authn, edge, k8s, realnode
from hnlab.aws.clients import client
from hnlab.testing import ssh

pytestmark = pytest.mark.lab

BIN = "/usr/local/bin"
HELPER, AUTHENTICATOR = f"{BIN}/hnlab-signing-helper", f"{BIN}/hnlab-iam-authenticator"
DIR = "/etc/hnlab-authn"
# The verifier asks EC2 instance metadata for its region when it runs; there is none in the lab, and no packet may
# try to leave for it.
NO_IMDS = "AWS_EC2_METADATA_DISABLED=true"


def _ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    return result


def _install(lab, root, program, version, dest):
    binary = lab.go_builds_dir / f"{program}-{version}" / program
    if not binary.exists():
        pytest.fail(f"{binary} missing: the lab's one-time builds (tests/lab/k8s/build.py) make it")
    (root / dest.lstrip("/")).write_bytes(binary.read_bytes())
    (root / dest.lstrip("/")).chmod(0o755)


@pytest.fixture(scope="module")
def node(lab):
    host = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"][0]
    root = edge.host_root(lab, host["name"])
    _install(lab, root, "aws_signing_helper", lab.real_signing_helper_version, HELPER)
    _install(lab, root, "aws-iam-authenticator", lab.real_iam_authenticator_version, AUTHENTICATOR)
    ca, ca_key = realnode.make_ca()
    arns = realnode.rolesanywhere_setup(lab, ca, f"hnlab-authn-{uuid.uuid4().hex[:8]}")
    eks = client(lab, "eks")
    eks.create_access_entry(clusterName=lab.cluster_name, principalArn=arns["roleArn"], type="HYBRID_LINUX")
    cert_pem, key_pem = realnode.issue_node_certificate(ca, ca_key, host["name"])
    (root / DIR.lstrip("/")).mkdir(mode=0o700, exist_ok=True)
    (root / f"{DIR}/node.pem".lstrip("/")).write_bytes(cert_pem)
    (root / f"{DIR}/node.key".lstrip("/")).write_bytes(key_pem)
    # The profile nodeadm writes for the kubelet's exec plugin (internal/iamrolesanywhere/aws_config.tpl).
    process = (f"{HELPER} credential-process --certificate {DIR}/node.pem --private-key {DIR}/node.key "
               f"--trust-anchor-arn {arns['trustAnchorArn']} --profile-arn {arns['profileArn']} "
               f"--role-arn {arns['roleArn']} --role-session-name {host['name']}")
    (root / f"{DIR}/config".lstrip("/")).write_text(f"[default]\ncredential_process = {process}\n")
    try:
        with realnode.vpc_route(lab, host):
            yield host, arns
    finally:
        ssh(lab, host, f"rm -rf {HELPER} {AUTHENTICATOR} {DIR}")
        eks.delete_access_entry(clusterName=lab.cluster_name, principalArn=arns["roleArn"])
        realnode.rolesanywhere_cleanup(lab, arns)


def make_token(lab, host, cluster_id):
    out = _ok(ssh(lab, host, f"{NO_IMDS} AWS_CONFIG_FILE={DIR}/config AWS_PROFILE=default {AUTHENTICATOR} token "
                             f"-i {cluster_id} --region {lab.region}", timeout=60)).stdout
    return json.loads(out)["status"]["token"]


def real_verify(lab, host, token):
    """(accepted, identity) of the real verifier for the lab's cluster."""
    result = ssh(lab, host, f"{NO_IMDS} {AUTHENTICATOR} verify -i {lab.cluster_name} -o json -t '{token}'", timeout=60)
    if result.returncode != 0:
        return False, result.stderr.strip()
    return True, json.loads(result.stdout[result.stdout.index("{"):])


def _altered(token, old, new):
    url = base64.urlsafe_b64decode(token[len(authn.TOKEN_PREFIX):] + "==").decode().replace(old, new, 1)
    return authn.TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def tokens(lab, node):
    host, _arns = node
    valid = make_token(lab, host, lab.cluster_name)
    return {
        "valid": valid,
        "other-cluster": make_token(lab, host, "another-cluster"),
        "other-host": _altered(valid, "sts.", "sts.evil."),
        "other-action": _altered(valid, "Action=GetCallerIdentity", "Action=GetSessionToken"),
        "not-a-token": "k8s-aws-v1.bm90IGEgdXJs",
    }


# Why each is refused, in the real verifier's words and in the lab webhook's.
REASONS = {"other-cluster": ("SignatureDoesNotMatch", "expected 200, got 403"),
           "other-host": ("unexpected hostname", "unexpected hostname"),
           "other-action": ("unexpected action parameter", "unexpected action parameter"),
           "not-a-token": ("unexpected scheme", "unexpected scheme")}


@pytest.mark.parametrize("case", ["valid", "other-cluster", "other-host", "other-action", "not-a-token"])
def test_the_lab_authenticator_accepts_what_the_real_verifier_accepts(lab, node, tokens, case):
    host, arns = node
    accepted, identity = real_verify(lab, host, tokens[case])
    status = authn.review(lab, tokens[case], datetime.datetime.now(datetime.timezone.utc))
    assert status["authenticated"] == accepted == (case == "valid"), (case, identity, status)
    if case in REASONS:
        assert REASONS[case][0] in identity and REASONS[case][1] in status["error"], (identity, status)
    if accepted:
        # The same caller: the role assumed under the node's name.
        assert status["user"]["extra"]["arn"] == [identity["ARN"]]
        assert status["user"]["extra"]["canonicalArn"] == [identity["CanonicalARN"]] == [arns["roleArn"]]
        assert status["user"]["extra"]["sessionName"] == [identity["SessionName"]] == [host["name"]]


def test_a_node_role_maps_to_its_node_through_the_access_entry(lab, node, tokens):
    host, arns = node
    status = authn.review(lab, tokens["valid"], datetime.datetime.now(datetime.timezone.utc))
    assert status["user"]["username"] == f"system:node:{host['name']}"
    assert status["user"]["groups"] == ["system:nodes"]
    eks = client(lab, "eks")
    eks.delete_access_entry(clusterName=lab.cluster_name, principalArn=arns["roleArn"])
    try:
        refused = authn.review(lab, tokens["valid"], datetime.datetime.now(datetime.timezone.utc))
    finally:
        eks.create_access_entry(clusterName=lab.cluster_name, principalArn=arns["roleArn"], type="HYBRID_LINUX")
    assert refused == {"authenticated": False,
                       "error": f"ARN {arns['roleArn']} is not mapped by any access entry of the cluster"}


def test_the_api_server_knows_the_kubelet_by_its_token(lab, node, tokens):
    from kubernetes import client as kube

    host, _arns = node
    with k8s.api_client(lab, token=tokens["valid"]) as api:
        review = kube.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                          "kind": "SelfSubjectReview"})
    assert review.status.user_info.username == f"system:node:{host['name']}"
    assert "system:nodes" in review.status.user_info.groups
