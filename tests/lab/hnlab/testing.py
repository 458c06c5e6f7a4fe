"""What the lab tests share: a shell command on a lab host, a playbook run against the lab, and its recap; a Node
read, awaited or deleted."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from . import edge
from .aws.clients import FAKE_ACCESS_KEY, FAKE_SECRET_KEY

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
LAB_ANSIBLE_CFG = REPO / "tests" / "lab" / "ansible.cfg"
# ansible-playbook arguments of a play on the controller itself ("localhost," as the inventory), with this venv's
# Python (its boto3, kubernetes client) as the modules' interpreter.
LOCAL = ("-c", "local", "-e", f"ansible_python_interpreter={VENV_BIN / 'python'}")


def light_inventory(cfg) -> Path:
    """The running lab's inventory in the light profile (the nodeadm stand-in over SSM, Kubernetes 1.31), whichever
    profile the lab was brought up in (`up` writes both, hnlab.inventory.write). The lab tests run on the real profile
    unless they name this one: the tests of what only the stand-in shows (its fault files, the SSM registration, the
    upgrade across two minors that the real builds do not serve) or of refusals written against its values."""
    from . import inventory

    return inventory.profile_path(cfg, "light")


def ssh(cfg, host: dict, cmd: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """`sh -c cmd` on a lab host (a load_hosts() entry); never raises on a non-zero exit."""
    return edge.ssh(cfg, host["ip"], "sh", "-c", shlex.quote(cmd), check=False, timeout=timeout)


# The one way the lab tests run a playbook: `ansible-playbook -i INVENTORY EXTRA... PLAYBOOK` of this venv, in the
# repository, with the lab's ansible.cfg. play() waits for it, run_play() too but keeps stdout and stderr apart,
# start_play() streams it; ansible-runner (the AWX slices) takes playbook_env() as its envvars.

def playbook_env(fake_aws: bool = True, env: dict | None = None) -> dict[str, str]:
    """The variables a lab playbook run sets over the caller's environment: the lab's ansible.cfg, no colour, this
    venv's tools first on PATH and, with fake_aws, the AWS emulator's fake keys and no AWS config or credentials
    file (never a real profile); env on top."""
    variables = {"ANSIBLE_CONFIG": str(LAB_ANSIBLE_CFG), "ANSIBLE_NOCOLOR": "1"}
    if fake_aws:
        variables.update(AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
                         AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    variables["PATH"] = f"{VENV_BIN}:{os.environ.get('PATH', '')}"
    variables.update({key: str(value) for key, value in (env or {}).items()})
    return variables


def _playbook_argv(inventory, playbook, extra) -> list[str]:
    return [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), *extra, str(playbook)]


def run_play(inventory, playbook, *extra: str, timeout: int = 900, fake_aws: bool = True,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook run to its end (never raises on a non-zero exit); stdout and stderr kept apart."""
    return subprocess.run(_playbook_argv(inventory, playbook, extra), cwd=REPO,
                          env=dict(os.environ, **playbook_env(fake_aws, env)),
                          capture_output=True, text=True, timeout=timeout, check=False)


def play(inventory, playbook, *extra: str, timeout: int = 900, fake_aws: bool = True,
         env: dict | None = None) -> tuple[int, str]:
    """ansible-playbook with the lab's ansible.cfg and (fake_aws) the emulator's fake keys; (rc, stdout + stderr).
    env: more variables for the run (e.g. a callback plugin)."""
    proc = run_play(inventory, playbook, *extra, timeout=timeout, fake_aws=fake_aws, env=env)
    return proc.returncode, proc.stdout + proc.stderr


def start_play(inventory, playbook, *extra: str, fake_aws: bool = True, env: dict | None = None) -> subprocess.Popen:
    """ansible-playbook started, its output (stderr into stdout) read line by line from .stdout as it runs, in a
    session of its own so that os.killpg(proc.pid, ...) ends it with every process it started."""
    return subprocess.Popen(_playbook_argv(inventory, playbook, extra), cwd=REPO,
                            env=dict(os.environ, **playbook_env(fake_aws, env)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


# Cilium's CNI configuration (written on a host by the lab's Cilium stand-in): removed by the tests' clean-ups so that a
# later join finds the host as new, with a Node NotReady until Cilium runs.
CNI_CLEANUP = "rm -f /etc/cni/net.d/05-cilium.conflist; rmdir /etc/cni/net.d /etc/cni 2>/dev/null"


def cilium_agent_daemonset(cfg, present: bool) -> None:
    """Create (or delete) Cilium's agent DaemonSet of the lab's manifest, whose hybrid affinity makes the lab's Cilium
    stand-in write the CNI configuration onto the selected nodes' hosts (and so their Nodes Ready). Deleting it first
    keeps the stand-in from writing the configuration again while a test cleans the hosts up."""
    from kubernetes import client as kube
    from kubernetes.client.rest import ApiException

    from . import cilium_manifest, k8s

    (agent,) = [doc for doc in cilium_manifest.build([cfg.pod_cidr], cfg.pod_mask_size) if doc["kind"] == "DaemonSet"]
    namespace, name = agent["metadata"]["namespace"], agent["metadata"]["name"]
    with k8s.api_client(cfg) as api:
        apps = kube.AppsV1Api(api)
        try:
            if present:
                apps.create_namespaced_daemon_set(namespace, agent)
            else:
                apps.delete_namespaced_daemon_set(name, namespace)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise


def ready(node) -> bool:
    """A Node (kubernetes client object) whose Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def network_not_ready(node) -> bool:
    """Registered by its kubelet and NotReady because no CNI runs yet, as a new hybrid node is."""
    return any(c.type == "Ready" and c.status == "False" and "NetworkPluginNotReady" in (c.message or "")
               for c in (node.status.conditions or []))


def kubelet_posting(node) -> bool:
    """Its kubelet posts status: Ready, or NotReady only for want of a CNI (not Unknown: kubelet stopped)."""
    return ready(node) or network_not_ready(node)


def recap(output: str) -> dict:
    """The PLAY RECAP: {host: {ok, changed, unreachable, failed}}."""
    found = re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert found, output
    return {name: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, counts))) for name, *counts in found}


def read_node(cfg, name: str):
    """The Node NAME in the lab's API server, or None."""
    from kubernetes import client as kube
    from kubernetes.client.rest import ApiException

    from .k8s import api_client

    with api_client(cfg) as api:
        try:
            return kube.CoreV1Api(api).read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise


def wait_node(cfg, name: str, check, timeout: float, diagnose=None):
    """The Node once CHECK holds for it; on timeout an AssertionError with its conditions (and DIAGNOSE())."""
    import time

    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        found = read_node(cfg, name)
        if found is not None and check(found):
            return found
        time.sleep(2)
    conditions = found.status.conditions if found is not None else "no Node"
    raise AssertionError(f"Node {name}: not reached in {timeout:.0f}s: {conditions}\n"
                         + (diagnose()[-4000:] if diagnose else ""))


def delete_node(cfg, name: str) -> None:
    from kubernetes import client as kube
    from kubernetes.client.rest import ApiException

    from .k8s import api_client

    with api_client(cfg) as api:
        try:
            kube.CoreV1Api(api).delete_node(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
