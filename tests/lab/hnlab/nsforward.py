"""TCP forwarder: what the nodes see of "EKS" and "AWS" inside the VPC.

Listens (sockets created inside cfg.netns_eksapi through netns.py) on
  cfg.eks_endpoint_ip:cfg.eks_endpoint_port -> 127.0.0.1:cfg.apiserver_port
  cfg.eks_endpoint_ip:cfg.aws_endpoint_port -> 127.0.0.1:cfg.moto_port
  cfg.aws_api_ip:cfg.aws_api_port (TLS, hnlab.awstls's certificate) -> 127.0.0.1:cfg.moto_port
  cfg.registry_ip:cfg.aws_api_port (TLS, the same) -> cfg.mirror_ip:cfg.mirror_port (its registry path, /v2/)
while the process itself and its outgoing connections stay in the root
namespace. A node reaches these only once its route to the VPC via the VPN
server IP is in place, as in real life.

Run as ``python -m hnlab.nsforward`` (start() does that, records the PID in
STATE/pids/nsforward.pid and waits for STATE/lab/nsforward.ready).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import netns as ns


def _pidfile(cfg) -> Path:
    return cfg.state_dir / "pids" / "nsforward.pid"


def _ready(cfg) -> Path:
    return cfg.state_dir / "lab" / "nsforward.ready"


def _log(cfg) -> Path:
    return cfg.state_dir / "logs" / "nsforward.log"


def routes(cfg) -> list[tuple[str, str, int, str, int]]:
    return [
        (cfg.netns_eksapi, cfg.eks_endpoint_ip, cfg.eks_endpoint_port, "127.0.0.1", cfg.apiserver_port),
        (cfg.netns_eksapi, cfg.eks_endpoint_ip, cfg.aws_endpoint_port, "127.0.0.1", cfg.moto_port),
        (cfg.netns_eksapi, cfg.aws_api_ip, cfg.aws_api_port, "127.0.0.1", cfg.moto_port),
        (cfg.netns_eksapi, cfg.registry_ip, cfg.aws_api_port, cfg.mirror_ip, cfg.mirror_port),
    ]


def _tls_context(cfg, ip: str):
    """The server TLS context of a route whose listener terminates TLS (the AWS API names), else None."""
    if ip not in (cfg.aws_api_ip, cfg.registry_ip):
        return None
    import ssl

    from . import awstls

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(*(str(path) for path in awstls.server_paths(cfg)))
    return context


def _copy(src, dst) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _pump_tls(client, upstream: socket.socket, context) -> None:
    """Blocking copies both ways once the TLS handshake is done (an SSL socket buffers what select cannot see)."""
    try:
        client.settimeout(10)
        tls = context.wrap_socket(client, server_side=True)
        tls.settimeout(300)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=_copy, args=(upstream, tls), daemon=True)
    back.start()
    _copy(tls, upstream)
    back.join(300)
    tls.close()
    upstream.close()


def _pump(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        open_ends = 2
        while open_ends:
            for key, _unused in sel.select(timeout=300):
                src, dst = key.fileobj, key.data
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(src)
                    open_ends -= 1
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    continue
                dst.sendall(data)
            else:
                if not sel.get_map():
                    break
    except OSError:
        pass
    finally:
        sel.close()
        a.close()
        b.close()


def _serve(listener: socket.socket, target: tuple[str, int], context=None) -> None:
    while True:
        client, _unused = listener.accept()
        try:
            upstream = socket.create_connection(target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        if context is None:
            threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        else:
            threading.Thread(target=_pump_tls, args=(client, upstream, context), daemon=True).start()


def serve(cfg) -> None:
    listeners = []
    for netns_name, ip, port, thost, tport in routes(cfg):
        sock = ns.socket_in_netns(netns_name, ip, port)
        context = _tls_context(cfg, ip)
        listeners.append((sock, (thost, tport), context))
        print(f"forwarding {netns_name} {ip}:{port}{' (TLS)' if context else ''} -> {thost}:{tport}", flush=True)
    for sock, target, context in listeners:
        threading.Thread(target=_serve, args=(sock, target, context), daemon=True).start()
    _ready(cfg).write_text(json.dumps({"pid": os.getpid()}))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: stop.set())
    signal.signal(signal.SIGINT, lambda *_unused: stop.set())
    while not stop.wait(1):
        pass


def start(cfg, timeout: float = 10) -> dict:
    from . import awstls

    pidfile = _pidfile(cfg)
    if ns.pidfile_alive(pidfile):
        return status(cfg)
    awstls.make_pki(cfg)
    for p in (_ready(cfg), _log(cfg)):
        p.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        _ready(cfg).unlink()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    with open(_log(cfg), "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hnlab.nsforward"], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    ns.write_pidfile(pidfile, proc.pid, component="nsforward")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ready(cfg).exists():
            return status(cfg)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"nsforward did not start; see {_log(cfg)}")


def stop(cfg) -> None:
    ns.terminate_pidfiles([_pidfile(cfg)], timeout=5)
    with contextlib.suppress(FileNotFoundError):
        _ready(cfg).unlink()


def status(cfg) -> dict:
    info = ns.read_pidfile(_pidfile(cfg))
    return {"running": ns.pid_alive(info), "pid": (info or {}).get("pid"),
            "listen": [f"{ip}:{port}->{th}:{tp}" for _unused, ip, port, th, tp in routes(cfg)]}


if __name__ == "__main__":
    from hnlab import config

    serve(config.load())
