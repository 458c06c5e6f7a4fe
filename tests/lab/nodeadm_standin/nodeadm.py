"""nodeadm stand-in for the hybridnodes lab. NOT the real nodeadm.

The real nodeadm (aws/eks-hybrid) cannot be fetched in the lab, so the lab's
artifact mirror publishes this script in its place. It implements nodeadm's
command-line contract (verbs, flags, exit codes, the "not installed" traps,
/opt/nodeadm/tracker, the files install and init write) and, on init,
registers the host as a Node in the lab's API server. Like a real kubelet, the
Node stays NotReady (NetworkPluginNotReady) until a CNI configuration exists
in /etc/cni/net.d on the host: in the lab the Cilium stand-in writes it once
the Cilium DaemonSet that the cilium role deploys selects the node.

Runs on a Debian bookworm minbase host with python3, python3-yaml, openssl,
iproute2 and systemd; standard library + yaml only.

Command line (as upstream, which parses with flaggy): usage errors (unknown
flag, missing required flag or positional) print help to stderr and exit 2;
fatal errors log {"level":"fatal",...,"msg":"Command failed"} and exit 1;
the traps (init/upgrade/uninstall with nothing installed) exit 0. Upstream has
no ``version`` verb, but its parser answers ``nodeadm --version`` and ``nodeadm version`` with
``Version: vX.Y.Z``. Logs are zap-style
JSON lines on stderr.

Lab wiring (files the lab installs on the host):
  /etc/hnlab/endpoints.json  {"aws": "http://10.100.0.20:4566",       AWS emulator
                              "manifest_url": "http://10.200.0.2:8080/manifest.yaml",
                              "heartbeat_seconds": 10}
     env overrides: NODEADM_STANDIN_AWS_ENDPOINT, NODEADM_STANDIN_MANIFEST_URL
  /etc/hnlab/node-token      bearer token for the API server (hnlab.k8s.node_token);
                             init hands it to kubelet only after the emulator
                             shows an EKS access entry of type HYBRID_LINUX for
                             the node's role (ListAccessEntries + DescribeAccessEntry)
  /etc/hnlab/fail-init       fault injection: init exits 1 with its content
Test-only: NODEADM_STANDIN_ROOT makes every path relative to a fake root and
replaces systemctl/ip calls by a log at <root>/var/log/nodeadm-standin.calls.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

VERSION = "v0.0.0-dev"  # stamped by hnlab.mirror when published
ARCH = "noarch"  # stamped by hnlab.mirror when published

# Kubernetes minor -> latest patch. The mirror's manifest.yaml is generated from this.
SUPPORTED_KUBERNETES = {
    "1.28": "1.28.15",
    "1.29": "1.29.15",
    "1.30": "1.30.11",
    "1.31": "1.31.7",
    "1.32": "1.32.3",
    "1.33": "1.33.0",
}

ROOT = os.environ.get("NODEADM_STANDIN_ROOT", "")
FAKE_ROOT = bool(ROOT)

TRACKER = "/opt/nodeadm/tracker"
ENDPOINTS = "/etc/hnlab/endpoints.json"
NODE_TOKEN_FILE = "/etc/hnlab/node-token"
FAIL_INIT = "/etc/hnlab/fail-init"
SSM_REGISTRATION = "/var/lib/amazon/ssm/registration"
AWS_CREDENTIALS = "/root/.aws/credentials"
IAMRA_CONFIG = "/etc/aws/hybrid/config"
KUBELET_BIN = "/usr/bin/kubelet"
KUBELET_UNIT = "/etc/systemd/system/kubelet.service"
KUBELET_KUBECONFIG = "/var/lib/kubelet/kubeconfig"
KUBELET_CONFIG = "/etc/kubernetes/kubelet/config.json"
KUBELET_ENV = "/etc/eks/kubelet/environment"
CA_FILE = "/etc/kubernetes/pki/ca.crt"
NODE_STATE = "/etc/kubernetes/standin-node.json"  # what the stand-in kubelet needs
CONTAINERD_BIN = "/usr/bin/containerd"
CONTAINERD_UNIT = "/etc/systemd/system/containerd.service"
CONTAINERD_MARKER = "/var/lib/nodeadm-standin/containerd-package"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONTAINERD_CONFIG_D = "/etc/containerd/config.d/00-nodeadm.toml"
SSM_AGENT_BIN = "/usr/bin/amazon-ssm-agent"
SSM_AGENT_UNIT = "/etc/systemd/system/amazon-ssm-agent.service"
CALLS_LOG = "/var/log/nodeadm-standin.calls"

COMPUTE_TYPE_LABEL = "eks.amazonaws.com/compute-type"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HTTP_TIMEOUT = 10
HTTP_ATTEMPTS = 3
INIT_PHASES = (
    "install-validation", "cni-validation", "node-ip-validation", "credentials-validation",
    "kubelet-cert-validation", "ssm-api-network-validation", "iam-ra-api-network-validation",
    "aws-auth-validation", "k8s-endpoint-network-validation", "k8s-authentication-validation",
    "kubelet-version-skew-validation", "api-server-endpoint-resolution-validation",
    "proxy-validation", "node-inactive-validation", "preprocess", "config", "run",
)


def path(p: str) -> str:
    """Host path, under NODEADM_STANDIN_ROOT in tests."""
    return os.path.join(ROOT, p.lstrip("/")) if ROOT else p


# ------------------------------------------------------------------- logging
def _ts() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log(level: str, msg: str, **fields) -> None:
    entry = {"level": level, "ts": _ts(), "caller": "standin/nodeadm.py", "msg": msg}
    entry.update(fields)
    sys.stderr.write(json.dumps(entry) + "\n")
    sys.stderr.flush()


def info(msg: str, **fields) -> None:
    log("info", msg, **fields)


class Fatal(Exception):
    """An error that makes nodeadm exit 1 ("Command failed")."""


class Usage(Exception):
    """A flag parsing error: help and exit 2 (flaggy's ShowHelpAndExit)."""

    def __init__(self, message: str, command: str | None = None):
        super().__init__(message)
        self.command = command


# ---------------------------------------------------------------- the flags
# name -> (short, long, kind, default); kind: str | slice | bool | duration
COMMANDS = {
    "install": {
        "positional": ["KUBERNETES_VERSION"],
        "description": "Install components required to join an EKS cluster",
        "flags": {
            "credential_provider": ("p", "credential-provider", "str", ""),
            "containerd_source": ("s", "containerd-source", "str", "distro"),
            "region": ("r", "region", "str", "us-west-2"),
            "manifest_override": ("m", "manifest-override", "str", ""),
            "private_mode": ("", "private-mode", "bool", False),
            "timeout": ("t", "timeout", "duration", 1200.0),
        },
    },
    "init": {
        "positional": [],
        "description": "Initialize this instance as a node in an EKS cluster",
        "flags": {
            "config_source": ("c", "config-source", "str", ""),
            "skip": ("s", "skip", "slice", []),
            "daemon": ("d", "daemon", "slice", []),
            "manifest_override": ("m", "manifest-override", "str", ""),
            "private_mode": ("", "private-mode", "bool", False),
        },
    },
    "upgrade": {
        "positional": ["KUBERNETES_VERSION"],
        "description": "Upgrade components installed using the install sub-command",
        "flags": {
            "config_source": ("c", "config-source", "str", ""),
            "skip": ("s", "skip", "slice", []),
            "manifest_override": ("m", "manifest-override", "str", ""),
            "private_mode": ("", "private-mode", "bool", False),
            "timeout": ("t", "timeout", "duration", 1200.0),
        },
    },
    "uninstall": {
        "positional": [],
        "description": "Uninstall components installed using the install sub-command",
        "flags": {
            "skip": ("s", "skip", "slice", []),
            "force": ("f", "force", "bool", False),
        },
    },
    "debug": {
        "positional": [],
        "description": "Debug the node's configuration and connectivity",
        "flags": {
            "config_source": ("c", "config-source", "str", ""),
            "no_color": ("", "no-color", "bool", False),
        },
    },
    "config check": {
        "positional": [],
        "description": "Verify the node configuration",
        "flags": {"config_source": ("c", "config-source", "str", "")},
    },
}
GLOBAL_FLAGS = {"development": ("d", "development", "bool", False)}


def parse_duration(text: str) -> float:
    """Go duration ("20m", "1h23s", "90s", "1.5h") -> seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"time: invalid duration {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def help_text(command: str | None) -> str:
    if command is None:
        lines = ["nodeadm - Amazon EKS Hybrid Nodes CLI (lab stand-in " + VERSION + ")", "",
                 "  Usage:", "    nodeadm [install | init | upgrade | uninstall | debug | config]", "",
                 "  Flags:", "       --version   Displays the program version string.",
                 "    -h --help      Displays help with available flag, subcommand, and positional value parameters.",
                 "    -d --development  Enable development mode for logging."]
        return "\n".join(lines)
    spec = COMMANDS[command]
    lines = [f"{command} - {spec['description']}", "", "  Usage:",
             f"    {command} {' '.join(spec['positional'])}".rstrip(), "", "  Flags:"]
    for short, long, kind, default in spec["flags"].values():
        s = f"-{short}" if short else "  "
        lines.append(f"    {s} --{long}  ({kind}, default: {default!r})")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> tuple[str, dict, list[str]]:
    """-> (command, options, positionals). Raises Usage."""
    args = list(argv)
    opts: dict = {"development": False}
    # As flaggy: --version, or the bare word version, wins over -h and ends parsing.
    if "--version" in args or (args and args[0] == "version"):
        return "version", opts, []
    for a in args:
        if a in ("-h", "--help"):
            raise Usage("", _command_of(args))
    if not args:
        raise Usage("No command specified")
    verb = args.pop(0)
    # global flags before the subcommand
    while verb.startswith("-"):
        if verb in ("-d", "--development"):
            opts["development"] = True
            if not args:
                raise Usage("No command specified")
            verb = args.pop(0)
            continue
        raise Usage(f"Unknown arguments supplied: {verb}")
    if verb == "config":
        if not args or args[0] != "check":
            raise Usage("config requires a subcommand: check", None)
        args.pop(0)
        verb = "config check"
    if verb not in COMMANDS:
        raise Usage(f"Unknown arguments supplied: {verb}")
    spec = COMMANDS[verb]
    by_short = {s: (name, k) for name, (s, l, k, d) in spec["flags"].items() if s}
    by_long = {l: (name, k) for name, (s, l, k, d) in spec["flags"].items()}
    for name, (s, l, k, d) in GLOBAL_FLAGS.items():
        by_long.setdefault(l, (name, k))
        if s not in by_short:
            by_short[s] = (name, k)
    for name, (_s, _l, kind, default) in spec["flags"].items():
        opts[name] = list(default) if kind == "slice" else default
    positionals: list[str] = []
    while args:
        a = args.pop(0)
        if a.startswith("-") and a != "-":
            key, eq, value = a.lstrip("-").partition("=")
            table = by_long if a.startswith("--") else by_short
            if key not in table:
                raise Usage(f"Unknown arguments supplied: {a}", verb)
            name, kind = table[key]
            if kind == "bool":
                opts[name] = value.lower() not in ("false", "0") if eq else True
                continue
            if not eq:
                if not args:
                    raise Usage(f"Expected a following arg for flag {key}, but it did not exist.", verb)
                value = args.pop(0)
            if kind == "slice":
                opts[name] = opts[name] + [v for v in value.split(",") if v]
            elif kind == "duration":
                try:
                    opts[name] = parse_duration(value)
                except ValueError as exc:
                    raise Usage(f"Unable to parse flag {key}: {exc}", verb)
            else:
                opts[name] = value
        else:
            positionals.append(a)
    want = spec["positional"]
    if len(positionals) < len(want):
        raise Usage(f"Required positional of subcommand {verb} named {want[len(positionals)]} not found"
                    f" at position {len(positionals) + 1}", verb)
    if len(positionals) > len(want):
        raise Usage(f"Unexpected argument: {positionals[len(want)]}", verb)
    return verb, opts, positionals


def _command_of(args: list[str]) -> str | None:
    for a in args:
        if a == "config":
            return "config check"
        if a in COMMANDS:
            return a
    return None


# ------------------------------------------------------------ files, tracker
def read(p: str) -> str:
    with open(path(p)) as fh:
        return fh.read()


def exists(p: str) -> bool:
    return os.path.lexists(path(p))


def write(p: str, content: str | bytes, mode: int = 0o644) -> None:
    full = path(p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    tmp = full + ".standin-tmp"
    with open(tmp, "wb") as fh:
        fh.write(content.encode() if isinstance(content, str) else content)
    os.chmod(tmp, mode)
    os.replace(tmp, full)


def remove(p: str) -> None:
    full = path(p)
    if os.path.isdir(full) and not os.path.islink(full):
        shutil.rmtree(full, ignore_errors=True)
    elif os.path.lexists(full):
        os.unlink(full)


TRACKER_FIELDS = ("CniPlugins", "Containerd", "IamAuthenticator", "IamRolesAnywhere",
                  "ImageCredentialProvider", "Iptables", "Kubectl", "Kubelet", "Ssm")


def tracker_dump(artifacts: dict) -> str:
    """YAML as upstream writes it (sigs.k8s.io/yaml of Tracker{Artifacts}: sorted keys)."""
    lines = ["Artifacts:"]
    for key in TRACKER_FIELDS:
        value = artifacts.get(key, "none" if key == "Containerd" else False)
        if key != "Containerd":
            value = "true" if value else "false"
        lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


def tracker_load() -> dict | None:
    """Artifacts dict, or None when the tracker does not exist."""
    import yaml

    try:
        text = read(TRACKER)
    except FileNotFoundError:
        return None
    try:
        data = yaml.safe_load(text) or {}
        arts = dict(data.get("Artifacts") or {})
    except (yaml.YAMLError, AttributeError) as exc:
        raise Fatal(f"invalid yaml data in tracker: {exc}")
    src = arts.get("Containerd") or "none"
    if src not in ("none", "distro", "docker"):
        raise Fatal(f"invalid containerd source: {src}")
    arts["Containerd"] = src
    return arts


# ------------------------------------------------------------- host helpers
def calls_log(*argv: str) -> None:
    full = path(CALLS_LOG)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "a") as fh:
        fh.write(shlex.join(argv) + "\n")


def systemctl(*args: str, check: bool = True) -> int:
    if FAKE_ROOT:
        calls_log("systemctl", *args)
        return 0
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise Fatal(f"systemctl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.returncode


def unit_active(unit: str) -> bool:
    if FAKE_ROOT:
        return False
    proc = subprocess.run(["systemctl", "is-active", "--quiet", unit], timeout=30, check=False)
    return proc.returncode == 0


def default_route_ip() -> str | None:
    """IPv4 address of the interface holding the default route (no traffic sent)."""
    if FAKE_ROOT:
        return os.environ.get("NODEADM_STANDIN_DEFAULT_IP")
    try:
        routes = json.loads(subprocess.run(["ip", "-j", "-4", "route", "show", "default"],
                                           capture_output=True, text=True, timeout=10, check=False).stdout or "[]")
        if not routes:
            return None
        dev = routes[0]["dev"]
        addrs = json.loads(subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", dev],
                                          capture_output=True, text=True, timeout=10, check=False).stdout or "[]")
        for link in addrs:
            for a in link.get("addr_info", []):
                if a.get("family") == "inet":
                    return a["local"]
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        return None
    return None


def hostname() -> str:
    if FAKE_ROOT:
        return os.environ.get("NODEADM_STANDIN_HOSTNAME", "standin-host")
    return os.uname().nodename


def os_release_id() -> str:
    try:
        for line in read("/etc/os-release").splitlines():
            if line.startswith("ID="):
                return line[3:].strip().strip('"')
    except FileNotFoundError:
        pass
    return "unknown"


def endpoints() -> dict:
    try:
        data = json.loads(read(ENDPOINTS))
    except FileNotFoundError:
        data = {}
    except ValueError as exc:
        raise Fatal(f"invalid {ENDPOINTS}: {exc}")
    if os.environ.get("NODEADM_STANDIN_AWS_ENDPOINT"):
        data["aws"] = os.environ["NODEADM_STANDIN_AWS_ENDPOINT"]
    if os.environ.get("NODEADM_STANDIN_MANIFEST_URL"):
        data["manifest_url"] = os.environ["NODEADM_STANDIN_MANIFEST_URL"]
    return data


# -------------------------------------------------------------------- HTTP
class HTTPError(Exception):
    def __init__(self, status: int, body: str, url: str):
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")
        self.status = status
        self.body = body


def http(method: str, url: str, body=None, headers: dict | None = None, ca: str | None = None,
         attempts: int = HTTP_ATTEMPTS) -> tuple[int, bytes]:
    """Bounded request: HTTP_ATTEMPTS tries, HTTP_TIMEOUT s each. Raises HTTPError (>=400)."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    ctx = None
    if url.startswith("https://"):
        ctx = ssl.create_default_context(cadata=ca) if ca else ssl.create_default_context()
    last: Exception | None = None
    for attempt in range(attempts):
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT, context=ctx) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            raise HTTPError(exc.code, exc.read().decode(errors="replace"), url)
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            if attempt + 1 < attempts:
                time.sleep(1)
    raise Fatal(f"{method} {url}: {last}")


def aws_headers(service: str, region: str, target: str | None = None) -> dict:
    """A syntactically valid SigV4 header: enough for moto to route by service."""
    now = datetime.datetime.now(datetime.timezone.utc)
    akid = "AKIAHNLABSTANDIN0000"
    try:
        for line in read(AWS_CREDENTIALS).splitlines():
            if line.strip().startswith("aws_access_key_id"):
                akid = line.split("=", 1)[1].strip()
    except FileNotFoundError:
        pass
    h = {
        "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        "Authorization": (f"AWS4-HMAC-SHA256 Credential={akid}/{now:%Y%m%d}/{region}/{service}/aws4_request, "
                          "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64),
        "User-Agent": f"nodeadm-standin/{VERSION}",
    }
    if target:
        h["X-Amz-Target"] = target
        h["Content-Type"] = "application/x-amz-json-1.1"
    return h


def aws_error(exc: HTTPError) -> str:
    try:
        doc = json.loads(exc.body)
        code = (doc.get("__type") or doc.get("code") or doc.get("Code") or "").split("#")[-1]
        msg = doc.get("message") or doc.get("Message") or exc.body
        return f"{code}: {msg}" if code else msg
    except ValueError:
        return str(exc)


def aws_endpoint() -> str:
    ep = endpoints().get("aws")
    if not ep:
        raise Fatal(f"no AWS endpoint: write {ENDPOINTS} {{\"aws\": URL}} or set NODEADM_STANDIN_AWS_ENDPOINT")
    return ep.rstrip("/")


def describe_cluster(name: str, region: str) -> dict:
    url = f"{aws_endpoint()}/clusters/{urllib.parse.quote(name)}"
    try:
        _unused, body = http("GET", url, headers=aws_headers("eks", region))
    except HTTPError as exc:
        raise Fatal(f"failed to describe EKS cluster {name}: {aws_error(exc)}")
    return json.loads(body)["cluster"]


def ssm_register(activation_id: str, code: str, region: str, host: str, ip: str) -> dict:
    """The lab's stand-in for the SSM agent's registration (emulator: POST /_lab/ssm/register)."""
    url = f"{aws_endpoint()}/_lab/ssm/register"
    body = {"region": region, "activation_id": activation_id, "activation_code": code,
            "hostname": host, "ip_address": ip or ""}
    try:
        _unused, resp = http("POST", url, body=body, headers=aws_headers("ssm", region))
    except HTTPError as exc:
        raise Fatal(f"failed to register with SSM activation {activation_id}: {aws_error(exc)}")
    return json.loads(resp)


def ssm_instance_role(instance_id: str, region: str) -> str:
    """IAM role name of a managed instance (ssm DescribeInstanceInformation)."""
    url = f"{aws_endpoint()}/"
    body = json.dumps({"Filters": [{"Key": "InstanceIds", "Values": [instance_id]}]}).encode()
    try:
        _unused, resp = http("POST", url, body=body,
                             headers=aws_headers("ssm", region, target="AmazonSSM.DescribeInstanceInformation"))
    except HTTPError as exc:
        raise Fatal(f"failed to describe managed instance {instance_id}: {aws_error(exc)}")
    items = json.loads(resp).get("InstanceInformationList") or []
    if not items or not items[0].get("IamRole"):
        raise Fatal(f"managed instance {instance_id} is not registered with SSM (deregistered?)")
    return items[0]["IamRole"]


def role_arn_of(identity: dict, cluster: dict, region: str) -> str:
    if identity.get("roleArn"):
        return identity["roleArn"]
    role = ssm_instance_role(identity["managedInstanceId"], region)
    if role.startswith("arn:"):
        return role
    account = (cluster.get("arn") or "").split(":")[4] if cluster.get("arn") else "123456789012"
    return f"arn:aws:iam::{account}:role/{role}"


def check_access_entry(cluster_name: str, region: str, role_arn: str) -> None:
    """The node's role needs an EKS access entry of type HYBRID_LINUX (ListAccessEntries + Describe)."""
    base = f"{aws_endpoint()}/clusters/{urllib.parse.quote(cluster_name)}/access-entries"
    try:
        _unused, resp = http("GET", base, headers=aws_headers("eks", region))
    except HTTPError as exc:
        raise Fatal(f"failed to list access entries of cluster {cluster_name}: {aws_error(exc)}")
    if role_arn not in (json.loads(resp).get("accessEntries") or []):
        raise Fatal(f"Unauthorized: no access entry for {role_arn} in cluster {cluster_name}; "
                    "create one of type HYBRID_LINUX")
    try:
        _unused, resp = http("GET", f"{base}/{urllib.parse.quote(role_arn, safe='')}", headers=aws_headers("eks", region))
    except HTTPError as exc:
        raise Fatal(f"failed to describe access entry {role_arn}: {aws_error(exc)}")
    kind = (json.loads(resp).get("accessEntry") or {}).get("type")
    if kind != "HYBRID_LINUX":
        raise Fatal(f"Unauthorized: access entry for {role_arn} has type {kind}, hybrid nodes need HYBRID_LINUX")


def node_token(cluster_name: str, region: str, identity: dict, cluster: dict) -> str:
    """Bearer token for the API server, given only to a role with a HYBRID_LINUX access entry.

    The lab installs the token at /etc/hnlab/node-token; the check against the
    emulator's access entries is what gates it (skip: k8s-authentication-validation).
    """
    role_arn = role_arn_of(identity, cluster, region)
    info("Validating access entry", roleArn=role_arn)
    check_access_entry(cluster_name, region, role_arn)
    try:
        return read(NODE_TOKEN_FILE).strip()
    except FileNotFoundError:
        raise Fatal(f"no node token: the lab did not install {NODE_TOKEN_FILE}")


# ------------------------------------------------------------ Kubernetes API
class Kube:
    def __init__(self, server: str, token: str, ca_pem: str):
        self.server = server.rstrip("/")
        self.token = token
        self.ca = ca_pem

    def req(self, method: str, api_path: str, body=None, content_type: str | None = None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            _unused, data = http(method, self.server + api_path, body=body, headers=headers, ca=self.ca)
        except HTTPError as exc:
            if exc.status == 404 and method == "GET":
                return None
            raise
        return json.loads(data) if data else None

    def get_node(self, name: str):
        return self.req("GET", f"/api/v1/nodes/{name}")

    def patch_status(self, name: str, status: dict):
        return self.req("PATCH", f"/api/v1/nodes/{name}/status", body={"status": status},
                        content_type="application/merge-patch+json")


def parse_taint(text: str) -> dict:
    """"key=value:Effect" or "key:Effect" -> Node taint."""
    kv, _unused, effect = text.partition(":")
    key, _unused, value = kv.partition("=")
    if not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise Fatal(f"invalid taint {text!r}: want key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def parse_kubelet_flags(flags: list) -> dict:
    """--node-labels, --register-with-taints, --node-ip out of NodeConfig kubelet flags."""
    out: dict = {"labels": {}, "taints": [], "node_ip": None, "other": []}
    for flag in flags or []:
        name, _unused, value = str(flag).partition("=")
        if name == "--node-labels":
            for item in filter(None, value.split(",")):
                k, _unused, v = item.partition("=")
                out["labels"][k] = v
        elif name == "--register-with-taints":
            out["taints"] += [parse_taint(t) for t in filter(None, value.split(","))]
        elif name == "--node-ip":
            out["node_ip"] = value
        else:
            out["other"].append(str(flag))
    return out


def ready_condition(now: str, status: str = "True", reason: str = "KubeletReady",
                    message: str = "kubelet is posting ready status") -> dict:
    return {"type": "Ready", "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now}


# The kubelet's Ready condition while the container runtime reports no network (kubernetes pkg/kubelet/nodestatus
# setters.go ReadyCondition: reason KubeletNotReady, the runtime's NetworkReady error as the message); what a real
# hybrid node reports until its CNI runs (EKS user guide, hybrid-nodes-cni).
NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                     "message:Network plugin returns error: cni plugin not initialized")
CNI_CONF_DIR = "/etc/cni/net.d"
CNI_CONF_SUFFIXES = (".conf", ".conflist", ".json")  # what containerd's CRI plugin loads (libcni ConfFiles)


def cni_configured() -> bool:
    """True when a CNI network configuration exists on the host (as containerd's CRI plugin looks for one)."""
    try:
        names = os.listdir(path(CNI_CONF_DIR))
    except OSError:
        return False
    return any(n.endswith(CNI_CONF_SUFFIXES) for n in names)


def node_ready_condition(now: str, network_ready: bool) -> dict:
    if network_ready:
        return ready_condition(now)
    return ready_condition(now, status="False", reason="KubeletNotReady", message=NETWORK_NOT_READY)


def node_status(node_ip: str, host: str, kubelet_version: str, now: str, network_ready: bool = False) -> dict:
    return {
        "addresses": [{"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": host}],
        "conditions": [node_ready_condition(now, network_ready)],
        "nodeInfo": {
            "kubeletVersion": f"v{kubelet_version}", "kubeProxyVersion": f"v{kubelet_version}",
            "architecture": ARCH if ARCH != "noarch" else "amd64", "operatingSystem": "linux",
            "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.6.20",
            "kernelVersion": os.uname().release, "machineID": "", "systemUUID": "", "bootID": "",
        },
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
    }


def node_manifest(name: str, node_ip: str, host: str, labels: dict, taints: list,
                  kubelet_version: str, now: str | None = None, network_ready: bool = False) -> dict:
    """The Node object a hybrid node's kubelet registers (pure)."""
    now = now or _ts()[:19] + "Z"
    all_labels = {
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
        "kubernetes.io/arch": ARCH if ARCH != "noarch" else "amd64",
        COMPUTE_TYPE_LABEL: "hybrid",
    }
    all_labels.update(labels)
    all_labels[COMPUTE_TYPE_LABEL] = "hybrid"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": all_labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "hnlab.io/registered-by": f"nodeadm-standin {VERSION}"}},
        "spec": {"taints": taints} if taints else {},
        "status": node_status(node_ip, host, kubelet_version, now, network_ready),
    }


def register_node(kube: Kube, manifest: dict) -> None:
    name = manifest["metadata"]["name"]
    existing = kube.get_node(name)
    if existing is None:
        kube.req("POST", "/api/v1/nodes", body=manifest)
        info("Registered node", node=name)
    else:
        # As a real kubelet: --node-labels and --register-with-taints apply only when it registers the Node
        # (kubernetes pkg/kubelet/kubelet_node_status.go); an existing Node keeps its labels and taints.
        info("Node already registered; its labels and taints are left as they are", node=name)
    # The status subresource is authoritative: set it explicitly.
    kube.patch_status(name, manifest["status"])


# -------------------------------------------------------------- NodeConfig
def load_node_config(source: str) -> dict:
    import yaml

    if source.startswith("imds://"):
        raise Fatal("imds:// config source is not available on hybrid nodes")
    if not source.startswith("file://"):
        raise Fatal(f"unknown configuration source: {source}")
    p = source[len("file://"):]
    try:
        with open(path(p) if FAKE_ROOT and p.startswith("/") and not os.path.exists(p) else p) as fh:
            text = fh.read()
    except OSError as exc:
        raise Fatal(f"failed to read config source {source}: {exc}")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Fatal(f"failed to parse NodeConfig: {exc}")
    if not isinstance(doc, dict):
        raise Fatal("failed to parse NodeConfig: not a mapping")
    unknown = unknown_field(doc, NODECONFIG_FIELDS)
    if unknown:
        # A file:// source is decoded strictly into nodeadm's NodeConfig (internal/configprovider/file.go,
        # DecodeStrictNodeConfig in internal/api/bridge/decode.go): an unknown field fails, in sigs.k8s.io/yaml's words.
        raise Fatal(f'error unmarshaling JSON: while decoding JSON: json: unknown field "{unknown}"')
    return doc


# The fields of nodeadm's NodeConfig (internal/api/types.go of eks-hybrid v1.0.19), for its strict decoding: a dict
# lists a struct's fields, ANY is a value of any content (kubelet.config is a map of raw documents; metadata's labels
# and annotations are free maps), LEAF a scalar or list. apiVersion and kind are decoded but not checked.
ANY, LEAF = "any", "leaf"
NODECONFIG_FIELDS = {
    "apiVersion": LEAF, "kind": LEAF,
    "metadata": {key: ANY for key in (
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
        "managedFields")},
    "spec": {
        "cluster": {key: LEAF for key in (
            "name", "region", "apiServerEndpoint", "certificateAuthority", "cidr", "enableOutpost", "id")},
        "containerd": {"config": LEAF},
        "instance": {"localStorage": {"strategy": LEAF}},
        "kubelet": {"config": ANY, "flags": LEAF},
        "hybrid": {
            "enableCredentialsFile": LEAF,
            "iamRolesAnywhere": {key: LEAF for key in (
                "nodeName", "trustAnchorArn", "profileArn", "roleArn", "awsConfigPath", "certificatePath",
                "privateKeyPath")},
            "ssm": {"activationCode": LEAF, "activationId": LEAF},
        },
    },
    "status": {"instance": {key: LEAF for key in ("id", "region", "type", "availabilityZone", "mac",
                                                  "privateDnsName")},
               "hybrid": {"nodeName": LEAF}, "default": {"sandboxImage": LEAF}},
}


def unknown_field(value, fields) -> str | None:
    """The first key of `value` that `fields` does not know (Go's encoding/json matches names without regard to case),
    or None."""
    if not isinstance(fields, dict) or not isinstance(value, dict):
        return None
    known = {name.lower(): sub for name, sub in fields.items()}
    for key, sub_value in value.items():
        sub = known.get(str(key).lower())
        if sub is None:
            return str(key)
        found = unknown_field(sub_value, sub)
        if found:
            return found
    return None


def validate_node_config(doc: dict) -> None:
    """nodeadm's NodeConfig validation (messages as upstream where known)."""
    spec = doc.get("spec") or {}
    cluster = spec.get("cluster") or {}
    if not cluster.get("name"):
        raise Fatal("Name is missing in cluster configuration")
    if not cluster.get("region"):
        raise Fatal("Region is missing in cluster configuration")
    hybrid = spec.get("hybrid")
    if hybrid is None:
        raise Fatal("hybrid configuration is missing: set spec.hybrid.ssm or spec.hybrid.iamRolesAnywhere")
    ssm, ira = (hybrid or {}).get("ssm"), (hybrid or {}).get("iamRolesAnywhere")
    if bool(ssm) == bool(ira):
        raise Fatal("Only one of IAMRolesAnywhere or SSM must be provided for hybrid node configuration")
    if ira:
        for key, label in (("roleArn", "RoleARN"), ("profileArn", "ProfileARN"), ("trustAnchorArn", "TrustAnchorARN")):
            if not ira.get(key):
                raise Fatal(f"{label} is missing in hybrid iam roles anywhere configuration")
        if not ira.get("nodeName"):
            raise Fatal("NodeName can't be empty in hybrid iam roles anywhere configuration")
        if len(str(ira["nodeName"])) > 64:
            raise Fatal("NodeName can't be longer than 64 characters in hybrid iam roles anywhere configuration")
    if ssm:
        code, aid = str(ssm.get("activationCode") or ""), str(ssm.get("activationId") or "")
        if not code:
            raise Fatal("ActivationCode is missing in hybrid ssm configuration")
        if not aid:
            raise Fatal("ActivationID is missing in hybrid ssm configuration")
        if not 20 <= len(code) <= 250:
            raise Fatal(f"invalid ActivationCode format: {code}. Must be 20-250 characters")
        if not UUID_RE.match(aid):
            raise Fatal(f"invalid ActivationID format: {aid}. Must be in format: {UUID_RE.pattern}")
    flags = ((spec.get("kubelet") or {}).get("flags")) or []
    for flag in flags:
        if str(flag).split("=", 1)[0] == "--hostname-override":
            raise Fatal("hostname-override kubelet flag is not supported for hybrid nodes but found override: "
                        f"{flag}")
    parse_kubelet_flags(flags)  # taint syntax


def credential_provider_of(doc: dict) -> str:
    return "ssm" if (doc["spec"]["hybrid"].get("ssm")) else "iam-ra"


# ---------------------------------------------------------------- manifest
def resolve_kubernetes_version(requested: str, manifest_url: str | None) -> str:
    """"1.31" / "1.31.2" -> full version, validated against the manifest (or the built-in list)."""
    supported = dict(SUPPORTED_KUBERNETES)
    patches: dict = {m: [v] for m, v in supported.items()}
    if manifest_url:
        import yaml

        try:
            if manifest_url.startswith("file://"):
                text = read(manifest_url[7:]) if FAKE_ROOT and not os.path.exists(manifest_url[7:]) \
                    else open(manifest_url[7:]).read()
            else:
                text = http("GET", manifest_url)[1].decode()
            man = yaml.safe_load(text)
            supported, patches = {}, {}
            for rel in man.get("supported_eks_releases") or []:
                minor = rel["major_minor_version"]
                supported[minor] = f"{minor}.{rel['latest_patch_version']}"
                patches[minor] = [p["version"] for p in rel.get("patch_releases") or []]
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError, HTTPError) as exc:
            raise Fatal(f"failed to read release manifest {manifest_url}: {exc}")
    if not re.fullmatch(r"v?\d+(\.\d+){0,2}", requested or ""):
        raise Fatal(f"invalid Kubernetes version: {requested!r}")
    parts = requested.lstrip("v").split(".")
    if len(parts) == 1:
        minors = sorted((m for m in supported if m.split(".")[0] == parts[0]),
                        key=lambda m: int(m.split(".")[1]))
        if minors:
            return supported[minors[-1]]
    minor = ".".join(parts[:2])
    if minor in supported:
        if len(parts) == 2:
            return supported[minor]
        if requested.lstrip("v") in patches.get(minor, []):
            return requested.lstrip("v")
    raise Fatal(f"{requested} is not a supported version or is no longer supported. Supported versions: "
                + ", ".join(sorted(supported, key=lambda m: tuple(map(int, m.split("."))))))


def installed_kubernetes_version() -> str | None:
    try:
        m = re.search(r'^KUBELET_VERSION = "([^"]+)"', read(KUBELET_BIN), re.M)
        return m.group(1) if m else None
    except FileNotFoundError:
        return None


# ------------------------------------------------------------ stand-in files
def placeholder(name: str) -> str:
    return (f"#!/bin/sh\n# {name}: placeholder installed by the nodeadm lab stand-in {VERSION}\n"
            f"echo \"{name} (lab placeholder)\"\n")


def kubectl_stub(k8s: str) -> str:
    return ("#!/bin/sh\n# kubectl placeholder installed by the nodeadm lab stand-in\n"
            f"echo 'Client Version: v{k8s}'\n")


def kubelet_script(k8s: str) -> str:
    """The stand-in kubelet: this file's KUBELET_DAEMON with its version stamped in."""
    return KUBELET_DAEMON.replace('KUBELET_VERSION = "0.0.0"', f'KUBELET_VERSION = "{k8s}"', 1)


KUBELET_UNIT_TEXT = """[Unit]
Description=Kubernetes Kubelet (hybridnodes lab stand-in)
Documentation=https://github.com/kubernetes/kubernetes
After=containerd.service
Wants=containerd.service

[Service]
EnvironmentFile=-/etc/eks/kubelet/environment
ExecStart=/usr/bin/kubelet $NODEADM_KUBELET_ARGS
Restart=on-failure
RestartSec=5
KillMode=process

[Install]
WantedBy=multi-user.target
"""

CONTAINERD_UNIT_TEXT = """[Unit]
Description=containerd container runtime (hybridnodes lab stand-in)
After=network.target

[Service]
ExecStart=/usr/bin/containerd
Restart=always

[Install]
WantedBy=multi-user.target
"""

DAEMON_STUB = """#!/usr/bin/env python3
# {name}: lab stand-in daemon installed by the nodeadm stand-in; idles until stopped.
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
if "--version" in sys.argv[1:]:
    print("{name} {version} (lab stand-in)")
    sys.exit(0)
while True:
    time.sleep(3600)
"""

SSM_AGENT_UNIT_TEXT = """[Unit]
Description=amazon-ssm-agent (hybridnodes lab stand-in)
After=network-online.target

[Service]
ExecStart=/usr/bin/amazon-ssm-agent
Restart=always

[Install]
WantedBy=multi-user.target
"""

SIGNING_HELPER = """#!/usr/bin/env python3
# aws_signing_helper placeholder (lab stand-in): prints lab credentials for credential_process.
import datetime, json, sys
if len(sys.argv) > 1 and sys.argv[1] == "version":
    print("1.4.0 (lab stand-in)"); sys.exit(0)
exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"Version": 1, "AccessKeyId": "AKIAHNLABIAMRA000000", "SecretAccessKey": "lab",
                  "SessionToken": "lab", "Expiration": exp}))
"""

CNI_PLUGINS = ("bandwidth", "bridge", "host-local", "loopback", "portmap")


# ----------------------------------------------------------------- install
def cmd_install(opts: dict, pos: list[str]) -> int:
    provider = opts["credential_provider"]
    if not provider:
        raise Usage("--credential-provider is a required flag. Allowed values are ssm & iam-ra", "install")
    if provider not in ("ssm", "iam-ra"):
        raise Fatal(f"invalid credential process provided. Valid options are ssm and iam-ra, got {provider}")
    source = opts["containerd_source"]
    if source not in ("none", "distro", "docker"):
        raise Fatal(f"invalid containerd source: {source}")
    osid = os_release_id()
    if source == "distro" and osid == "rhel":
        raise Fatal("distro containerd source is not supported on RHEL, use docker")
    if source == "docker" and osid == "amzn":
        raise Fatal("docker containerd source is not supported on AL2023, use distro")
    info("Validating Kubernetes version", version=pos[0])
    manifest_url = opts["manifest_override"] or endpoints().get("manifest_url")
    k8s = resolve_kubernetes_version(pos[0], manifest_url)
    info("Using Kubernetes version", version=k8s)

    arts = tracker_load() or {}
    arts.setdefault("Containerd", "none")
    if source == "none":
        info("Skipping containerd installation", source=source)
    elif exists(CONTAINERD_BIN):
        info("containerd already installed on the host, not managing it", source=source)
        arts["Containerd"] = "none"
    else:
        info("Installing containerd...", source=source)
        write(CONTAINERD_BIN, DAEMON_STUB.format(name="containerd", version="1.6.20"), 0o755)
        write(CONTAINERD_UNIT, CONTAINERD_UNIT_TEXT)
        write(CONTAINERD_MARKER, f"{'containerd' if source == 'distro' else 'containerd.io'} {source}\n")
        arts["Containerd"] = source
    info("Installing iptables...")
    arts["Iptables"] = True
    info("Installing kubelet...", version=k8s)
    write(KUBELET_BIN, kubelet_script(k8s), 0o755)
    write(KUBELET_UNIT, KUBELET_UNIT_TEXT)
    arts["Kubelet"] = True
    info("Installing kubectl...")
    write("/usr/local/bin/kubectl", kubectl_stub(k8s), 0o755)
    arts["Kubectl"] = True
    info("Installing cni-plugins...")
    for plugin in CNI_PLUGINS:
        write(f"/opt/cni/bin/{plugin}", placeholder(plugin), 0o755)
    arts["CniPlugins"] = True
    info("Installing image credential provider...")
    write("/etc/eks/image-credential-provider/ecr-credential-provider", placeholder("ecr-credential-provider"), 0o755)
    arts["ImageCredentialProvider"] = True
    info("Installing IAM authenticator...")
    write("/usr/local/bin/aws-iam-authenticator", placeholder("aws-iam-authenticator"), 0o755)
    arts["IamAuthenticator"] = True
    if provider == "ssm":
        info("Installing SSM agent installer...", region=opts["region"])
        write("/opt/ssm/ssm-setup-cli", placeholder("ssm-setup-cli"), 0o755)
        write(SSM_AGENT_BIN, DAEMON_STUB.format(name="amazon-ssm-agent", version="3.3.1142.0"), 0o755)
        write(SSM_AGENT_UNIT, SSM_AGENT_UNIT_TEXT)
        arts["Ssm"] = True
    else:
        info("Installing AWS signing helper...")
        write("/usr/local/bin/aws_signing_helper", SIGNING_HELPER, 0o755)
        arts["IamRolesAnywhere"] = True
    write(TRACKER, tracker_dump(arts))
    systemctl("daemon-reload", check=False)
    info("Finishing up install...")
    return 0


# -------------------------------------------------------------------- init
def _registration() -> dict | None:
    try:
        return json.loads(read(SSM_REGISTRATION))
    except (FileNotFoundError, ValueError):
        return None


def setup_credentials(doc: dict, node_ip: str) -> dict:
    """-> identity {"nodeName", ...} after SSM registration or IAM RA checks."""
    spec = doc["spec"]
    region = spec["cluster"]["region"]
    hyb = spec["hybrid"]
    if hyb.get("ssm"):
        reg = _registration()
        if reg and reg.get("ManagedInstanceID"):
            info("Skipping SSM registration: instance already registered", instance=reg["ManagedInstanceID"])
            return {"nodeName": reg["ManagedInstanceID"], "managedInstanceId": reg["ManagedInstanceID"]}
        ssm = hyb["ssm"]
        info("Registering with SSM", activationId=ssm["activationId"])
        resp = ssm_register(ssm["activationId"], ssm["activationCode"], region, hostname(), node_ip)
        mi = resp.get("InstanceId") or resp.get("ManagedInstanceID")
        if not mi:
            raise Fatal(f"SSM registration returned no instance id: {resp}")
        write(SSM_REGISTRATION, json.dumps({"ManagedInstanceID": mi, "Region": region}))
        creds = resp.get("Credentials") or {}
        write(AWS_CREDENTIALS, "[default]\n"
              f"aws_access_key_id = {creds.get('AccessKeyId', 'AKIAHNLABSSM0000000')}\n"
              f"aws_secret_access_key = {creds.get('SecretAccessKey', 'lab-secret')}\n"
              f"aws_session_token = {creds.get('SessionToken', 'lab-session')}\n", 0o600)
        systemctl("enable", "--now", "amazon-ssm-agent", check=False)
        info("SSM registration complete", instance=mi)
        return {"nodeName": mi, "managedInstanceId": mi}
    ira = hyb["iamRolesAnywhere"]
    cert = ira.get("certificatePath") or "/etc/iam/pki/server.pem"
    key = ira.get("privateKeyPath") or "/etc/iam/pki/server.key"
    for p, what in ((cert, "certificate"), (key, "private key")):
        if not exists(p):
            raise Fatal(f"IAM Roles Anywhere {what} {p} not found")
    proc = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", path(cert)],
                          capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise Fatal(f"IAM Roles Anywhere certificate {cert} cannot be parsed: {proc.stderr.strip()}")
    m = re.search(r"CN=([^,]+)", proc.stdout)
    cn = m.group(1).strip() if m else ""
    if cn != ira["nodeName"]:
        raise Fatal(f"IAM Roles Anywhere certificate CN {cn!r} does not match nodeName {ira['nodeName']!r}")
    proc = subprocess.run(["openssl", "pkey", "-noout", "-in", path(key)], capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise Fatal(f"IAM Roles Anywhere private key {key} cannot be parsed: {proc.stderr.strip()}")
    write(IAMRA_CONFIG, "[default]\n"
          f"region = {region}\n"
          "credential_process = /usr/local/bin/aws_signing_helper credential-process"
          f" --certificate {cert} --private-key {key}"
          f" --profile-arn {ira['profileArn']} --role-arn {ira['roleArn']}"
          f" --trust-anchor-arn {ira['trustAnchorArn']} --role-session-name {ira['nodeName']}\n")
    return {"nodeName": ira["nodeName"], "roleArn": ira["roleArn"]}


def check_node_ip(node_ip: str, cluster: dict) -> None:
    nets = []
    for item in ((cluster.get("remoteNetworkConfig") or {}).get("remoteNodeNetworks") or []):
        nets += item.get("cidrs") or []
    if not nets:
        return
    ip = ipaddress.ip_address(node_ip)
    if not any(ip in ipaddress.ip_network(c, strict=False) for c in nets):
        raise Fatal(f"node IP {node_ip} is not in any of the remote node networks {nets}: "
                    "set --node-ip in kubelet flags or skip with --skip node-ip-validation")


def cmd_init(opts: dict, pos: list[str]) -> int:
    if not opts["config_source"]:
        raise Usage("--config-source is a required flag. The format is a URI with supported schemes: [file, imds]."
                    " For example on hybrid nodes --config-source file://nodeConfig.yaml", "init")
    skip = set(opts["skip"])
    if "install-validation" not in skip:
        info("Loading installed components")
        arts = tracker_load()
        if arts is None:
            info("Nodeadm components are not installed. Please run `nodeadm install` before running init")
            return 0
        if not exists(CONTAINERD_UNIT) and not exists("/lib/systemd/system/containerd.service"):
            raise Fatal("a systemd unit file for containerd is required to init the node: containerd.service not found")
    if exists(FAIL_INIT):
        raise Fatal(read(FAIL_INIT).strip() or "init failed (lab fault injection)")
    info("Loading configuration..", configSource=opts["config_source"])
    doc = load_node_config(opts["config_source"])
    # The worst case the collection must handle: a nodeadm that prints its configuration, activation code included
    # (the nodeadm module masks it: tests/lab/tests/collection/test_reliability_secrets_check_mode.py searches the -vvv output).
    info("Loaded configuration", config=doc)
    info("Validating configuration...")
    validate_node_config(doc)
    if "run" in skip and "config" in skip:
        return 0
    spec = doc["spec"]
    cluster_name, region = spec["cluster"]["name"], spec["cluster"]["region"]
    flags = parse_kubelet_flags((spec.get("kubelet") or {}).get("flags"))
    node_ip = flags["node_ip"] or default_route_ip()
    if not node_ip:
        raise Fatal("could not determine the node IP: no default route; set --node-ip in kubelet flags")
    identity = setup_credentials(doc, node_ip)
    name = identity["nodeName"]

    endpoint, ca_b64 = spec["cluster"].get("apiServerEndpoint"), spec["cluster"].get("certificateAuthority")
    cluster: dict = {}
    if not endpoint or not ca_b64 or "node-ip-validation" not in skip or identity.get("managedInstanceId"):
        info("Describing EKS cluster", cluster=cluster_name)
        cluster = describe_cluster(cluster_name, region)
        if cluster.get("status") not in (None, "ACTIVE"):
            raise Fatal(f"EKS cluster {cluster_name} is {cluster.get('status')}, not ACTIVE")
        endpoint = endpoint or cluster.get("endpoint")
        ca_b64 = ca_b64 or (cluster.get("certificateAuthority") or {}).get("data")
    if not endpoint or not ca_b64:
        raise Fatal(f"cluster {cluster_name} has no endpoint or certificate authority")
    if "node-ip-validation" not in skip:
        info("Validating node IP", nodeIP=node_ip)
        check_node_ip(node_ip, cluster)
    ca_pem = base64.b64decode(ca_b64).decode()
    service_cidr = ((cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr")) or "172.20.0.0/16"
    cluster_dns = str(ipaddress.ip_network(service_cidr).network_address + 10)
    if "k8s-authentication-validation" in skip:
        token = read(NODE_TOKEN_FILE).strip() if exists(NODE_TOKEN_FILE) else ""
    else:
        token = node_token(cluster_name, region, identity, cluster)
    k8s = installed_kubernetes_version() or SUPPORTED_KUBERNETES["1.31"]

    info("Writing configuration files")
    write(CA_FILE, ca_pem)
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": endpoint, "certificate-authority": CA_FILE}}],
        "users": [{"name": "kubelet", "user": {"token": token}}],
        "contexts": [{"name": "kubelet", "context": {"cluster": "kubernetes", "user": "kubelet"}}],
        "current-context": "kubelet",
    }
    write(KUBELET_KUBECONFIG, json.dumps(kubeconfig, indent=2) + "\n", 0o600)
    kubelet_cfg = {"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
                   "clusterDomain": "cluster.local", "clusterDNS": [cluster_dns],
                   "cgroupDriver": "systemd", "providerID": f"eks-hybrid:///{region}/{cluster_name}/{name}"}
    kubelet_cfg.update(((spec.get("kubelet") or {}).get("config")) or {})
    write(KUBELET_CONFIG, json.dumps(kubelet_cfg, indent=2) + "\n")
    args = [f"--node-ip={node_ip}", f"--hostname-override={name}", f"--kubeconfig={KUBELET_KUBECONFIG}",
            f"--config={KUBELET_CONFIG}", "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
            "--node-labels=" + ",".join(f"{k}={v}" for k, v in
                                        {COMPUTE_TYPE_LABEL: "hybrid", **flags["labels"]}.items())]
    if flags["taints"]:
        args.append("--register-with-taints=" + ",".join(
            f"{t['key']}{'=' + t['value'] if t.get('value') else ''}:{t['effect']}" for t in flags["taints"]))
    args += flags["other"]
    write(KUBELET_ENV, f"NODEADM_KUBELET_ARGS={shlex.quote(' '.join(args))}\n")
    toml = ('version = 2\nimports = ["/etc/containerd/config.d/*.toml"]\nroot = "/var/lib/containerd"\n'
            'state = "/run/containerd"\n\n[grpc]\naddress = "/run/containerd/containerd.sock"\n\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = true\n')
    write(CONTAINERD_CONFIG, toml)
    inline = (spec.get("containerd") or {}).get("config")
    if inline:
        write(CONTAINERD_CONFIG_D, str(inline))
    write(NODE_STATE, json.dumps({"nodeName": name, "nodeIP": node_ip, "hostname": hostname(),
                                  "server": endpoint, "labels": flags["labels"], "taints": flags["taints"],
                                  "cluster": cluster_name, "region": region}, indent=2) + "\n")

    if "run" in skip:
        return 0
    info("Registering node", node=name, nodeIP=node_ip)
    kube = Kube(endpoint, token, ca_pem)
    try:
        register_node(kube, node_manifest(name, node_ip, hostname(), flags["labels"], flags["taints"], k8s,
                                          network_ready=cni_configured()))
    except HTTPError as exc:
        raise Fatal(f"failed to register node {name}: {exc}")
    systemctl("daemon-reload", check=False)
    systemctl("enable", "containerd", check=False)
    systemctl("restart", "containerd")
    systemctl("enable", "kubelet", check=False)
    systemctl("restart", "kubelet")
    info("Node initialized", node=name)
    return 0


# ----------------------------------------------------------------- upgrade
def _node_kube() -> tuple[Kube, dict] | None:
    try:
        state = json.loads(read(NODE_STATE))
        kc = json.loads(read(KUBELET_KUBECONFIG))
        token = kc["users"][0]["user"]["token"]
        return Kube(state["server"], token, read(CA_FILE)), state
    except (FileNotFoundError, ValueError, KeyError, IndexError):
        return None


def _require_cordoned(skip: set) -> None:
    if "node-validation" in skip or not unit_active("kubelet"):
        return
    nk = _node_kube()
    if nk is None:
        return
    kube, state = nk
    info("Validating if node has been marked unschedulable...")
    node = kube.get_node(state["nodeName"])
    if node is not None and not (node.get("spec") or {}).get("unschedulable"):
        raise Fatal(f"please drain or cordon node to mark it unschedulable or use --skip node-validation: "
                    f"node {state['nodeName']} is schedulable")


def cmd_upgrade(opts: dict, pos: list[str]) -> int:
    if not opts["config_source"]:
        raise Usage("--config-source is a required flag. The format is a URI with supported schemes: [file, imds]."
                    " For example on hybrid nodes --config-source file://nodeConfig.yaml", "upgrade")
    info("Loading installed components")
    arts = tracker_load()
    if arts is None:
        info("No nodeadm components installed. Please use nodeadm install and nodeadm init commands to bootstrap a node")
        return 0
    skip = set(opts["skip"])
    if "init-validation" not in skip and not exists(KUBELET_KUBECONFIG):
        raise Fatal("node not initialized. Please use nodeadm init command to bootstrap a node. "
                    f"err: {KUBELET_KUBECONFIG} not found")
    doc = load_node_config(opts["config_source"])
    validate_node_config(doc)
    installed_provider = "ssm" if arts.get("Ssm") else "iam-ra" if arts.get("IamRolesAnywhere") else None
    if installed_provider != credential_provider_of(doc):
        raise Fatal("upgrade does not support changing credential providers. "
                    "Please uninstall and install with new credential provider")
    info("Validating Kubernetes version", version=pos[0])
    k8s = resolve_kubernetes_version(pos[0], endpoints().get("manifest_url"))
    current = installed_kubernetes_version()
    if current and tuple(map(int, k8s.split("."))) < tuple(map(int, current.split("."))):
        raise Fatal(f"cannot downgrade Kubernetes from {current} to {k8s}")
    _require_cordoned(skip)
    info("Upgrading kubelet...", version=k8s, previous=current)
    write(KUBELET_BIN, kubelet_script(k8s), 0o755)
    write("/usr/local/bin/kubectl", kubectl_stub(k8s), 0o755)
    write(TRACKER, tracker_dump(arts))
    nk = _node_kube()
    if nk is not None:
        kube, state = nk
        try:
            if kube.get_node(state["nodeName"]) is not None:
                kube.patch_status(state["nodeName"], {"nodeInfo": {"kubeletVersion": f"v{k8s}",
                                                                   "kubeProxyVersion": f"v{k8s}"}})
        except HTTPError as exc:
            raise Fatal(f"failed to update node {state['nodeName']}: {exc}")
    systemctl("daemon-reload", check=False)
    systemctl("restart", "kubelet")
    info("Upgrade complete", version=k8s)
    return 0


# --------------------------------------------------------------- uninstall
def cmd_uninstall(opts: dict, pos: list[str]) -> int:
    info("Loading installed components")
    arts = tracker_load()
    if arts is None:
        info("Nodeadm components are already uninstalled")
        return 0
    _require_cordoned(set(opts["skip"]))
    for unit in ("kubelet", "amazon-ssm-agent"):
        systemctl("disable", "--now", unit, check=False)
    if arts.get("Kubelet"):
        info("Uninstalling kubelet...")
        for p in (KUBELET_BIN, KUBELET_UNIT, KUBELET_KUBECONFIG, KUBELET_CONFIG, KUBELET_ENV,
                  "/etc/eks/kubelet", "/etc/kubernetes", "/var/lib/kubelet"):
            remove(p)
    if arts.get("Kubectl"):
        remove("/usr/local/bin/kubectl")
    if arts.get("CniPlugins"):
        remove("/opt/cni/bin")
    if arts.get("ImageCredentialProvider"):
        remove("/etc/eks/image-credential-provider")
    if arts.get("IamAuthenticator"):
        remove("/usr/local/bin/aws-iam-authenticator")
    if arts.get("Ssm"):
        info("Deregistering and uninstalling SSM agent...")
        for p in ("/opt/ssm", SSM_AGENT_BIN, SSM_AGENT_UNIT, "/var/lib/amazon/ssm", AWS_CREDENTIALS):
            remove(p)
    if arts.get("IamRolesAnywhere"):
        for p in ("/usr/local/bin/aws_signing_helper", "/etc/aws/hybrid"):
            remove(p)
    if arts.get("Containerd") in ("distro", "docker"):
        info("Uninstalling containerd...", source=arts["Containerd"])
        systemctl("disable", "--now", "containerd", check=False)
        for p in (CONTAINERD_BIN, CONTAINERD_UNIT, CONTAINERD_MARKER, "/etc/containerd"):
            remove(p)
    else:
        info("Leaving containerd in place: not installed by nodeadm")
    if opts["force"]:
        info("Force: removing CNI state", paths=["/var/lib/cni", "/etc/cni/net.d"])
        remove("/var/lib/cni")
        remove("/etc/cni/net.d")
    remove(os.path.dirname(TRACKER))
    systemctl("daemon-reload", check=False)
    info("Finished uninstallation")
    return 0


# ------------------------------------------------------------ debug, check
def cmd_config_check(opts: dict, pos: list[str]) -> int:
    if not opts["config_source"]:
        raise Usage("--config-source is a required flag.", "config check")
    doc = load_node_config(opts["config_source"])
    validate_node_config(doc)
    info("Configuration is valid")
    return 0


def cmd_debug(opts: dict, pos: list[str]) -> int:
    if not opts["config_source"]:
        raise Usage("--config-source is a required flag.", "debug")
    ok = True
    results = []

    def report(name: str, passed: bool, detail: str = "") -> None:
        nonlocal ok
        ok = ok and passed
        results.append({"check": name, "ok": passed, "detail": detail})
        mark = "[OK]" if passed else "[FAIL]"
        print(f"{mark} {name}{': ' + detail if detail else ''}")

    try:
        doc = load_node_config(opts["config_source"])
        validate_node_config(doc)
        report("config", True)
    except Fatal as exc:
        report("config", False, str(exc))
        return 1
    report("installed", tracker_load() is not None, "tracker " + TRACKER)
    spec = doc["spec"]
    try:
        cluster = describe_cluster(spec["cluster"]["name"], spec["cluster"]["region"])
        report("aws-api", True, f"cluster {cluster.get('name')} {cluster.get('status')}")
        try:
            ca = base64.b64decode((cluster.get("certificateAuthority") or {}).get("data") or "").decode()
            http("GET", cluster["endpoint"].rstrip("/") + "/version", ca=ca or None, attempts=1)
            report("k8s-endpoint", True, cluster["endpoint"])
        except HTTPError as exc:  # reachable, only not authorized
            report("k8s-endpoint", exc.status in (401, 403), f"{cluster.get('endpoint')}: HTTP {exc.status}")
        except (Fatal, KeyError, ValueError) as exc:
            report("k8s-endpoint", False, str(exc))
    except Fatal as exc:
        report("aws-api", False, str(exc))
    if spec["hybrid"].get("ssm"):
        reg = _registration()
        report("credentials", bool(reg), "ssm registration " + ("present" if reg else "missing"))
    else:
        ira = spec["hybrid"]["iamRolesAnywhere"]
        cert = ira.get("certificatePath") or "/etc/iam/pki/server.pem"
        report("credentials", exists(cert), f"certificate {cert}")
    return 0 if ok else 1


# --------------------------------------------------------------------- main
HANDLERS = {"install": cmd_install, "init": cmd_init, "upgrade": cmd_upgrade, "uninstall": cmd_uninstall,
            "debug": cmd_debug, "config check": cmd_config_check}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        verb, opts, pos = parse_args(argv)
    except Usage as exc:
        sys.stderr.write(help_text(exc.command) + "\n")
        if not str(exc):
            return 0  # -h/--help
        sys.stderr.write(f"\n{exc}\n")
        return 2
    if verb == "version":
        print(f"Version: {VERSION}")  # nodeadm's (flaggy's) version line
        return 0
    try:
        if not FAKE_ROOT and os.geteuid() != 0:
            raise Fatal("nodeadm must run as root")
        return HANDLERS[verb](opts, pos)
    except Usage as exc:
        sys.stderr.write(help_text(exc.command) + f"\n\n{exc}\n")
        return 2
    except Fatal as exc:
        log("fatal", "Command failed", error=str(exc))
        return 1


# -------------------------------------------------- the stand-in kubelet
# Written to /usr/bin/kubelet by install (with KUBELET_VERSION stamped in).
KUBELET_DAEMON = r'''#!/usr/bin/env python3
"""kubelet stand-in (hybridnodes lab). Posts the Node's Ready condition as a
real kubelet does: Ready only while a CNI configuration exists in
/etc/cni/net.d, else NotReady (NetworkPluginNotReady). Plumbs Cilium's
addresses: when CiliumNode <node> has spec.ipam.podCIDRs, the first address of
the first CIDR (CiliumInternalIP) and a pod address (the 10th) go on the
veth cilium_host (peer cilium_net)."""
import ipaddress, json, os, signal, ssl, subprocess, sys, time, urllib.error, urllib.request
KUBELET_VERSION = "0.0.0"
ROOT = os.environ.get("NODEADM_STANDIN_ROOT", "")
STATE = "/etc/kubernetes/standin-node.json"
ENDPOINTS = "/etc/hnlab/endpoints.json"
POD_OFFSET = 10
CNI_CONF_DIR = "/etc/cni/net.d"
NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
             "message:Network plugin returns error: cni plugin not initialized")
stop = False


def p(x):
    return os.path.join(ROOT, x.lstrip("/")) if ROOT else x


def log(msg, **kw):
    sys.stderr.write(json.dumps({"level": "info", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                 "msg": msg, **kw}) + "\n")
    sys.stderr.flush()


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def arg(name, default=None):
    for a in sys.argv[1:]:
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


class Api:
    def __init__(self):
        kc = json.load(open(p(arg("--kubeconfig", "/var/lib/kubelet/kubeconfig"))))
        cl = kc["clusters"][0]["cluster"]
        self.server = cl["server"].rstrip("/")
        self.ctx = ssl.create_default_context(cafile=p(cl["certificate-authority"]))
        self.token = kc["users"][0]["user"]["token"]

    def req(self, method, path, body=None, ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.server + path, data=data, method=method,
                                   headers={"Authorization": "Bearer " + self.token, "Content-Type": ctype,
                                            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=10, context=self.ctx) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise


def ip(*args):
    if ROOT:
        with open(p("/var/log/nodeadm-standin.calls"), "a") as fh:
            fh.write("ip " + " ".join(args) + "\n")
        return 0
    return subprocess.run(["ip", *args], capture_output=True, timeout=10).returncode


def plumb(cidr, current):
    net = ipaddress.ip_network(cidr, strict=False)
    router, pod = str(net.network_address + 1), str(net.network_address + POD_OFFSET)
    if current == (router, pod):
        return current
    if ip("link", "show", "cilium_host") != 0:
        # A veth pair, as Cilium itself makes (cilium_host/cilium_net); kernels
        # without the dummy link type (such as the lab machine's) have veth.
        ip("link", "add", "cilium_host", "type", "veth", "peer", "name", "cilium_net")
    ip("addr", "flush", "dev", "cilium_host")
    ip("addr", "add", router + "/32", "dev", "cilium_host")
    ip("addr", "add", pod + "/32", "dev", "cilium_host")
    ip("link", "set", "cilium_net", "up")
    ip("link", "set", "cilium_host", "up")
    log("cilium_host configured", router=router, pod=pod, podCIDR=cidr)
    return (router, pod)


def network_ready():
    try:
        return any(n.endswith((".conf", ".conflist", ".json")) for n in os.listdir(p(CNI_CONF_DIR)))
    except OSError:
        return False


def heartbeat(api, state, status=None):
    if status is None:
        status = "True" if network_ready() else "False"
    name = state["nodeName"]
    node = api.req("GET", "/api/v1/nodes/" + name)
    ts = now()
    if node is None:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "eks.amazonaws.com/compute-type": "hybrid"}
        labels.update(state.get("labels") or {})
        spec = {"taints": state["taints"]} if state.get("taints") else {}
        api.req("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                          "metadata": {"name": name, "labels": labels}, "spec": spec})
        log("re-registered node", node=name)
    cond = {"type": "Ready", "status": status, "lastHeartbeatTime": ts, "lastTransitionTime": ts,
            "reason": {"True": "KubeletReady", "False": "KubeletNotReady"}.get(status, "NodeStatusUnknown"),
            "message": {"True": "kubelet is posting ready status", "False": NOT_READY}.get(
                status, "Kubelet stopped posting node status.")}
    if node is not None:
        for c in (node.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") == status:
                cond["lastTransitionTime"] = c.get("lastTransitionTime", ts)
    st = {"conditions": [cond], "nodeInfo": {"kubeletVersion": "v" + KUBELET_VERSION,
                                              "kubeProxyVersion": "v" + KUBELET_VERSION}}
    if node is None or not (node.get("status") or {}).get("addresses"):
        st["addresses"] = [{"type": "InternalIP", "address": state["nodeIP"]},
                           {"type": "Hostname", "address": state.get("hostname", name)}]
    api.req("PATCH", "/api/v1/nodes/%s/status" % name, {"status": st}, "application/merge-patch+json")


def main():
    global stop
    if "--version" in sys.argv[1:]:
        print("Kubernetes v" + KUBELET_VERSION)
        return 0
    def term(*a):
        global stop
        stop = True
    signal.signal(signal.SIGTERM, term)
    signal.signal(signal.SIGINT, term)
    try:
        interval = max(10, int(json.load(open(p(ENDPOINTS))).get("heartbeat_seconds", 10)))
    except (OSError, ValueError):
        interval = 10
    state = json.load(open(p(STATE)))
    api = Api()
    plumbed = None
    once = "--standin-once" in sys.argv[1:]
    log("kubelet stand-in starting", version=KUBELET_VERSION, node=state["nodeName"], interval=interval)
    while not stop:
        net = network_ready()
        try:
            heartbeat(api, state, "True" if net else "False")
            cn = api.req("GET", "/apis/cilium.io/v2/ciliumnodes/" + state["nodeName"])
            cidrs = (((cn or {}).get("spec") or {}).get("ipam") or {}).get("podCIDRs") or []
            if cidrs:
                plumbed = plumb(cidrs[0], plumbed)
        except Exception as e:  # keep running; the next beat retries
            log("heartbeat failed", error=str(e))
        if once:
            break
        # As the kubelet's runtime status sync: a change of the network's readiness is posted at once (checked
        # every second), not at the next heartbeat.
        for tick in range(interval * 10):
            if stop or (tick % 10 == 9 and network_ready() != net):
                break
            time.sleep(0.1)
    if stop:
        try:
            heartbeat(api, state, status="Unknown")
        except Exception as e:
            log("final status update failed", error=str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


if __name__ == "__main__":
    sys.exit(main())
