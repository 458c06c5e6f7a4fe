"""The real `nodeadm install` on a lab host, from the lab mirror's artifacts (root only).

Everything here is real: nodeadm (real_nodeadm_version), and the artifacts its manifest lists for Kubernetes
real_kubernetes_version, each built from its Go module by hnlab.gobuild and published by the mirror under real/ with a
manifest of nodeadm's own schema (hnlab.mirror.publish_real_artifacts): kubelet, kubectl, the CNI plugins,
ecr-credential-provider, aws-iam-authenticator and, for IAM Roles Anywhere, aws_signing_helper. containerd and iptables
come from Debian's archive through the host's apt, as nodeadm's `distro` containerd source installs them.
nodeadm reads an override manifest from a file or https only (docs/lab-real-nodeadm.md), so the host gets it as a file.
The host is left as it was found: what install wrote is removed and the packages it added are purged.
"""

from __future__ import annotations

import hashlib

import pytest
import yaml

from hnlab import edge, mirror
from hnlab.testing import ssh

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
