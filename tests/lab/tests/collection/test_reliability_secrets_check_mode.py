"""Reliability (issue 10): secrets and check mode of playbooks/site.yml on the running lab (root only).

Two module-scoped fixtures run the site, each in one go, and undo it before handing over what they saw:
  - `ssm` (the inventory's provider): a snapshot of the whole lab (hnlab.state), site.yml --check --diff on the
    fresh lab, a snapshot, the real site.yml -vvv, a snapshot, site.yml --check --diff on the converged lab, a
    snapshot; the secrets the run put on the hosts (the SSM activation code in the NodeConfig, the instance
    credentials the registration wrote when the emulator returns real ones, the kubelet's bearer token) and the lab's
    own bearer tokens (admin and node, the admin one is also the controller kubeconfig's) are then searched
    for in every output, in every controller file the runs wrote, in every host file that changed, in the host's
    journal and under /etc, /root, /opt, /usr/local, /var/lib/hybridnodes and /var/log; then everything is undone.
  - `iam_ra`: a test CA (its key encrypted), playbooks/aws_prerequisites.yml with hybrid_credential_provider=iam-ra
    (trust anchor, role, profile), then the same site.yml -vvv with that provider, searched the same way for the CA's
    key, its passphrase and each host's private key; then everything is undone.
A task result recorder (tests/lab/callback_plugins/hnlab_changes.py) gives the (play, task, host) of every result.
The validation stage (stage 9) is skipped in check mode by design (site.yml), so it is left out of the comparison.
The real re-run on the converged lab is not repeated here: the converged --check predicting no change and changing
nothing is asserted, and the re-run's changed=0 is covered per stage by test_join_lifecycle.py, test_lab_routes.py
and test_iam_ra_certificates.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from hnlab import dns, edge, k8s, network, state
from hnlab.aws.clients import client
from hnlab.testing import REPO, light_inventory, play, recap as _recap, ssh as _ssh

# The helpers of the per-stage lab tests (same package, tests/lab/tests/collection): the CA, the PEM lines, and their cleanups.
from .test_iam_ra_certificates import PACKAGES, _make_ca, _pem_bodies
from .test_lab_routes import (_aws_routes, _ciliumnodes, _cleanup as _routes_cleanup,
                              _inventory_vars, _nodes_by_ip)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]

# On the light profile's inventory (hnlab.testing.light_inventory): the SSM run's secrets (the activation code) exist
# only there; its iam-ra run overrides the provider.

SITE = REPO / "playbooks" / "site.yml"
AWS_PREREQUISITES = REPO / "playbooks" / "aws_prerequisites.yml"
CALLBACKS = REPO / "tests" / "lab" / "callback_plugins"
NODE_CONFIG = "/etc/nodeadm/nodeConfig.yaml"
HOST_KEY = "/etc/iam/pki/server.key"
AWS_CREDENTIALS = "/root/.aws/credentials"
KUBELET_KUBECONFIG = "/var/lib/kubelet/kubeconfig"
# Stage 9 does not run in check mode (site.yml: `when: not ansible_check_mode`).
VALIDATE_PLAYS = {"Validate the hybrid nodes"}
# Where a host may legitimately hold a secret: the NodeConfig (activation code), the credentials the SSM registration
# writes (nodeadm), the kubelet's kubeconfig and the lab's node token (bearer token), the host key (iam-ra).
SECRET_HOLDERS = {NODE_CONFIG, AWS_CREDENTIALS, KUBELET_KUBECONFIG, "/etc/hnlab/node-token", HOST_KEY}
# Key files of the host itself (sshd's), which hold a PEM private key and are none of the run's doing.
KEY_FILES = re.compile(r"^/etc/ssh/ssh_host_\w+_key$")
# What the nodeadm stand-in writes when the emulator's SSM registration returns no credentials: constants of the
# repository, not secrets (the lab has no instance credentials then).
STANDIN_PLACEHOLDERS = {"lab-secret", "lab-session"}
SEARCHED_ON_HOSTS = ("/etc", "/root", "/opt", "/usr/local", "/var/lib/hybridnodes", "/var/lib/amazon",
                     "/var/lib/nodeadm-standin", "/var/log", "/tmp", "/var/tmp")


# ---------------------------------------------------------------------------------------------------------------------
# Running the site and recording its task results
# ---------------------------------------------------------------------------------------------------------------------

def _run(cfg, workdir: Path, label: str, playbook: Path, *extra: str) -> dict:
    """One playbook run with the result recorder: {rc, output, results, changed, seconds}."""
    changes = workdir / f"{label}.jsonl"
    changes.unlink(missing_ok=True)
    t0 = time.monotonic()
    code, output = play(light_inventory(cfg), playbook, *extra, timeout=1200,
                        env={"ANSIBLE_CALLBACK_PLUGINS": CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "hnlab_changes",
                             "HNLAB_CHANGES_FILE": changes})
    results = [json.loads(line) for line in changes.read_text().splitlines()] if changes.exists() else []
    changed = {(r["play"], r["task"], r["host"]) for r in results if r["changed"] and r["status"] == "ok"}
    (workdir / f"{label}.out").write_text(output)
    return {"rc": code, "output": output, "results": results, "changed": changed,
            "seconds": round(time.monotonic() - t0, 1)}


def _without_validation(changed):
    return {c for c in changed if c[0] not in VALIDATE_PLAYS}


def _show(changed):
    return "\n".join(f"  {host}: [{play}] {task}" for play, task, host in sorted(changed, key=lambda c: (c[2], c[0], c[1])))


# ---------------------------------------------------------------------------------------------------------------------
# Secrets: what to look for, and where
# ---------------------------------------------------------------------------------------------------------------------

def _read(cfg, host, path) -> str:
    out = _ssh(cfg, host, f"cat {shlex.quote(path)} 2>/dev/null")
    return out.stdout if out.returncode == 0 else ""


def _host_secrets(cfg, host) -> dict[str, str]:
    """{label: value} of the secrets a converged host holds (whatever of them exists)."""
    found = {}
    config = yaml.safe_load(_read(cfg, host, NODE_CONFIG) or "{}") or {}
    code = (((config.get("spec") or {}).get("hybrid") or {}).get("ssm") or {}).get("activationCode")
    if code:
        found["SSM activation code"] = code
    for key, label in (("aws_secret_access_key", "SSM instance secret key"),
                       ("aws_session_token", "SSM instance session token")):
        match = re.search(rf"^{key}\s*=\s*(\S+)", _read(cfg, host, AWS_CREDENTIALS), re.M)
        if match and match.group(1) not in STANDIN_PLACEHOLDERS:
            found[label] = match.group(1)
    kubeconfig = _read(cfg, host, KUBELET_KUBECONFIG)
    if kubeconfig:
        for i, user in enumerate((yaml.safe_load(kubeconfig) or {}).get("users") or []):
            token = (user.get("user") or {}).get("token")
            if token:
                found[f"kubelet kubeconfig token {i}"] = token
    for i, line in enumerate(_pem_bodies(_read(cfg, host, HOST_KEY))):
        found[f"host private key line {i}"] = line
    return found


def _lab_secrets(cfg) -> dict[str, str]:
    return {"API server admin token": k8s.admin_token(cfg), "API server node token": k8s.node_token(cfg)}


def _leaks_in_text(text: str, secrets: dict[str, str]) -> list[str]:
    leaks = [label for label, value in secrets.items() if value and value in text]
    if "PRIVATE KEY-----" in text:
        leaks.append("a PEM private key")
    return leaks


def _controller_files(since: float, extra_dirs: list[Path]) -> list[Path]:
    """The files the runs wrote on the controller: under the repository (not .git, caches), ~/.ansible, the work dirs."""
    roots = [REPO, Path.home() / ".ansible", *extra_dirs]
    skip = {".git", ".venv", ".pytest_cache", "__pycache__", ".collections", "build", "tests/output"}
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, REPO)
            dirnames[:] = [d for d in dirnames if d not in skip and os.path.join(rel, d) not in skip]
            for name in filenames:
                path = Path(dirpath, name)
                with contextlib.suppress(OSError):
                    if path.is_file() and path.stat().st_mtime >= since:
                        found.append(path)
    return found


def _changed_host_files(diff_lines: list[str]) -> dict[str, set[str]]:
    """{host: {path}} of the files that are new or differ in a snapshot diff."""
    files: dict[str, set[str]] = {}
    for line in diff_lines:
        match = re.match(r"^\+ hosts/([^/]+)/files\[(\S+) ", line)
        if match:
            files.setdefault(match.group(1), set()).add(match.group(2))
    return files


def _search_hosts(cfg, hosts, secrets: dict[str, str], changed_files: dict[str, set[str]], since: int) -> dict:
    """{host: [(where, label)]}: every file under SEARCHED_ON_HOSTS and every changed file holding a secret (outside
    SECRET_HOLDERS), and the journal since the run began. The patterns go in on stdin, never on a command line."""
    labels = {value: label for label, value in secrets.items() if value}
    patterns = "\n".join(labels) + "\nPRIVATE KEY-----\n"
    found = {}
    for host in hosts:
        paths = " ".join(shlex.quote(p) for p in sorted(set(SEARCHED_ON_HOSTS) | changed_files.get(host["name"], set())))
        script = (f"pats=$(mktemp -p /dev/shm); cat > $pats; "
                  f"grep -rlaIF -f $pats {paths} 2>/dev/null | grep -v '^/dev/shm' | while read -r f; do "
                  f"  grep -oaF -f $pats \"$f\" | sort -u | sed \"s|^|$f\\t|\"; done; "
                  f"journalctl --no-pager -q -o cat --since=@{since} 2>/dev/null | grep -oaF -f $pats | sort -u "
                  f"| sed 's|^|journal\\t|'; rm -f $pats")
        proc = subprocess.run(edge.ssh_argv(cfg, host["ip"], "sh", "-c", shlex.quote(script)), input=patterns,
                              capture_output=True, text=True, timeout=300, check=False)
        hits = []
        for line in proc.stdout.splitlines():
            where, _sep, value = line.partition("\t")
            label = labels.get(value, "a PEM private key" if value == "PRIVATE KEY-----" else value[:12])
            if where in SECRET_HOLDERS or (KEY_FILES.match(where) and value == "PRIVATE KEY-----"):
                continue
            hits.append((where, label))
        found[host["name"]] = sorted(set(hits))
    return found


def _modes(cfg, host, paths) -> dict[str, str]:
    out = _ssh(cfg, host, "stat -c '%n %a %U:%G' " + " ".join(shlex.quote(p) for p in paths) + " 2>/dev/null")
    return {line.split()[0]: " ".join(line.split()[1:]) for line in out.stdout.splitlines()}


# ---------------------------------------------------------------------------------------------------------------------
# Undoing a site run
# ---------------------------------------------------------------------------------------------------------------------

def _undo(cfg, ctx: dict):
    """Everything a site run made: the per-stage cleanups of test_lab_routes (nodeadm, Nodes, Cilium, routes on the
    hosts, vpngw and in the emulator, activations, instances, access entry, role), the role's policies first, the
    Roles Anywhere profile and trust anchor, /etc/iam and the packages the run installed, the remote networks."""
    iam = client(cfg, "iam")
    role = ctx["role"]
    with contextlib.suppress(Exception):
        for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
    with contextlib.suppress(Exception):
        ctx["node_names"] = {h["name"]: n.metadata.name
                             for h in ctx["hosts"] for ip, n in _nodes_by_ip(cfg, {h["ip"]}).items()}
    _routes_cleanup(cfg, ctx)
    ra = client(cfg, "rolesanywhere")
    for profile in ra.list_profiles().get("profiles", []):
        if profile["name"] == role:
            ra.delete_profile(profileId=profile["profileId"])
    for anchor in ra.list_trust_anchors().get("trustAnchors", []):
        if anchor["name"] == role:
            ra.delete_trust_anchor(trustAnchorId=anchor["trustAnchorId"])
    for host in ctx["hosts"]:
        _ssh(cfg, host, "rm -rf /etc/iam /etc/aws/hybrid /root/.aws/credentials; "
                        "rmdir /etc/aws /root/.aws 2>/dev/null; true")
        before = ctx["packages"].get(host["name"])
        if before is not None:
            added = sorted(set(_ssh(cfg, host, PACKAGES).stdout.split()) - set(before))
            if added:
                _ssh(cfg, host, "DEBIAN_FRONTEND=noninteractive apt-get -y -q purge " + " ".join(map(shlex.quote, added)),
                     timeout=300)
    eks = client(cfg, "eks")
    if ctx["remote_networks_before"] != eks.describe_cluster(name=cfg.cluster_name)["cluster"].get("remoteNetworkConfig"):
        eks.update_cluster_config(name=cfg.cluster_name, remoteNetworkConfig=ctx["remote_networks_before"] or {})


def _context(cfg, workdir: Path, provider: str) -> dict:
    hosts = [h for h in edge.load_hosts(cfg) if h["kind"] == "edge"]
    gateway = next(h for h in edge.load_hosts(cfg) if h["kind"] == "vpngw")
    inv = _inventory_vars(cfg)
    ids = {"route_tables": inv["hybrid_route_table_ids"], "vpn_connection": inv["hybrid_vpn_connection_id"],
           "vpn_gateway": inv["hybrid_vpn_gateway_id"],
           "cidrs": inv["hybrid_remote_node_cidrs"] + inv["hybrid_remote_pod_cidrs"]}
    assert _nodes_by_ip(cfg, {h["ip"] for h in hosts}) == {}, "the lab is not clean: edge hosts are Nodes already"
    for host in hosts:
        present = _ssh(cfg, host, f"ls -d /usr/local/bin/nodeadm {NODE_CONFIG} /etc/iam 2>/dev/null; true").stdout.split()
        assert present == [], (host["name"], "expected a host without nodeadm", present)
    role = f"lab-sc-{provider}-{uuid.uuid4().hex[:8]}"
    reports = workdir / "reports"
    reports.mkdir(exist_ok=True)
    return {"hosts": hosts, "gateway": gateway, "role": role, "ids": ids, "aws_before": _aws_routes(cfg, ids),
            "crd_before": k8s.ciliumnode_crd_exists(cfg), "ciliumnodes_before": _ciliumnodes(cfg), "node_names": {},
            "packages": {h["name"]: _ssh(cfg, h, PACKAGES).stdout.split() for h in hosts},
            "remote_networks_before": client(cfg, "eks").describe_cluster(name=cfg.cluster_name)["cluster"].get(
                "remoteNetworkConfig") or {},
            "extra": {"hybrid_iam_role_name": role, "nodeadm_retry_delay": 1,
                      "hybrid_validate_report_dir": str(reports)}}


def _secrets_search(cfg, ctx, runs: list[dict], workdir: Path, since: float, diff_lines, secrets,
                    key_files: tuple[str, ...] = ()) -> dict:
    """Every output and every file the runs wrote, on the controller (but the KEY_FILES the test made) and on the
    hosts, searched for SECRETS."""
    leaks = {}
    for run in runs:
        found = _leaks_in_text(run["output"], secrets)
        if found:
            leaks[f"output of {run['label']}"] = found
    for path in _controller_files(since, [workdir]):
        if (path.suffix == ".out" and path.parent == workdir) or str(path) in key_files:
            continue  # the outputs themselves, searched above; the test CA's key
        with contextlib.suppress(OSError):
            found = _leaks_in_text(path.read_text(errors="replace"), secrets)
            if found:
                leaks[str(path)] = found
    for name, hits in _search_hosts(cfg, ctx["hosts"], secrets, _changed_host_files(diff_lines), int(since) - 5).items():
        for where, label in hits:
            leaks.setdefault(f"{name}:{where}", []).append(label)
    return leaks


# ---------------------------------------------------------------------------------------------------------------------
# The two site runs
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def start(lab):
    return state.snapshot(lab)


@pytest.fixture(scope="module")
def ssm(lab, start, tmp_path_factory):
    """The ssm site, from check mode on the fresh lab to check mode on the converged one; undone before returning."""
    workdir = tmp_path_factory.mktemp("site-ssm")
    ctx = _context(lab, workdir, "ssm")
    extra = ["-e", json.dumps(ctx["extra"])]
    seen: dict = {"start": start}
    since = time.time()
    refused_before = network.egress_refused(lab)
    try:
        seen["check_fresh"] = dict(_run(lab, workdir, "check-fresh", SITE, "--check", "--diff", *extra), label="check-fresh")
        seen["after_check_fresh"] = state.snapshot(lab)
        seen["real"] = dict(_run(lab, workdir, "real", SITE, "-vvv", *extra), label="real -vvv")
        seen["after_real"] = state.snapshot(lab)
        seen["check_converged"] = dict(_run(lab, workdir, "check-converged", SITE, "--check", "--diff", *extra),
                                       label="check-converged")
        seen["after_check_converged"] = state.snapshot(lab)
        seen["egress_refused"] = network.egress_refused(lab) - refused_before
        seen["secrets"] = {}
        for host in ctx["hosts"]:
            seen["secrets"].update({f"{host['name']} {k}": v for k, v in _host_secrets(lab, host).items()})
        seen["modes"] = {h["name"]: _modes(lab, h, [NODE_CONFIG, AWS_CREDENTIALS]) for h in ctx["hosts"]}
        secrets = dict(seen["secrets"], **_lab_secrets(lab))
        runs = [seen[k] for k in ("check_fresh", "real", "check_converged")]
        seen["leaks"] = _secrets_search(lab, ctx, runs, workdir, since,
                                        state.diff(start, seen["after_real"]), secrets)
    finally:
        _undo(lab, ctx)
    return seen


@pytest.fixture(scope="module")
def iam_ra(lab, ssm, tmp_path_factory):
    """The iam-ra site -vvv (after the ssm one is undone), its secrets searched; undone before returning."""
    workdir = tmp_path_factory.mktemp("site-iam-ra")
    ctx = _context(lab, workdir, "iam-ra")
    passphrase = f"ca-pass-{uuid.uuid4().hex}"
    ca = _make_ca(workdir, passphrase)
    ctx["extra"].update({"hybrid_credential_provider": "iam-ra", "hybrid_iam_ra_ca_certificate_path": ca["cert_path"],
                         "hybrid_iam_ra_ca_private_key_path": ca["key_path"],
                         "hybrid_iam_ra_ca_private_key_passphrase": passphrase})
    seen: dict = {}
    since = time.time()
    try:
        prereq = _run(lab, workdir, "aws-prerequisites", AWS_PREREQUISITES, "-e", json.dumps(ctx["extra"]))
        seen["prerequisites"] = dict(prereq, label="aws_prerequisites.yml")
        ra = client(lab, "rolesanywhere")
        anchor = next((a for a in ra.list_trust_anchors()["trustAnchors"] if a["name"] == ctx["role"]), {})
        profile = next((p for p in ra.list_profiles()["profiles"] if p["name"] == ctx["role"]), {})
        role_arn = f"arn:aws:iam::{lab.account_id}:role/{ctx['role']}"
        ctx["extra"].update({"hybrid_iam_ra_trust_anchor_arn": anchor.get("trustAnchorArn", ""),
                             "hybrid_iam_ra_profile_arn": profile.get("profileArn", ""),
                             "hybrid_iam_ra_role_arn": role_arn})
        before = state.snapshot(lab)
        seen["real"] = dict(_run(lab, workdir, "real", SITE, "-vvv", "-e", json.dumps(ctx["extra"])), label="real -vvv")
        after = state.snapshot(lab)
        seen["secrets"] = {}
        for host in ctx["hosts"]:
            seen["secrets"].update({f"{host['name']} {k}": v for k, v in _host_secrets(lab, host).items()})
        seen["modes"] = {h["name"]: _modes(lab, h, [HOST_KEY, os.path.dirname(HOST_KEY), NODE_CONFIG])
                         for h in ctx["hosts"]}
        secrets = dict(seen["secrets"], **_lab_secrets(lab), **{"CA passphrase": passphrase},
                       **{f"CA private key line {i}": line for i, line in enumerate(_pem_bodies(ca["key_pem"]))})
        seen["leaks"] = _secrets_search(lab, ctx, [seen["prerequisites"], seen["real"]], workdir, since,
                                        state.diff(before, after), secrets, key_files=(ca["key_path"],))
    finally:
        _undo(lab, ctx)
    seen["end"] = state.snapshot(lab)
    return seen


# ---------------------------------------------------------------------------------------------------------------------
# Check mode
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.reliability("check_mode")
def test_check_mode_on_the_fresh_lab_changes_nothing_anywhere(ssm):
    run = ssm["check_fresh"]
    assert run["rc"] == 0, run["output"][-20000:]
    assert run["changed"], "check mode predicted no change on a fresh lab"
    assert state.diff(ssm["start"], ssm["after_check_fresh"]) == []


@pytest.mark.reliability("check_mode")
def test_check_mode_predicts_exactly_the_changes_of_the_real_run(ssm):
    real = ssm["real"]
    assert real["rc"] == 0, real["output"][-30000:]
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in _recap(real["output"]).values()), real["output"][-5000:]
    predicted = _without_validation(ssm["check_fresh"]["changed"])
    made = _without_validation(real["changed"])
    assert made, "the real run changed nothing"
    assert predicted == made, ("check mode predicted but the run did not change:\n" + _show(predicted - made)
                               + "\nthe run changed but check mode did not predict:\n" + _show(made - predicted))


@pytest.mark.reliability("check_mode")
def test_check_mode_on_the_converged_lab_predicts_and_changes_nothing(ssm):
    run = ssm["check_converged"]
    assert run["rc"] == 0, run["output"][-20000:]
    assert run["changed"] == set(), "check mode on the converged lab predicted changes:\n" + _show(run["changed"])
    assert state.diff(ssm["after_real"], ssm["after_check_converged"]) == []


# ---------------------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------------------

def test_a_whole_site_run_makes_no_attempt_to_leave_the_lab(lab, ssm):
    """site.yml in check mode, for real and again in check mode: not one packet tried to leave the lab for anything
    but the package archive (the egress chain's counter, hnlab.network.egress_refused), while the hosts resolved
    every name through the lab's DNS."""
    assert ssm["egress_refused"] == 0, (
        f"{ssm['egress_refused']} packets tried to leave the lab during the site runs; the lab's DNS log "
        f"{dns.query_log(lab)} shows what the hosts looked up")


@pytest.mark.reliability("secrets")
def test_ssm_site_run_shows_no_secret_anywhere(lab, ssm):
    hosts = [h["name"] for h in edge.load_hosts(lab) if h["kind"] == "edge"]
    found = ssm["secrets"]
    # The searches are only as good as the secrets known: each host's activation code and credentials were read.
    for name in hosts:
        assert f"{name} SSM activation code" in found, (name, sorted(found))
        assert f"{name} kubelet kubeconfig token 0" in found, (name, sorted(found))
    assert "ESTABLISH SSH CONNECTION" in ssm["real"]["output"]  # the run was verbose (-vvv)
    assert ssm["leaks"] == {}, ssm["leaks"]


@pytest.mark.reliability("secrets")
def test_ssm_secret_files_are_root_only(lab, ssm):
    for name, modes in ssm["modes"].items():
        assert modes.get(NODE_CONFIG) == "600 root:root", (name, modes)
        assert modes.get(AWS_CREDENTIALS) == "600 root:root", (name, modes)


@pytest.mark.reliability("secrets")
def test_iam_ra_site_run_shows_no_private_key_anywhere(lab, iam_ra):
    assert iam_ra["prerequisites"]["rc"] == 0, iam_ra["prerequisites"]["output"][-10000:]
    real = iam_ra["real"]
    assert real["rc"] == 0, real["output"][-30000:]
    hosts = [h["name"] for h in edge.load_hosts(lab) if h["kind"] == "edge"]
    for name in hosts:
        assert f"{name} host private key line 0" in iam_ra["secrets"], (name, sorted(iam_ra["secrets"]))
    assert iam_ra["leaks"] == {}, iam_ra["leaks"]


@pytest.mark.reliability("secrets")
def test_iam_ra_key_files_are_root_only(lab, iam_ra):
    for name, modes in iam_ra["modes"].items():
        assert modes.get(HOST_KEY) == "600 root:root", (name, modes)
        assert modes.get(os.path.dirname(HOST_KEY)) == "700 root:root", (name, modes)
        assert modes.get(NODE_CONFIG) == "600 root:root", (name, modes)


# ---------------------------------------------------------------------------------------------------------------------
# Back where it started
# ---------------------------------------------------------------------------------------------------------------------

# What two converges and their undoing may leave: host preparation's lasting settings (its files under /etc, the
# packages' dependencies and their files), and the file times of what they touched.
ACCEPTED = (
    re.compile(r"^[-+~] hosts/edge\d+/packages\["),
    re.compile(r"^[-+] hosts/edge\d+/files\[/etc/modules-load\.d/hybridnodes-eks\.conf "),
    re.compile(r"^[-+] hosts/edge\d+/files\[/etc/(sysctl\.d|modprobe\.d|systemd/timesyncd\.conf|fstab)"),
    re.compile(r"^[-+~] hosts/edge\d+/units\["),
    # A VPC route (and its drop-in) that another run left before this module started: the cleanup takes it away, as
    # the lab's other tests expect hosts without it. Only its removal is accepted, never its addition.
    re.compile(r"^- hosts/edge\d+/routes\[10\.100\.0\.0/16 via "),
    re.compile(r"^- hosts/edge\d+/files\[/etc/systemd/network/10-eth0\.network\.d/hybridnodes-eks-routes\.conf "),
)


def test_the_lab_is_back_to_its_start(start, iam_ra):
    lines = state.diff(start, iam_ra["end"])
    # A host whose packages differ (dependencies the purge of the run's packages left) may keep their files in /etc.
    with_leftover_packages = {m.group(1) for m in (re.match(r"^[-+~] hosts/(edge\d+)/packages\[", line) for line in lines) if m}
    unexpected = [line for line in lines if not any(p.match(line) for p in ACCEPTED)
                  and not any(line.startswith(f"+ hosts/{h}/files[/etc/") for h in with_leftover_packages)]
    print("accepted differences:\n" + "\n".join(line for line in lines if line not in unexpected))
    assert unexpected == []
