"""nodeadm stand-in: command line, traps, tracker, NodeConfig validation, files.

The script runs as a subprocess against a fake root (NODEADM_STANDIN_ROOT),
so nothing on this machine is touched and systemctl/ip calls are only
logged. End-to-end credentials/access-entry tests run the lab's AWS emulator
on a free loopback port (hnlab.aws), skipped when its code is absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hnlab.config import LAB_DIR

SCRIPT = LAB_DIR / "nodeadm_standin" / "nodeadm.py"
ACT_ID = "e488f2f6-e686-4afb-8a04-ef6dfabcdeff"
ACT_CODE = "Fjz3/sZfSvv78EXAMPLE"


def _load():
    spec = importlib.util.spec_from_file_location("nodeadm_standin", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


standin = _load()


@pytest.fixture()
def root(tmp_path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    return r


def run(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, NODEADM_STANDIN_ROOT=str(root), NODEADM_STANDIN_DEFAULT_IP="10.200.0.11",
             NODEADM_STANDIN_HOSTNAME="edge01")
    e.pop("NODEADM_STANDIN_AWS_ENDPOINT", None)
    e.update(env or {})
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=e, timeout=120, check=False)


def logs(proc) -> list[dict]:
    out = []
    for line in proc.stderr.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def node_config(tmp_path: Path, spec_hybrid: dict | None = None, **spec) -> str:
    doc = {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
           "spec": {"cluster": {"name": "hybrid-lab", "region": "us-west-2"},
                    "hybrid": spec_hybrid or {"ssm": {"activationId": ACT_ID, "activationCode": ACT_CODE}}}}
    for k, v in spec.items():
        doc["spec"][k] = v
    p = tmp_path / "nodeConfig.yaml"
    p.write_text(yaml.safe_dump(doc))
    return f"file://{p}"


# ------------------------------------------------------------ command line
def test_version_flag_and_help(root):
    # As nodeadm (flaggy): `--version` and the bare word `version` print "Version: vX.Y.Z", before any -h.
    for args in (["--version"], ["version"], ["-h", "--version"]):
        p = run(root, *args)
        assert p.returncode == 0 and p.stdout.strip() == f"Version: {standin.VERSION}", args
    assert run(root, "install", "--help").returncode == 0
    assert run(root, "-h").returncode == 0


@pytest.mark.parametrize("args, message", [
    ([], "No command specified"),
    (["install", "1.31", "-p", "ssm", "--bogus"], "Unknown arguments supplied: --bogus"),
    (["install", "-p", "ssm"], "KUBERNETES_VERSION not found"),
    (["install", "1.31"], "--credential-provider is a required flag"),
    (["install", "1.31", "1.32", "-p", "ssm"], "Unexpected argument: 1.32"),
    (["install", "1.31", "-p"], "Expected a following arg for flag p"),
    (["install", "1.31", "-p", "ssm", "-t", "soon"], "invalid duration"),
    (["init"], "--config-source is a required flag"),
    (["upgrade", "1.31"], "--config-source is a required flag"),
    (["upgrade", "-c", "file:///x"], "KUBERNETES_VERSION not found"),
    (["uninstall", "-x"], "Unknown arguments supplied: -x"),
    (["config"], "config requires a subcommand"),
    (["config", "check"], "--config-source is a required flag"),
    (["debug"], "--config-source is a required flag"),
])
def test_usage_errors_exit_2_with_help(root, args, message):
    p = run(root, *args)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert "Usage:" in p.stderr


@pytest.mark.parametrize("args, error", [
    (["install", "1.31", "-p", "kerberos"], "invalid credential process provided"),
    (["install", "1.31", "-p", "ssm", "-s", "podman"], "invalid containerd source: podman"),
    (["install", "1.27", "-p", "ssm"], "1.27 is not a supported version"),
    (["install", "1.31.99", "-p", "ssm"], "1.31.99 is not a supported version"),
    (["install", "latest", "-p", "ssm"], "invalid Kubernetes version"),
])
def test_fatal_errors_exit_1_as_zap_line(root, args, error):
    p = run(root, *args)
    assert p.returncode == 1, p.stderr
    fatal = [e for e in logs(p) if e["level"] == "fatal"]
    assert fatal and fatal[-1]["msg"] == "Command failed" and error in fatal[-1]["error"]
    assert not (root / "opt/nodeadm/tracker").exists()


def test_short_and_long_flag_forms_are_equivalent(root, tmp_path):
    a = run(root, "install", "1.31", "-p", "iam-ra", "-s=none", "-r", "us-west-2", "-t", "1h23s")
    assert a.returncode == 0, a.stderr
    tracker_a = (root / "opt/nodeadm/tracker").read_text()
    root2 = tmp_path / "root2"
    (root2 / "etc").mkdir(parents=True)
    b = run(root2, "-d", "install", "--credential-provider=iam-ra", "--containerd-source", "none",
            "--region=us-west-2", "--timeout", "20m", "1.31")
    assert b.returncode == 0, b.stderr
    assert (root2 / "opt/nodeadm/tracker").read_text() == tracker_a


def test_distro_refused_on_rhel(root):
    (root / "etc/os-release").write_text('ID="rhel"\n')
    p = run(root, "install", "1.31", "-p", "ssm")
    assert p.returncode == 1 and "not supported on RHEL" in p.stderr


# ------------------------------------------------------------------- traps
def test_traps_exit_0_with_nothing_installed(root, tmp_path):
    cfg = node_config(tmp_path)
    p = run(root, "init", "-c", cfg)
    assert p.returncode == 0
    assert any("not installed" in e["msg"] for e in logs(p))
    assert not (root / "var/lib/kubelet/kubeconfig").exists()
    p = run(root, "upgrade", "1.32", "-c", cfg)
    assert p.returncode == 0 and any("No nodeadm components installed" in e["msg"] for e in logs(p))
    p = run(root, "uninstall")
    assert p.returncode == 0 and any("already uninstalled" in e["msg"] for e in logs(p))
    # even an invalid config passes the init trap: the exit code proves nothing
    (tmp_path / "bad.yaml").write_text("kind: Nope\n")
    assert run(root, "init", "-c", f"file://{tmp_path / 'bad.yaml'}").returncode == 0


# ----------------------------------------------------------------- install
def test_install_ssm_tracker_and_files(root):
    p = run(root, "install", "1.31", "-p", "ssm")
    assert p.returncode == 0, p.stderr
    assert (root / "opt/nodeadm/tracker").read_text() == (
        "Artifacts:\n  CniPlugins: true\n  Containerd: distro\n  IamAuthenticator: true\n"
        "  IamRolesAnywhere: false\n  ImageCredentialProvider: true\n  Iptables: true\n"
        "  Kubectl: true\n  Kubelet: true\n  Ssm: true\n")
    for f in ("usr/bin/kubelet", "etc/systemd/system/kubelet.service", "usr/local/bin/kubectl",
              "opt/cni/bin/loopback", "etc/eks/image-credential-provider/ecr-credential-provider",
              "usr/local/bin/aws-iam-authenticator", "opt/ssm/ssm-setup-cli", "usr/bin/containerd",
              "etc/systemd/system/containerd.service"):
        assert (root / f).exists(), f
    assert not (root / "usr/local/bin/aws_signing_helper").exists()
    kubelet = subprocess.run([sys.executable, str(root / "usr/bin/kubelet"), "--version"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert kubelet.stdout.strip() == f"Kubernetes v{standin.SUPPORTED_KUBERNETES['1.31']}"


def test_install_iam_ra_and_patch_version(root):
    p = run(root, "install", "1.30.11", "-p", "iam-ra", "-s", "docker")
    assert p.returncode == 0, p.stderr
    arts = yaml.safe_load((root / "opt/nodeadm/tracker").read_text())["Artifacts"]
    assert arts["IamRolesAnywhere"] is True and arts["Ssm"] is False and arts["Containerd"] == "docker"
    assert (root / "usr/local/bin/aws_signing_helper").exists()
    assert not (root / "opt/ssm/ssm-setup-cli").exists()
    assert 'KUBELET_VERSION = "1.30.11"' in (root / "usr/bin/kubelet").read_text()


def test_reinstall_over_existing_containerd_records_none(root):
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    arts = yaml.safe_load((root / "opt/nodeadm/tracker").read_text())["Artifacts"]
    assert arts["Containerd"] == "none"
    # so uninstall leaves containerd behind
    assert run(root, "uninstall").returncode == 0
    assert (root / "usr/bin/containerd").exists()
    assert not (root / "usr/bin/kubelet").exists()
    assert not (root / "opt/nodeadm").exists()


def test_manifest_override_limits_versions(root, tmp_path):
    man = {"supported_eks_releases": [{"major_minor_version": "1.29", "latest_patch_version": "3",
                                       "patch_releases": [{"version": "1.29.2"}, {"version": "1.29.3"}]}]}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(man))
    m = f"file://{tmp_path / 'm.yaml'}"
    assert run(root, "install", "1.31", "-p", "ssm", "-m", m).returncode == 1
    assert run(root, "install", "1.29.2", "-p", "ssm", "-m", m).returncode == 0
    assert 'KUBELET_VERSION = "1.29.2"' in (root / "usr/bin/kubelet").read_text()
    assert run(root, "install", "1.29", "-p", "ssm", "--manifest-override", m).returncode == 0
    assert 'KUBELET_VERSION = "1.29.3"' in (root / "usr/bin/kubelet").read_text()


# --------------------------------------------------------------- uninstall
def test_uninstall_force_wipes_cni_state_only_with_force(root):
    for d in ("etc/cni/net.d", "var/lib/cni"):
        (root / d).mkdir(parents=True)
        (root / d / "05-cilium.conflist").write_text("{}")
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    assert run(root, "uninstall").returncode == 0
    assert (root / "etc/cni/net.d/05-cilium.conflist").exists()
    assert (root / "var/lib/cni/05-cilium.conflist").exists()
    assert not (root / "usr/bin/containerd").exists()  # nodeadm installed it: removed
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    assert run(root, "uninstall", "-f").returncode == 0
    assert not (root / "etc/cni/net.d").exists() and not (root / "var/lib/cni").exists()
    assert not (root / "opt/nodeadm/tracker").exists()


# -------------------------------------------------------------- NodeConfig
def _doc(**over):
    doc = {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
           "spec": {"cluster": {"name": "c", "region": "us-west-2"},
                    "hybrid": {"ssm": {"activationId": ACT_ID, "activationCode": ACT_CODE}}}}
    for path, value in over.items():
        node = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return doc


IRA = {"nodeName": "edge01", "trustAnchorArn": "arn:ta", "profileArn": "arn:p", "roleArn": "arn:r"}


@pytest.mark.parametrize("over, error", [
    ({"spec.cluster.name": None}, "Name is missing in cluster configuration"),
    ({"spec.cluster.region": None}, "Region is missing in cluster configuration"),
    ({"spec.hybrid.iamRolesAnywhere": IRA}, "Only one of IAMRolesAnywhere or SSM"),
    ({"spec.hybrid.ssm": None}, "Only one of IAMRolesAnywhere or SSM"),
    ({"spec.hybrid.ssm.activationId": "E488F2F6-E686-4AFB-8A04-EF6DFABCDEFF"}, "invalid ActivationID format"),
    ({"spec.hybrid.ssm.activationId": "not-a-uuid"}, "invalid ActivationID format"),
    ({"spec.hybrid.ssm.activationCode": "short"}, "Must be 20-250 characters"),
    ({"spec.hybrid.ssm.activationCode": "x" * 251}, "Must be 20-250 characters"),
    ({"spec.hybrid.ssm.activationCode": ""}, "ActivationCode is missing"),
    ({"spec.hybrid.ssm": None, "spec.hybrid.iamRolesAnywhere": dict(IRA, nodeName="n" * 65)},
     "NodeName can't be longer than 64 characters"),
    ({"spec.hybrid.ssm": None, "spec.hybrid.iamRolesAnywhere": dict(IRA, nodeName="")}, "NodeName can't be empty"),
    ({"spec.hybrid.ssm": None, "spec.hybrid.iamRolesAnywhere": dict(IRA, roleArn="")}, "RoleARN is missing"),
    ({"spec.kubelet.flags": ["--hostname-override=foo"]}, "hostname-override kubelet flag is not supported"),
    ({"spec.kubelet.flags": ["--register-with-taints=a=b:Sometimes"]}, "invalid taint"),
])
def test_node_config_validation(root, tmp_path, over, error):
    with pytest.raises(standin.Fatal, match=error.replace("(", r"\(")):
        standin.validate_node_config(_doc(**over))
    # the same through the CLI: config check, and init once installed
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_doc(**over)))
    src = f"file://{tmp_path / 'c.yaml'}"
    p = run(root, "config", "check", "-c", src)
    assert p.returncode == 1 and error in p.stderr
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    p = run(root, "init", "--config-source", src)
    assert p.returncode == 1 and error in logs(p)[-1]["error"]


@pytest.mark.parametrize("over, field", [
    ({"spec.cluster.bogus": 1}, "bogus"),
    ({"spec.hybrid.ssm.activationToken": "x"}, "activationToken"),
    ({"spec.kubelet.extraArgs": ["--v=2"]}, "extraArgs"),
    ({"spec.nodeType": "hybrid"}, "nodeType"),
    ({"metadata.bogus": "x"}, "bogus"),
])
def test_unknown_fields_are_refused_as_nodeadm_decodes_strictly(root, tmp_path, over, field):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_doc(**over)))
    src = f"file://{tmp_path / 'c.yaml'}"
    p = run(root, "config", "check", "-c", src)
    assert p.returncode == 1 and f'json: unknown field "{field}"' in logs(p)[-1]["error"], p.stderr
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    p = run(root, "init", "--config-source", src)
    assert p.returncode == 1 and f'unknown field "{field}"' in logs(p)[-1]["error"]


@pytest.mark.parametrize("over", [
    {"apiVersion": "node.eks.aws/v1"},           # nodeadm decodes both and checks neither
    {"kind": "Config"},
    {"metadata.labels": {"any": "label"}},       # free maps
    {"spec.kubelet.config": {"maxPods": 30, "anything": {"nested": True}}},
    {"spec.Cluster": {"name": "c", "region": "us-west-2"}},  # Go's JSON matches names without regard to case
])
def test_what_nodeadm_decodes_is_accepted(root, tmp_path, over):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_doc(**over)))
    p = run(root, "config", "check", "-c", f"file://{tmp_path / 'c.yaml'}")
    assert p.returncode == 0, p.stderr


def test_valid_config_checks(root, tmp_path):
    standin.validate_node_config(_doc())
    standin.validate_node_config(_doc(**{"spec.hybrid.ssm": None, "spec.hybrid.iamRolesAnywhere": IRA,
                                         "spec.kubelet.flags": ["--node-labels=a=b", "--node-ip=10.200.0.11"]}))
    assert run(root, "config", "check", "-c", node_config(tmp_path)).returncode == 0


def test_init_fault_injection_file(root, tmp_path):
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    (root / "etc/hnlab").mkdir(parents=True)
    (root / "etc/hnlab/fail-init").write_text("lab says no\n")
    p = run(root, "init", "-c", node_config(tmp_path))
    assert p.returncode == 1 and logs(p)[-1]["error"] == "lab says no"


def test_init_needs_containerd_unit(root, tmp_path):
    assert run(root, "install", "1.31", "-p", "ssm", "-s", "none").returncode == 0
    p = run(root, "init", "-c", node_config(tmp_path))
    assert p.returncode == 1 and "systemd unit file for containerd" in p.stderr


def _cert(root: Path, cn: str) -> tuple[str, str]:
    """Key + self-signed cert at /etc/iam/pki/server.{key,pem} of the fake root; returns host paths."""
    pki = root / "etc/iam/pki"
    pki.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(pki / "server.key"), "-out", str(pki / "server.pem"), "-days", "2",
                    "-subj", f"/CN={cn}"], check=True, capture_output=True, timeout=60)
    return "/etc/iam/pki/server.pem", "/etc/iam/pki/server.key"


def test_iam_ra_certificate_checks(root, tmp_path):
    assert run(root, "install", "1.31", "-p", "iam-ra").returncode == 0
    p = run(root, "init", "-c", node_config(tmp_path, {"iamRolesAnywhere": IRA}))  # default paths, no files
    assert p.returncode == 1 and "certificate /etc/iam/pki/server.pem not found" in p.stderr
    cert, key = _cert(root, "someone-else")
    ira = dict(IRA, certificatePath=cert, privateKeyPath=key)
    p = run(root, "init", "-c", node_config(tmp_path, {"iamRolesAnywhere": ira}))
    assert p.returncode == 1 and "does not match nodeName" in p.stderr
    (root / "etc/iam/pki/garbage.pem").write_text("not a cert")
    p = run(root, "init", "-c", node_config(tmp_path, {"iamRolesAnywhere": dict(ira, certificatePath="/etc/iam/pki/garbage.pem")}))
    assert p.returncode == 1 and "cannot be parsed" in p.stderr
    _cert(root, "edge01")
    p = run(root, "init", "-c", node_config(tmp_path, {"iamRolesAnywhere": IRA}))
    # certificate accepted; the next step needs the AWS endpoint
    assert p.returncode == 1 and "no AWS endpoint" in p.stderr
    cfgtext = (root / "etc/aws/hybrid/config").read_text()
    assert "credential_process = /usr/local/bin/aws_signing_helper credential-process" in cfgtext
    assert "--role-session-name edge01" in cfgtext


def test_upgrade_updates_kubelet_and_refuses_provider_change(root, tmp_path):
    assert run(root, "install", "1.30", "-p", "ssm").returncode == 0
    cfg = node_config(tmp_path)
    p = run(root, "upgrade", "1.31", "-c", cfg)
    assert p.returncode == 1 and "node not initialized" in p.stderr
    p = run(root, "upgrade", "1.31", "-c", cfg, "-s", "init-validation")
    assert p.returncode == 0, p.stderr
    assert f'KUBELET_VERSION = "{standin.SUPPORTED_KUBERNETES["1.31"]}"' in (root / "usr/bin/kubelet").read_text()
    p = run(root, "upgrade", "1.30", "-c", cfg, "-s", "init-validation")
    assert p.returncode == 1 and "cannot downgrade" in p.stderr
    ira = node_config(tmp_path, {"iamRolesAnywhere": IRA})
    p = run(root, "upgrade", "1.32", "-c", ira, "-s", "init-validation")
    assert p.returncode == 1 and "does not support changing credential providers" in p.stderr


# ------------------------------------------------------- pure: Node payload
def test_node_manifest_payload():
    flags = standin.parse_kubelet_flags(["--node-labels=pool=edge,zone=a", "--register-with-taints=dedicated=edge:NoSchedule",
                                         "--node-ip=10.200.0.12", "--max-pods=58"])
    assert flags["node_ip"] == "10.200.0.12" and flags["other"] == ["--max-pods=58"]
    m = standin.node_manifest("mi-0123", flags["node_ip"], "edge02", flags["labels"], flags["taints"], "1.31.7",
                              now="2025-01-01T00:00:00Z")
    labels = m["metadata"]["labels"]
    assert labels["eks.amazonaws.com/compute-type"] == "hybrid"
    assert labels["pool"] == "edge" and labels["zone"] == "a" and labels["kubernetes.io/hostname"] == "mi-0123"
    assert m["spec"]["taints"] == [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]
    assert {"type": "InternalIP", "address": "10.200.0.12"} in m["status"]["addresses"]
    assert m["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.7"
    # NotReady until a CNI configuration exists, with the kubelet's reason and message; Ready with one.
    ready = [c for c in m["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "False" and ready[0]["reason"] == "KubeletNotReady"
    assert "NetworkPluginNotReady" in ready[0]["message"]
    m = standin.node_manifest("mi-0123", "10.200.0.12", "edge02", {}, [], "1.31.7", network_ready=True)
    assert [c["status"] for c in m["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    # a user label cannot turn the node into a non-hybrid one
    m = standin.node_manifest("n", "10.0.0.1", "h", {"eks.amazonaws.com/compute-type": "ec2"}, [], "1.31.7")
    assert m["metadata"]["labels"]["eks.amazonaws.com/compute-type"] == "hybrid" and m["spec"] == {}


def test_resolve_versions_and_durations():
    assert standin.resolve_kubernetes_version("1.31", None) == standin.SUPPORTED_KUBERNETES["1.31"]
    assert standin.resolve_kubernetes_version("1", None) == standin.SUPPORTED_KUBERNETES["1.33"]
    assert standin.parse_duration("1h23s") == 3623 and standin.parse_duration("20m") == 1200
    with pytest.raises(ValueError):
        standin.parse_duration("20 minutes")


# ----------------------------------------------- end to end with the emulator
@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    pytest.importorskip("moto")
    try:
        from hnlab.aws import process
        from hnlab.aws import seed as seed_topology
        from hnlab.aws.clients import client
        from hnlab.aws.labapi import LabApi
    except ImportError as exc:
        pytest.skip(f"AWS emulator code not available: {exc}")
    from hnlab.config import isolated

    cfg = isolated(tmp_path_factory.mktemp("aws-state"), "moto_port")
    process.start(cfg)
    try:
        ca = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
        seed_topology(cfg, ca, "https://127.0.0.1:1")
        iam = client(cfg, "iam")
        role = iam.create_role(RoleName="hybrid-node-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        yield {"cfg": cfg, "client": lambda s, **kw: client(cfg, s, **kw), "role": role, "lab": LabApi(cfg.moto_endpoint, cfg.region)}
    finally:
        process.stop(cfg)


def _ssm_activation(emu, limit=1):
    a = emu["client"]("ssm").create_activation(IamRole="hybrid-node-role", RegistrationLimit=limit)
    return a["ActivationId"], a["ActivationCode"]


def _access_entry(emu, kind="HYBRID_LINUX"):
    eks = emu["client"]("eks")
    name = emu["cfg"].cluster_name
    if emu["role"] in eks.list_access_entries(clusterName=name)["accessEntries"]:
        eks.delete_access_entry(clusterName=name, principalArn=emu["role"])
    if kind:
        eks.create_access_entry(clusterName=name, principalArn=emu["role"], type=kind)


def _installed_with_token(root: Path) -> None:
    assert run(root, "install", "1.31", "-p", "ssm").returncode == 0
    (root / "etc/hnlab").mkdir(parents=True, exist_ok=True)
    (root / "etc/hnlab/node-token").write_text("lab-node-token\n")


def _ssm_cfg(tmp_path, emu, aid, code, **spec):
    return node_config(tmp_path, {"ssm": {"activationId": aid, "activationCode": code}},
                       cluster={"name": emu["cfg"].cluster_name, "region": emu["cfg"].region}, **spec)


def test_e2e_ssm_init_registers_and_writes_files(root, tmp_path, emulator):
    emu = emulator
    _access_entry(emu)
    _installed_with_token(root)
    aid, code = _ssm_activation(emu)
    src = _ssm_cfg(tmp_path, emu, aid, code, kubelet={"flags": ["--node-labels=pool=edge"]})
    env = {"NODEADM_STANDIN_AWS_ENDPOINT": emu["cfg"].moto_endpoint}
    emu["lab"].reset()
    p = run(root, "init", "-c", src, "-s", "run", env=env)
    assert p.returncode == 0, p.stderr
    reg = json.loads((root / "var/lib/amazon/ssm/registration").read_text())
    assert reg["ManagedInstanceID"].startswith("mi-") and reg["Region"] == emu["cfg"].region
    assert "aws_access_key_id" in (root / "root/.aws/credentials").read_text()
    kc = json.loads((root / "var/lib/kubelet/kubeconfig").read_text())
    assert kc["users"][0]["user"]["token"] == "lab-node-token"
    assert kc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:1"
    assert "BEGIN CERTIFICATE" in (root / "etc/kubernetes/pki/ca.crt").read_text()
    env_file = (root / "etc/eks/kubelet/environment").read_text()
    assert f"--hostname-override={reg['ManagedInstanceID']}" in env_file
    assert "eks.amazonaws.com/compute-type=hybrid,pool=edge" in env_file
    assert (root / "etc/containerd/config.toml").exists()
    # re-running init skips SSM registration (the activation allows only one)
    p = run(root, "init", "-c", src, "-s", "run", env=env)
    assert p.returncode == 0, p.stderr
    assert any("Skipping SSM registration" in e["msg"] for e in logs(p))
    assert emu["lab"].counts()[("ssm", "RegisterManagedInstance")] == 1


@pytest.mark.parametrize("entry", [None, "STANDARD"])
def test_e2e_init_requires_hybrid_access_entry(root, tmp_path, emulator, entry):
    emu = emulator
    _access_entry(emu, entry)
    _installed_with_token(root)
    aid, code = _ssm_activation(emu)
    p = run(root, "init", "-c", _ssm_cfg(tmp_path, emu, aid, code), "-s", "run",
            env={"NODEADM_STANDIN_AWS_ENDPOINT": emu["cfg"].moto_endpoint})
    assert p.returncode == 1
    assert "Unauthorized" in logs(p)[-1]["error"] and "HYBRID_LINUX" in logs(p)[-1]["error"]
    assert not (root / "var/lib/kubelet/kubeconfig").exists()
    _access_entry(emu)


def test_e2e_activation_errors(root, tmp_path, emulator):
    emu = emulator
    _installed_with_token(root)
    env = {"NODEADM_STANDIN_AWS_ENDPOINT": emu["cfg"].moto_endpoint}
    aid, code = _ssm_activation(emu)
    emu["lab"].expire_activation(aid)
    p = run(root, "init", "-c", _ssm_cfg(tmp_path, emu, aid, code), "-s", "run", env=env)
    assert p.returncode == 1 and "ActivationExpired" in logs(p)[-1]["error"]
    aid, code = _ssm_activation(emu)
    p = run(root, "init", "-c", _ssm_cfg(tmp_path, emu, aid, "x" * 20), "-s", "run", env=env)
    assert p.returncode == 1 and "InvalidActivation" in logs(p)[-1]["error"]
    assert not (root / "var/lib/amazon/ssm/registration").exists()


def test_e2e_node_ip_outside_remote_node_networks(root, tmp_path, emulator):
    emu = emulator
    _access_entry(emu)
    _installed_with_token(root)
    eks = emu["client"]("eks")
    name = emu["cfg"].cluster_name
    eks.update_cluster_config(name=name, remoteNetworkConfig={
        "remoteNodeNetworks": [{"cidrs": [emu["cfg"].edge_cidr]}],
        "remotePodNetworks": [{"cidrs": [emu["cfg"].pod_cidr]}]})
    env = {"NODEADM_STANDIN_AWS_ENDPOINT": emu["cfg"].moto_endpoint}
    aid, code = _ssm_activation(emu, limit=2)
    src = _ssm_cfg(tmp_path, emu, aid, code, kubelet={"flags": ["--node-ip=172.31.0.5"]})
    p = run(root, "init", "-c", src, "-s", "run", env=env)
    assert p.returncode == 1 and "not in any of the remote node networks" in logs(p)[-1]["error"]
    p = run(root, "init", "-c", src, "-s", "run,node-ip-validation", env=env)
    assert p.returncode == 0, p.stderr
