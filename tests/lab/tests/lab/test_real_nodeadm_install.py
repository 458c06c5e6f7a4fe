"""The real `nodeadm install` and `nodeadm init` on a lab host, from the lab mirror's artifacts (root only).

Everything here is real: nodeadm (real_nodeadm_version), and the artifacts its manifest lists for Kubernetes
real_kubernetes_version, each built from its Go module by hnlab.gobuild and published by the mirror under real/ with a
manifest of nodeadm's own schema (hnlab.mirror.publish_real_artifacts): kubelet, kubectl, the CNI plugins,
ecr-credential-provider, aws-iam-authenticator and, for IAM Roles Anywhere, aws_signing_helper. containerd and iptables
come from Debian's archive through the host's apt, as nodeadm's `distro` containerd source installs them.
nodeadm reads an override manifest from a file or https only (docs/lab-real-nodeadm.md), so the host gets it as a file.
Then the real `nodeadm init`, every phase and check, joins the host for IAM Roles Anywhere from a NodeConfig that
names the cluster's endpoint, CA and service CIDR (so init makes no EKS call): its IAM Roles Anywhere and STS checks
reach the emulator by their real host names over TLS (hnlab.awstls), with credentials from the real aws_signing_helper's
CreateSession for a node certificate of the trust anchor's CA; it pulls the sandbox image by the ECR registry's name
(hnlab.pause, served by the mirror's registry path); it starts containerd and the real kubelet with its own units; the
kubelet's aws-iam-authenticator token is accepted by the API server through the cluster's HYBRID_LINUX access entry
(hnlab.authn), and its Node stays NotReady until a CNI configuration exists. The one stand-in is sysctl, for the keys
an nspawn container cannot write (hnlab.realnode).
The host is left as it was found: what install and init wrote is removed and the packages install added are purged.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import yaml

from hnlab import edge, mirror, network, realnode
from hnlab.aws.clients import client
from hnlab.testing import delete_node, network_not_ready, ready, ssh, wait_node

pytestmark = pytest.mark.lab

REAL = "/usr/local/bin/nodeadm-real"
MANIFEST = "/etc/hnlab/real-manifest.yaml"
INSTALLED = {
    "kubelet": "/usr/bin/kubelet",
    "kubectl": "/usr/local/bin/kubectl",
    "ecr-credential-provider": "/etc/eks/image-credential-provider/ecr-credential-provider",
    "aws-iam-authenticator": "/usr/local/bin/aws-iam-authenticator",
    "aws_signing_helper": "/usr/local/bin/aws_signing_helper",
}
LEFTOVERS = ("/opt/nodeadm /opt/cni /etc/eks /etc/systemd/system/kubelet.service /usr/bin/kubelet "
             "/usr/local/bin/kubectl /usr/local/bin/aws-iam-authenticator /usr/local/bin/aws_signing_helper")


def _ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\nstdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
    return result


def _packages(lab, host) -> set:
    out = _ok(ssh(lab, host, "dpkg-query -W -f '${Package} ${Status}\\n'")).stdout
    return {line.split()[0] for line in out.splitlines() if line.endswith("install ok installed")}


@pytest.fixture(scope="module")
def installed(lab):
    manifest = mirror.publish_real_artifacts(lab)
    if manifest is None:
        pytest.fail("the real nodeadm's artifacts are not built: the lab's one-time builds (tests/lab/k8s/build.py)")
    assert mirror.publish_real_nodeadm(lab) is not None
    spec = [h for h in edge.load_hosts(lab) if h["kind"] == "edge"][1]
    before = _packages(lab, spec)
    # What nodeadm finds already there it does not install (internal/containerd, internal/iptables: by PATH), and
    # records so; earlier tests may have left iptables, for one (host preparation installs it).
    present = {name: ssh(lab, spec, f"command -v {name}").returncode == 0 for name in ("containerd", "runc", "iptables")}
    base = lab.mirror_base_url
    _ok(ssh(lab, spec, f"set -e; mkdir -p /etc/hnlab; "
                       f"curl -fsS -o {REAL} {base}{mirror.binary_url_path(lab.real_nodeadm_version, 'amd64')}; "
                       f"chmod 0755 {REAL}; curl -fsS -o {MANIFEST} {base}/{mirror.REAL_DIR}/manifest.yaml"))
    minor = ".".join(lab.real_kubernetes_version.lstrip("v").split(".")[:2])
    try:
        # nodeadm's distro source runs `apt install` without `apt update` (internal/packagemanager): fresh lists first.
        _ok(ssh(lab, spec, "DEBIAN_FRONTEND=noninteractive apt-get update -qq", timeout=300))
        result = ssh(lab, spec, f"{REAL} install {minor} --credential-provider iam-ra --containerd-source distro "
                                f"--manifest-override file://{MANIFEST} --timeout 8m", timeout=600)
        yield spec, result, manifest, present
    finally:
        added = sorted(_packages(lab, spec) - before)
        ssh(lab, spec, "export DEBIAN_FRONTEND=noninteractive; systemctl stop containerd 2>/dev/null; "
                       + (f"apt-get purge -y -qq {' '.join(added)}; " if added else "")
                       + f"rm -rf {LEFTOVERS} {REAL} {MANIFEST} /var/lib/containerd /run/containerd; "
                       "rmdir /etc/hnlab 2>/dev/null; systemctl daemon-reload; true", timeout=300)


def test_the_real_nodeadm_installs_every_artifact_of_the_mirror(lab, installed):
    host, result, manifest, _present = installed
    _ok(result)
    doc = yaml.safe_load(manifest.read_text())
    (release,) = doc["supported_eks_releases"][0]["patch_releases"]
    published = {a["name"]: a for a in release["artifacts"]}
    published.update({a["name"]: a for a in doc["iam_roles_anywhere_releases"][0]["artifacts"]})
    assert set(published) == {"kubelet", "kubectl", "cni-plugins", "ecr-credential-provider", "aws-iam-authenticator",
                              "aws_signing_helper"}
    # Each binary on the host is byte for byte the one the mirror published (nodeadm verified its .sha256 too).
    for name, path in INSTALLED.items():
        on_host = _ok(ssh(lab, host, f"sha256sum {path}")).stdout.split()[0]
        local = mirror.mirror_root(lab) / published[name]["uri"].split(lab.mirror_base_url + "/", 1)[1]
        assert on_host == hashlib.sha256(local.read_bytes()).hexdigest(), name
    assert _ok(ssh(lab, host, "/usr/bin/kubelet --version")).stdout.strip() == f"Kubernetes {lab.real_kubernetes_version}"
    assert _ok(ssh(lab, host, "/usr/local/bin/aws_signing_helper version")).stdout.strip() == \
        lab.real_signing_helper_version.lstrip("v")
    plugins = _ok(ssh(lab, host, "ls /opt/cni/bin")).stdout.split()
    assert {"bridge", "host-local", "loopback", "portmap"} <= set(plugins)


def test_the_install_is_recorded_and_containerd_comes_from_debian(lab, installed):
    host, result, _manifest, present = installed
    _ok(result)
    tracker = yaml.safe_load(_ok(ssh(lab, host, "cat /opt/nodeadm/tracker")).stdout)
    # The record init reads (internal/tracker): every artifact installed, containerd from the distro unless it was
    # there already, iptables when it was missing, no SSM.
    containerd = "none" if present["containerd"] and present["runc"] else "distro"
    assert tracker == {"Artifacts": {"Containerd": containerd, "Kubelet": True, "Kubectl": True, "CniPlugins": True,
                                     "ImageCredentialProvider": True, "IamAuthenticator": True,
                                     "IamRolesAnywhere": True, "Iptables": not present["iptables"], "Ssm": False}}, tracker
    assert _ok(ssh(lab, host, "systemctl cat kubelet.service")).stdout.count("ExecStart=") >= 1
    version = _ok(ssh(lab, host, "dpkg-query -W -f '${Version}' containerd")).stdout
    assert version, "containerd is not installed from Debian's archive"


NODE_CONFIG = "/etc/hnlab/nodeConfig.yaml"
CNI_CONF = "/etc/cni/net.d/10-hnlab-bridge.conflist"
# What an nspawn host needs of the kubelet (tests/lab/tests/lab/test_real_kubelet.py), through NodeConfig's drop-in:
# no QoS cgroup tree and nothing to enforce node allocatable on inside the container, swap allowed.
KUBELET_CONFIG = {"cgroupsPerQOS": False, "enforceNodeAllocatable": [], "failSwapOn": False}
REGISTER_TIMEOUT, READY_TIMEOUT = 180.0, 120.0


@pytest.fixture(scope="module")
def initialised(lab, installed):
    """The real init, every phase and check: AWS checks by the real names over TLS, the sandbox image pulled through
    CRI from the ECR registry's name, containerd and the kubelet started by nodeadm's own units, the kubelet's token
    accepted by the API server through the cluster's HYBRID_LINUX access entry."""
    host, result, _manifest, _present = installed
    _ok(result)
    realnode.install_sysctl_standin(lab, host)
    name = host["name"]
    ca, ca_key = realnode.make_ca()
    arns = realnode.rolesanywhere_setup(lab, ca, f"hnlab-init-{name}")
    eks = client(lab, "eks")
    eks.create_access_entry(clusterName=lab.cluster_name, principalArn=arns["roleArn"], type="HYBRID_LINUX")
    doc = realnode.iam_ra_node_config(lab, name, arns, KUBELET_CONFIG)
    # kubelet's protectKernelDefaults (nodeadm sets it) needs these kernel values: set on the machine while it runs.
    network.set_kubelet_sysctls(lab)
    try:
        # The node certificate where NodeConfig names it, issued by the trust anchor's CA (CN = node name).
        root = edge.host_root(lab, name)
        cert_pem, key_pem = realnode.issue_node_certificate(ca, ca_key, name)
        (root / "etc/iam/pki").mkdir(parents=True, exist_ok=True)
        (root / "etc/iam/pki/server.pem").write_bytes(cert_pem)
        (root / "etc/iam/pki/server.key").write_bytes(key_pem)
        (root / "etc/iam/pki/server.key").chmod(0o600)
        (root / NODE_CONFIG.lstrip("/")).write_text(json.dumps(doc))
        _ok(ssh(lab, host, "[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg"))
        with realnode.vpc_route(lab, host):
            init = ssh(lab, host, f"{REAL} init --config-source file://{NODE_CONFIG} --manifest-override file://{MANIFEST}",
                       timeout=600)
            yield host, init, doc
    finally:
        ssh(lab, host, "systemctl disable --now kubelet containerd 2>/dev/null; "
                       f"rm -rf {' '.join(realnode.INIT_WRITES)} /etc/iam {NODE_CONFIG} {CNI_CONF}; "
                       f"{realnode.remove_sysctl_standin_command()}; [ -L /dev/kmsg ] && rm -f /dev/kmsg; true",
            timeout=120)
        delete_node(lab, name)
        network.restore_kubelet_sysctls(lab)
        eks.delete_access_entry(clusterName=lab.cluster_name, principalArn=arns["roleArn"])
        realnode.rolesanywhere_cleanup(lab, arns)


def _journal(lab, host):
    return lambda: ssh(lab, host, "journalctl -u kubelet --no-pager -n 40").stdout


def _log(result):
    """nodeadm's zap log lines (JSON on stderr)."""
    lines = []
    for line in result.stderr.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def _json(lab, host, path):
    return json.loads(_ok(ssh(lab, host, f"cat {path}")).stdout)


def test_the_real_nodeadm_init_configures_the_host_for_iam_roles_anywhere(lab, initialised):
    host, init, doc = initialised
    _ok(init)
    # Its checks ran and passed: the IAM Roles Anywhere endpoint dial, GetCallerIdentity with the node's credentials
    # (it runs only once the STS endpoint answers), and the kubelet's kubeconfig against the API server
    # (internal/iamrolesanywhere/validate.go, internal/aws/sts/validate.go, internal/kubernetes/validate.go; the names
    # nodeadm logs them under, internal/validation/logger_printer.go).
    passed = {line.get("validation") for line in _log(init) if line.get("msg") == "Validation passed"}
    assert {"iam-roles-anywhere-endpoint-access", "sts-authentication"} <= passed, (passed, init.stderr[-3000:])
    assert not [line for line in _log(init) if line.get("msg") == "Validation failed"], init.stderr[-3000:]
    ra = doc["spec"]["hybrid"]["iamRolesAnywhere"]
    aws = _ok(ssh(lab, host, "cat /etc/aws/hybrid/config")).stdout
    # internal/iamrolesanywhere/aws_config.tpl: the signing helper is the credential process, session name = node name.
    assert aws.count("credential_process = /usr/local/bin/aws_signing_helper credential-process") == 2, aws
    for flag, value in (("--role-session-name", host["name"]), ("--trust-anchor-arn", ra["trustAnchorArn"]),
                        ("--profile-arn", ra["profileArn"]), ("--role-arn", ra["roleArn"]),
                        ("--certificate", "/etc/iam/pki/server.pem"), ("--private-key", "/etc/iam/pki/server.key")):
        assert f"{flag} {value}" in aws, (flag, aws)
    cluster = doc["spec"]["cluster"]
    kubeconfig = yaml.safe_load(_ok(ssh(lab, host, "cat /var/lib/kubelet/kubeconfig")).stdout)
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster["apiServerEndpoint"]
    user = kubeconfig["users"][0]["user"]["exec"]
    assert user["command"] == "/usr/local/bin/aws-iam-authenticator"
    assert user["args"][:5] == ["token", "--cluster-id", cluster["name"], "--region", cluster["region"]]
    ca = _ok(ssh(lab, host, "cat /etc/kubernetes/pki/ca.crt")).stdout
    assert ca.strip() == base64.b64decode(cluster["certificateAuthority"]).decode().strip()


def test_the_real_nodeadm_init_writes_the_kubelet_and_containerd_configuration(lab, initialised):
    host, init, doc = initialised
    _ok(init)
    config = _json(lab, host, "/etc/kubernetes/kubelet/config.json")
    # The cluster DNS address is the tenth of the service CIDR (internal/kubelet/config.go).
    assert config["clusterDNS"] == ["172.20.0.10"], config.get("clusterDNS")
    assert config["authentication"]["webhook"]["enabled"] is True and config["serverTLSBootstrap"] is True
    dropin = _json(lab, host, "/etc/kubernetes/kubelet/config.json.d/00-nodeadm.conf")
    assert {key: dropin[key] for key in KUBELET_CONFIG} == KUBELET_CONFIG
    environment = _ok(ssh(lab, host, "cat /etc/eks/kubelet/environment")).stdout
    assert f"--hostname-override={host['name']}" in environment, environment
    containerd = _ok(ssh(lab, host, "cat /etc/containerd/config.toml")).stdout
    # The sandbox image from the region's ECR account of the manifest's region_config (internal/aws/ecr).
    assert 'sandbox_image = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5"' in containerd, containerd
    provider = _json(lab, host, "/etc/eks/image-credential-provider/config.json")
    assert provider["providers"][0]["name"] == "ecr-credential-provider"


def test_the_sysctl_aspect_ran_through_the_stand_in_for_read_only_keys_alone(lab, initialised):
    host, init, _doc = initialised
    _ok(init)
    assert _ok(ssh(lab, host, "cat /etc/sysctl.d/99-nodeadm.conf")).stdout.split() == [
        "vm.overcommit_memory=1", "kernel.panic=10", "kernel.panic_on_oops=1", "net.ipv4.ip_forward=1"]
    denied = _ok(ssh(lab, host, f"cat {realnode.SYSCTL_RECORD}/denied")).stdout
    for line in ("vm.overcommit_memory = 1", "kernel.panic = 10", "kernel.panic_on_oops = 1"):
        assert line in denied.splitlines(), denied


def test_the_real_kubelet_registers_its_node_not_ready_until_a_cni_exists(lab, initialised):
    host, init, _doc = initialised
    _ok(init)
    name = host["name"]
    node = wait_node(lab, name, network_not_ready, REGISTER_TIMEOUT, _journal(lab, host))
    assert node.status.node_info.kubelet_version == lab.real_kubernetes_version
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    # The API server knew the kubelet as the node itself, through the access entry (hnlab.authn's log).
    assert f'"user": "system:node:{name}"' in (lab.state_dir / "logs" / "authn.log").read_text()
    # nodeadm pulled the sandbox image by the ECR registry's name before it started the kubelet.
    images = _ok(ssh(lab, host, "ctr -n k8s.io images ls -q")).stdout.split()
    assert "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5" in images, images
    # A CNI configuration (the CNI plugins nodeadm installed) and the runtime reports its network ready.
    (edge.host_root(lab, name) / CNI_CONF.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (edge.host_root(lab, name) / CNI_CONF.lstrip("/")).write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "hnlab-bridge",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": "192.168.251.0/24"}]]}},
                    {"type": "loopback"}]}))
    node = wait_node(lab, name, ready, READY_TIMEOUT, _journal(lab, host))
    (condition,) = [c for c in node.status.conditions if c.type == "Ready"]
    assert condition.reason == "KubeletReady"
