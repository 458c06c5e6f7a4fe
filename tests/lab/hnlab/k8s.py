"""The lab's Kubernetes API server: Debian's etcd plus the real kube-apiserver of real_kubernetes_version.

Both listen on loopback only (ports from LabConfig). ``start`` wipes the
previous state, generates a lab CA, a serving certificate, service-account
keys and two random bearer tokens (admin in system:masters, and the hybrid
node identity in system:nodes), starts etcd and kube-apiserver, waits for
/readyz, grants the system:nodes group what the nodeadm stand-in needs and
writes cfg.kubeconfig (admin). ``stop`` ends exactly the recorded PIDs.

Files, all under cfg.state_dir/k8s: etcd/ (data), pki/ (ca.crt, ca.key,
apiserver.crt, apiserver.key, sa.key, sa.pub), tokens.csv, kubeconfig,
*.pid, *.log. Keys, tokens and the kubeconfig are mode 0600.

The binary comes from tests/lab/k8s/build.py (hnlab.gobuild, k8s.io/kubernetes; cached in cfg.cache_dir).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from hnlab import authn
from hnlab.config import LabConfig

ETCD_BINARY = "/usr/bin/etcd"
ADMIN_USER = "lab-admin"
# The identity the nodeadm stand-in uses to register every edge host.
NODE_USER = "system:node:lab-hybrid"
# The identity of the real kubelet the lab runs on one host (tests/lab/tests/lab/test_real_kubelet.py): a node of its
# own, with the API server's system:node role bound to it alone (the lab's stand-in node identity keeps NODE_RULES).
REAL_KUBELET_USER = "system:node:real-kubelet"
NODE_GROUPS = ("system:nodes", "system:authenticated")
NODE_ROLE = "hnlab:hybrid-node"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
NODE_RULES = [
    {"apiGroups": [""], "resources": ["nodes", "nodes/status"], "verbs": _ALL_VERBS},
    {"apiGroups": ["cilium.io"], "resources": ["ciliumnodes", "ciliumnodes/status"], "verbs": _ALL_VERBS},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": _ALL_VERBS},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
]


# The CiliumNode CRD (cilium.io/v2) reduced to what the lab needs: Cilium itself
# does not run here, so whoever simulates it creates the CRD with this helper.
CILIUMNODE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "ciliumnodes.cilium.io"},
    "spec": {
        "group": "cilium.io",
        "scope": "Cluster",
        "names": {"kind": "CiliumNode", "listKind": "CiliumNodeList", "plural": "ciliumnodes",
                  "singular": "ciliumnode", "shortNames": ["cn"]},
        "versions": [{
            "name": "v2", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}


# --- paths and helpers other components use ----------------------------------


def k8s_dir(cfg: LabConfig) -> Path:
    return cfg.state_dir / "k8s"


def _pki(cfg: LabConfig) -> Path:
    return k8s_dir(cfg) / "pki"


def ca_path(cfg: LabConfig) -> Path:
    return _pki(cfg) / "ca.crt"


def ca_pem(cfg: LabConfig) -> str:
    """PEM of the lab CA that signed the API server's serving certificate."""
    return ca_path(cfg).read_text()


def server_url(cfg: LabConfig) -> str:
    return f"https://127.0.0.1:{cfg.apiserver_port}"


def _tokens(cfg: LabConfig) -> dict[str, str]:
    """user name -> token, from the API server's token file."""
    with open(k8s_dir(cfg) / "tokens.csv", newline="") as f:
        return {row[1]: row[0] for row in csv.reader(f)}


def admin_token(cfg: LabConfig) -> str:
    return _tokens(cfg)[ADMIN_USER]


def real_kubelet_token(cfg: LabConfig) -> str:
    """Bearer token of REAL_KUBELET_USER (groups system:nodes, system:authenticated)."""
    return _tokens(cfg)[REAL_KUBELET_USER]


def node_token(cfg: LabConfig) -> str:
    """Bearer token of NODE_USER (groups system:nodes, system:authenticated)."""
    return _tokens(cfg)[NODE_USER]


def api_client(cfg: LabConfig, token: str | None = None):
    """A kubernetes.client.ApiClient for the lab (admin unless a token is given)."""
    from kubernetes import client

    conf = client.Configuration()
    conf.host = server_url(cfg)
    conf.ssl_ca_cert = str(ca_path(cfg))
    conf.api_key = {"authorization": token or admin_token(cfg)}
    conf.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(conf)


def create_ciliumnode_crd(cfg: LabConfig, timeout: float = 20.0) -> None:
    """Create CILIUMNODE_CRD (if absent) and wait, bounded, until it is Established."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with api_client(cfg) as api:
        ext = client.ApiextensionsV1Api(api)
        try:
            ext.create_custom_resource_definition(CILIUMNODE_CRD)
        except ApiException as exc:
            if exc.status != 409:
                raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            crd = ext.read_custom_resource_definition(CILIUMNODE_CRD["metadata"]["name"])
            if any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or []):
                return
            time.sleep(0.2)
    raise TimeoutError(f"CRD ciliumnodes.cilium.io not Established after {timeout:.0f}s")


def ciliumnode_crd_exists(cfg: LabConfig) -> bool:
    """Whether the CiliumNode CRD (CILIUMNODE_CRD) is in the API server."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with api_client(cfg) as api:
        try:
            client.ApiextensionsV1Api(api).read_custom_resource_definition(CILIUMNODE_CRD["metadata"]["name"])
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise


# --- certificates, keys, tokens, kubeconfig ----------------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _make_pki(cfg: LabConfig) -> None:
    """Lab CA, serving certificate and service-account key pair (cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    pki = _pki(cfg)
    pki.mkdir(parents=True, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=365)
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    nocrypt = serialization.NoEncryption()

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name(f"{cfg.cluster_name}-lab-ca"))
        .issuer_name(name(f"{cfg.cluster_name}-lab-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    service_ip = next(ipaddress.ip_network(cfg.service_cidr).hosts())
    ips = ["127.0.0.1", cfg.eks_endpoint_ip, str(service_ip)]
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local"]
    sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips] + [x509.DNSName(d) for d in dns]
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv_cert = (
        x509.CertificateBuilder()
        .subject_name(name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(srv_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    (pki / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    _write_private(pki / "ca.key", ca_key.private_bytes(pem, pkcs8, nocrypt))
    (pki / "apiserver.crt").write_bytes(srv_cert.public_bytes(pem))
    _write_private(pki / "apiserver.key", srv_key.private_bytes(pem, pkcs8, nocrypt))
    _write_private(pki / "sa.key", sa_key.private_bytes(pem, pkcs8, nocrypt))
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _write_tokens(cfg: LabConfig) -> None:
    rows = [
        [secrets.token_hex(24), ADMIN_USER, ADMIN_USER, "system:masters"],
        [secrets.token_hex(24), NODE_USER, NODE_USER, ",".join(NODE_GROUPS)],
        [secrets.token_hex(24), REAL_KUBELET_USER, REAL_KUBELET_USER, ",".join(NODE_GROUPS)],
    ]
    path = k8s_dir(cfg) / "tokens.csv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_MINIMAL).writerows(rows)


def _write_kubeconfig(cfg: LabConfig) -> None:
    """Admin kubeconfig with the CA embedded (JSON is valid YAML)."""
    ctx = f"{cfg.cluster_name}-lab"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": ctx, "cluster": {
            "server": server_url(cfg),
            "certificate-authority-data": base64.b64encode(ca_pem(cfg).encode()).decode(),
        }}],
        "users": [{"name": ADMIN_USER, "user": {"token": admin_token(cfg)}}],
        "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ADMIN_USER}}],
        "current-context": ctx,
    }
    _write_private(cfg.kubeconfig, (json.dumps(doc, indent=2) + "\n").encode())


# --- processes ---------------------------------------------------------------


def _pid_file(cfg: LabConfig, name: str) -> Path:
    return k8s_dir(cfg) / f"{name}.pid"


def _alive(pid: int) -> bool:
    """True when pid runs; a zombie counts as gone (and is reaped if it is our child)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    if state != "Z":
        return True
    try:
        os.waitpid(pid, 0)  # returns at once: the child has exited
    except ChildProcessError:
        pass  # not our child: its parent or init reaps it
    return False


def _recorded_pid(cfg: LabConfig, name: str, binary: str) -> int | None:
    """PID from the pid file if that process still runs `binary` (guards PID reuse)."""
    try:
        pid = int(_pid_file(cfg, name).read_text())
        if not _alive(pid):
            return None
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except (ValueError, OSError):
        return None
    return pid if exe == os.path.realpath(binary) else None


def _spawn(cfg: LabConfig, name: str, argv: list[str]) -> int:
    log = open(k8s_dir(cfg) / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    log.close()
    _pid_file(cfg, name).write_text(f"{proc.pid}\n")
    return proc.pid


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(cfg: LabConfig, name: str, lines: int = 20) -> str:
    try:
        return "".join((k8s_dir(cfg) / f"{name}.log").read_text(errors="replace").splitlines(True)[-lines:])
    except FileNotFoundError:
        return ""


def _wait(cfg: LabConfig, what: str, pid: int, check, timeout: float) -> float:
    """Poll check() every 0.2 s until true; bounded by timeout and by the process dying."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        if not _alive(pid):
            raise RuntimeError(f"{what} exited during start:\n{_log_tail(cfg, what)}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s:\n{_log_tail(cfg, what)}")


def _open(url: str, context: ssl.SSLContext | None = None):
    """GET url directly, ignoring any *_proxy environment (loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    return opener.open(url, timeout=2)


def _etcd_healthy(cfg: LabConfig) -> bool:
    try:
        with _open(f"http://127.0.0.1:{cfg.etcd_client_port}/health") as r:
            return json.load(r).get("health") == "true"
    except (OSError, ValueError):
        return False


def readyz(cfg: LabConfig) -> bool:
    """True when the API server answers /readyz with ok (anonymous, CA-verified)."""
    if not ca_path(cfg).exists():
        return False
    ctx = ssl.create_default_context(cafile=str(ca_path(cfg)))
    try:
        with _open(f"{server_url(cfg)}/readyz", ctx) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def _etcd_argv(cfg: LabConfig) -> list[str]:
    client = f"http://127.0.0.1:{cfg.etcd_client_port}"
    peer = f"http://127.0.0.1:{cfg.etcd_peer_port}"
    return [ETCD_BINARY, "--name", "hnlab", "--data-dir", str(k8s_dir(cfg) / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"hnlab={peer}", "--initial-cluster-state", "new"]


def _apiserver_argv(cfg: LabConfig) -> list[str]:
    pki = _pki(cfg)
    return [
        str(cfg.apiserver_binary),
        f"--etcd-servers=http://127.0.0.1:{cfg.etcd_client_port}",
        "--bind-address=127.0.0.1",
        f"--secure-port={cfg.apiserver_port}",
        # What the `kubernetes` Service points at: the cluster endpoint in the VPC.
        f"--advertise-address={cfg.eks_endpoint_ip}",
        f"--cert-dir={pki}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--token-auth-file={k8s_dir(cfg) / 'tokens.csv'}",
        # EKS's authenticator for aws-iam-authenticator tokens, with access entries (hnlab.authn): how the real
        # kubelets that nodeadm configures authenticate.
        f"--authentication-token-webhook-config-file={k8s_dir(cfg) / 'authn-webhook.kubeconfig'}",
        "--authentication-token-webhook-version=v1",
        # The Node authorizer first, as on EKS: a kubelet authenticated as system:node:<name> (group system:nodes)
        # gets what its node needs; RBAC covers everyone else.
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={cfg.service_cidr}",
        "--enable-priority-and-fairness=false",
        # No node lifecycle controller runs in the lab to lift the not-ready
        # taint this plugin puts on every new Node; the stand-in kubelet
        # reports Ready itself.
        "--disable-admission-plugins=TaintNodesByCondition",
    ]


def _grant_nodes(cfg: LabConfig) -> None:
    """ClusterRole + binding for the system:nodes group: what the nodeadm stand-in needs."""
    from kubernetes import client

    with api_client(cfg) as api:
        rbac = client.RbacAuthorizationV1Api(api)
        rbac.create_cluster_role({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                  "metadata": {"name": NODE_ROLE}, "rules": NODE_RULES})
        rbac.create_cluster_role_binding({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": NODE_ROLE},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NODE_ROLE},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}],
        })
        # What a real kubelet reads and writes besides its Node (pods, services, events, CSI objects): the API
        # server's own system:node role, which nothing binds by default (the Node authorizer replaced the binding;
        # the lab authorizes with RBAC alone). Bound to the real kubelet's identity only: the role also lists
        # secrets, which the Node authorizer would narrow to a node's own pods and RBAC alone cannot.
        rbac.create_cluster_role_binding({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{NODE_ROLE}:system-node"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": REAL_KUBELET_USER}],
        })


# --- lab component interface -------------------------------------------------


def start(cfg: LabConfig) -> None:
    """Fresh etcd + kube-apiserver on loopback; returns once /readyz is ok and RBAC is set."""
    if not cfg.apiserver_binary.exists():
        raise FileNotFoundError(f"{cfg.apiserver_binary} missing: run `python tests/lab/k8s/build.py`")
    if not os.path.exists(ETCD_BINARY):
        raise FileNotFoundError(f"{ETCD_BINARY} missing: apt-get install etcd-server")
    stop(cfg)
    for port in (cfg.etcd_client_port, cfg.etcd_peer_port, cfg.apiserver_port, cfg.authn_port):
        if _port_busy(port):
            raise RuntimeError(f"127.0.0.1:{port} is already in use (another lab running?)")
    shutil.rmtree(k8s_dir(cfg), ignore_errors=True)
    k8s_dir(cfg).mkdir(parents=True, mode=0o700)
    _make_pki(cfg)
    _write_tokens(cfg)
    (k8s_dir(cfg) / "authn-webhook.kubeconfig").write_text(authn.webhook_kubeconfig(cfg))

    t0 = time.monotonic()
    try:
        pid = _spawn(cfg, "etcd", _etcd_argv(cfg))
        took = _wait(cfg, "etcd", pid, lambda: _etcd_healthy(cfg), 30.0)
        print(f"k8s: etcd healthy on 127.0.0.1:{cfg.etcd_client_port} in {took:.1f}s", flush=True)
        authn.start(cfg)
        pid = _spawn(cfg, "kube-apiserver", _apiserver_argv(cfg))
        took = _wait(cfg, "kube-apiserver", pid, lambda: readyz(cfg), READY_TIMEOUT)
        print(f"k8s: kube-apiserver /readyz ok in {took:.1f}s", flush=True)
        _grant_nodes(cfg)
        _write_kubeconfig(cfg)
    except BaseException:
        stop(cfg)
        raise
    print(f"k8s: ready in {time.monotonic() - t0:.1f}s; kubeconfig {cfg.kubeconfig}", flush=True)


def _terminate(cfg: LabConfig, name: str, binary: str) -> None:
    pid = _recorded_pid(cfg, name, binary)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):  # may have exited meanwhile
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        if _alive(pid):
            raise RuntimeError(f"{name} (pid {pid}) survived SIGKILL")
    _pid_file(cfg, name).unlink(missing_ok=True)


def stop(cfg: LabConfig) -> None:
    """End the recorded kube-apiserver, then etcd. State stays until the next start."""
    _terminate(cfg, "kube-apiserver", str(cfg.apiserver_binary))
    _terminate(cfg, "etcd", ETCD_BINARY)
    authn.stop(cfg)


def status(cfg: LabConfig) -> dict:
    """running: both recorded processes alive; readyz: the API server answers ok."""
    pids = {
        "etcd": _recorded_pid(cfg, "etcd", ETCD_BINARY),
        "kube-apiserver": _recorded_pid(cfg, "kube-apiserver", str(cfg.apiserver_binary)),
    }
    pids["authn"] = authn.status(cfg)["pid"] if authn.status(cfg)["running"] else None
    return {
        "running": all(pids.values()),
        "pids": pids,
        "url": server_url(cfg),
        "readyz": readyz(cfg),
        "kubeconfig": str(cfg.kubeconfig) if cfg.kubeconfig.exists() else None,
    }
