"""The lab's token authenticator in front of the API server: EKS's aws-iam-authenticator webhook with access entries.

A kubelet that nodeadm configured authenticates with an aws-iam-authenticator token (`aws-iam-authenticator token`,
run by its kubeconfig's exec plugin): "k8s-aws-v1." + the base64url of a presigned sts:GetCallerIdentity URL that signs
the header x-k8s-aws-id (the cluster's name). kube-apiserver hands the token to this webhook
(--authentication-token-webhook-config-file, TokenReview v1), which:
  - checks the URL as the real verifier does (sigs.k8s.io/aws-iam-authenticator v0.7.2 pkg/token/token.go, Verify):
    https, an STS host name, path "/", only the allowed query parameters, each once, Action=GetCallerIdentity, the
    cluster header signed, X-Amz-Expires 0..900, X-Amz-Date present and at most 15 minutes old, at most 4 KiB;
  - replays it against the lab's STS (the emulator, hnlab.aws.sts_ext) with the cluster header and accept JSON, and
    reads the caller's ARN, account and user id (role id:session name for a role);
  - maps the canonical principal (arn:aws:iam::<account>:role/<name> for an assumed role) through the cluster's EKS
    access entries, as EKS does: HYBRID_LINUX -> system:node:{{SessionName}} in system:nodes; STANDARD -> the entry's
    username (its {{SessionName}} filled) and kubernetesGroups; no entry, no user.
The real verifier holds it: tests/lab/tests/lab/test_token_authenticator.py runs `aws-iam-authenticator verify` (the
real program) on the same tokens and compares. Static tokens (hnlab.k8s tokens.csv) stay for the admin and the
nodeadm stand-in.

Run as ``python -m hnlab.authn '<config fields as JSON>'`` (start() does that from hnlab.k8s, records the PID and
waits for it to answer).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from . import netns as ns

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
MAX_TOKEN_BYTES = 4096
PRESIGNED_LIFETIME = datetime.timedelta(minutes=15)
PARAMETERS = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
              "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}
STS_HOST = re.compile(r"^sts(\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+)?\.amazonaws\.com$")
ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/"
                          r"(?P<session>.+)$")
NODE_GROUPS = {"HYBRID_LINUX": ["system:nodes"], "EC2_LINUX": ["system:nodes"], "EC2_WINDOWS": ["system:nodes"]}


class TokenError(Exception):
    """A token refused, with the verifier's reason."""


def presigned_url(token: str, now: datetime.datetime):
    """The presigned URL inside a token, once it passes the verifier's format rules (token.go, Verify)."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenError(f"token is missing expected {TOKEN_PREFIX!r} prefix")
    payload = token[len(TOKEN_PREFIX):]
    try:
        url = urlsplit(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError(f"token is not base64url: {exc}") from exc
    if url.scheme != "https":
        raise TokenError(f"unexpected scheme {url.scheme!r} in pre-signed URL")
    if not STS_HOST.match(url.netloc):
        raise TokenError(f"unexpected hostname {url.netloc!r} in pre-signed URL")
    if url.path != "/":
        raise TokenError("unexpected path in pre-signed URL")
    params = parse_qsl(url.query, keep_blank_values=True)
    lower = {}
    for key, value in params:
        if key.lower() in lower:
            raise TokenError(f"duplicate query parameter found: {key!r}")
        if key.lower() not in PARAMETERS:
            raise TokenError(f"non-whitelisted query parameter {key!r}")
        lower[key.lower()] = value
    if lower.get("action") != "GetCallerIdentity":
        raise TokenError("unexpected action parameter in pre-signed URL")
    if CLUSTER_ID_HEADER not in [h.lower() for h in lower.get("x-amz-signedheaders", "").split(";")]:
        raise TokenError(f"client did not sign the {CLUSTER_ID_HEADER} header in the pre-signed URL")
    try:
        expires = int(lower.get("x-amz-expires", ""))
    except ValueError:
        expires = -1
    if not 0 <= expires <= 900:
        raise TokenError("invalid X-Amz-Expires parameter in pre-signed URL")
    try:
        signed = datetime.datetime.strptime(lower.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise TokenError("X-Amz-Date parameter must be present in pre-signed URL") from exc
    if now > signed + PRESIGNED_LIFETIME:
        raise TokenError("X-Amz-Date parameter is expired (15 minute expiration)")
    return url, lower


def caller_identity(sts_endpoint: str, url, cluster_id: str) -> dict:
    """GetCallerIdentity replayed as the verifier replays it, against the lab's STS."""
    request = urllib.request.Request(f"{sts_endpoint}/?{url.query}", method="GET", headers={
        "Host": url.netloc, CLUSTER_ID_HEADER: cluster_id, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise TokenError(f"error from AWS (expected 200, got {exc.code})") from exc
    except (OSError, ValueError) as exc:
        raise TokenError(f"error during GET: {exc}") from exc
    return body["GetCallerIdentityResponse"]["GetCallerIdentityResult"]


def canonical_arn(arn: str) -> tuple[str, str | None]:
    """(principal ARN an access entry names, session name) of a caller ARN."""
    match = ASSUMED_ROLE.match(arn)
    if match:
        return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}", match["session"]
    return arn, None


def map_identity(entries: dict[str, dict], identity: dict, access_key: str) -> dict:
    """The Kubernetes user of a caller, through the cluster's access entries ({principal ARN: entry})."""
    principal, session = canonical_arn(identity["Arn"])
    entry = entries.get(principal)
    if entry is None:
        raise TokenError(f"ARN {principal} is not mapped by any access entry of the cluster")
    username = entry["username"].replace("{{SessionName}}", session or "")
    if "{{" in username:
        raise TokenError(f"username {entry['username']!r} of access entry {principal} cannot be filled for this caller")
    groups = NODE_GROUPS.get(entry["type"], list(entry.get("kubernetesGroups") or []))
    return {"username": username, "uid": f"aws-iam-authenticator:{identity['Account']}:{identity['UserId'].split(':')[0]}",
            "groups": groups, "extra": {"arn": [identity["Arn"]], "canonicalArn": [principal],
                                        "sessionName": [session or ""], "accessKeyId": [access_key]}}


def access_entries(cfg) -> dict[str, dict]:
    from .aws.clients import client

    eks = client(cfg, "eks")
    entries = {}
    for page in eks.get_paginator("list_access_entries").paginate(clusterName=cfg.cluster_name):
        for principal in page["accessEntries"]:
            entries[principal] = eks.describe_access_entry(clusterName=cfg.cluster_name,
                                                           principalArn=principal)["accessEntry"]
    return entries


def review(cfg, token: str, now: datetime.datetime) -> dict:
    """The TokenReview status for TOKEN."""
    try:
        url, params = presigned_url(token, now)
        identity = caller_identity(cfg.moto_endpoint, url, cfg.cluster_name)
        user = map_identity(access_entries(cfg), identity, params.get("x-amz-credential", "").split("/")[0])
    except TokenError as exc:
        return {"authenticated": False, "error": str(exc)}
    return {"authenticated": True, "user": user}


# ------------------------------------------------------------------ the webhook process
def _pidfile(cfg) -> Path:
    return cfg.state_dir / "pids" / "authn.pid"


def _log(cfg) -> Path:
    return cfg.state_dir / "logs" / "authn.log"


def url(cfg) -> str:
    return f"http://127.0.0.1:{cfg.authn_port}/authenticate"


def webhook_kubeconfig(cfg) -> str:
    """What kube-apiserver's --authentication-token-webhook-config-file reads."""
    return json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "webhook",
                       "clusters": [{"name": "hnlab-authn", "cluster": {"server": url(cfg)}}],
                       "users": [{"name": "kube-apiserver", "user": {}}],
                       "contexts": [{"name": "webhook", "context": {"cluster": "hnlab-authn", "user": "kube-apiserver"}}]})


def serve(cfg) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length))
                token = request["spec"]["token"]
            except (ValueError, KeyError, TypeError):
                self.send_error(400, "not a TokenReview")
                return
            status = review(cfg, token, datetime.datetime.now(datetime.timezone.utc))
            print(json.dumps({"authenticated": status["authenticated"], "user": status.get("user", {}).get("username"),
                              "error": status.get("error")}), flush=True)
            body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                               "status": status}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_unused) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", cfg.authn_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: stop.set())
    signal.signal(signal.SIGINT, lambda *_unused: stop.set())
    while not stop.wait(1):
        pass
    server.shutdown()


def _fields(cfg) -> dict:
    """What the webhook process needs of the config that started it (an isolated one may differ from the lab's)."""
    return {name: getattr(cfg, name) for name in ("authn_port", "moto_port", "cluster_name", "region")}


def _answers(cfg) -> bool:
    request = urllib.request.Request(url(cfg), data=b"{}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=1)
    except urllib.error.HTTPError as exc:
        return exc.code == 400
    except OSError:
        return False
    return True


def start(cfg, timeout: float = 10) -> dict:
    pidfile = _pidfile(cfg)
    if ns.pidfile_alive(pidfile):
        return status(cfg)
    _log(cfg).parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    with open(_log(cfg), "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hnlab.authn", json.dumps(_fields(cfg))], stdin=subprocess.DEVNULL,
                                stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
    ns.write_pidfile(pidfile, proc.pid, component="authn")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _answers(cfg):
            if proc.poll() is None:  # this process answers, not another one on the port
                return status(cfg)
            break
        time.sleep(0.05)
    raise RuntimeError(f"the token authenticator did not start; see {_log(cfg)}")


def stop(cfg) -> None:
    info = ns.read_pidfile(_pidfile(cfg))
    ns.terminate_pidfiles([_pidfile(cfg)], timeout=5)
    if info:  # reaped here when the caller started it (a test's isolated API server), else by init
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(int(info["pid"]), os.WNOHANG)


def status(cfg) -> dict:
    info = ns.read_pidfile(_pidfile(cfg))
    return {"running": ns.pid_alive(info), "pid": (info or {}).get("pid"), "listen": url(cfg)}


if __name__ == "__main__":
    import dataclasses

    from hnlab import config

    with contextlib.suppress(KeyboardInterrupt):
        serve(dataclasses.replace(config.load(), **json.loads(sys.argv[1])))
