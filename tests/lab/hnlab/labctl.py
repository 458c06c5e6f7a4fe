"""The lab orchestrator: up / down / status / restart.

    python tests/lab/labctl.py up --hosts N [--skip k8s,aws,...]
    python tests/lab/labctl.py down
    python tests/lab/labctl.py status [--json]
    python tests/lab/labctl.py restart --host NAME

Only one lab at a time: ``up`` refuses when a lab (or anything with the lab
prefix) is present. ``down`` stops everything in reverse order, each step
tolerant, then verifies that no namespace, link, mount, iptables rule or
recorded process is left, and fails listing what is.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from . import config as config_mod
from . import awstls, cilium_manifest, edge, inventory, network, nsforward, realnode
from . import netns as ns

COMPONENTS = ("dns", "k8s", "aws", "nsforward", "mirror", "cilium_operator")


class LabError(RuntimeError):
    pass


def _lab_file(cfg) -> Path:
    return cfg.state_dir / "lab" / "lab.json"


def _seed_file(cfg) -> Path:
    return cfg.state_dir / "lab" / "aws-seed.json"


@contextlib.contextmanager
def _locked(cfg):
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.state_dir / "labctl.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError("another labctl is running (lock held)") from None
        yield


def read_lab(cfg) -> dict | None:
    try:
        return json.loads(_lab_file(cfg).read_text())
    except (OSError, ValueError):
        return None


def _write_lab(cfg, data: dict) -> None:
    _lab_file(cfg).parent.mkdir(parents=True, exist_ok=True)
    _lab_file(cfg).write_text(json.dumps(data, indent=1))


def is_running(cfg) -> list[str]:
    """Reasons to believe a lab is present (empty list: none)."""
    reasons = []
    if read_lab(cfg):
        reasons.append(f"{_lab_file(cfg)} exists")
    reasons += network.leftovers(cfg)
    reasons += edge.leftovers(cfg)
    return reasons


def _component(name: str):
    """The component module, or None when it is not written yet."""
    try:
        mod = importlib.import_module(f"hnlab.{name}")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == f"hnlab.{name}" or exc.name.startswith(f"hnlab.{name}.")):
            return None
        raise
    if not hasattr(mod, "start"):
        return None
    return mod


def ensure_ssh_key(cfg) -> Path:
    key = cfg.ssh_key
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        ns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hnlab", "-f", str(key)])
    key.chmod(0o600)
    return key


def _load_seed(cfg) -> dict:
    try:
        return json.loads(_seed_file(cfg).read_text())
    except (OSError, ValueError):
        return {}


def write_inventory(cfg, seed: dict | None = None, profile: str | None = None) -> Path:
    """The running lab's inventory (cfg.inventory_path) and its link cfg.inventory_link, from its hosts and AWS seed
    (the recorded one when not given), in its profile (the recorded one when not given): at `up`, and for a lab that
    is up without it (one brought up when the inventory was a file in the source tree)."""
    profile = profile or (read_lab(cfg) or {}).get("profile") or "light"
    return inventory.write(cfg, edge.load_hosts(cfg), _load_seed(cfg) if seed is None else seed, profile)


def up(cfg, hosts: int, skip: tuple = (), log=print, profile: str = "light") -> dict:
    if not 1 <= hosts <= cfg.max_hosts:
        raise LabError(f"--hosts must be 1..{cfg.max_hosts}, got {hosts}")
    if profile not in inventory.PROFILES:
        raise LabError(f"--profile must be one of {', '.join(inventory.PROFILES)}, got {profile}")
    with _locked(cfg):
        present = is_running(cfg)
        if present:
            raise LabError("a lab is already running (or left over); run `labctl down` first:\n  "
                           + "\n  ".join(present[:20]))
        timings: dict[str, float] = {}
        t_all = time.monotonic()

        def step(name, fn, *a, **kw):
            t0 = time.monotonic()
            out = fn(*a, **kw)
            timings[name] = round(time.monotonic() - t0, 1)
            log(f"[{timings[name]:6.1f}s] {name}")
            return out

        step("tools", network.ensure_tools)
        timings["debootstrap"] = round(edge.ensure_rootfs(cfg, log=log), 1)
        step("ssh key", ensure_ssh_key, cfg)
        _write_lab(cfg, {"status": "starting", "hosts": hosts, "started": time.time()})
        net = step("networks", network.start, cfg)
        hinfo = step(f"hosts ({hosts} edge + vpngw)", edge.start, cfg, hosts, log=log)

        errors: dict[str, str] = {}
        started: list[str] = []
        seed: dict = {}
        for name in COMPONENTS:
            if name in skip:
                log(f"component {name} skipped")
                continue
            mod = nsforward if name == "nsforward" else _component(name)
            if mod is None:
                log(f"component {name} not available yet")
                continue
            try:
                step(f"component {name}", mod.start, cfg)
                started.append(name)
                if name == "aws" and hasattr(mod, "seed"):
                    k8s = _component("k8s")
                    ca = k8s.ca_pem(cfg) if k8s is not None and "k8s" in started else None
                    seed = step("aws seed", mod.seed, cfg, ca, f"https://{cfg.eks_endpoint_ip}") or {}
                    _seed_file(cfg).write_text(json.dumps(seed, indent=1, default=str))
            except Exception as exc:  # keep going: the report lists every failure
                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"component {name} FAILED: {errors[name]}")
                traceback.print_exc()
        if "k8s" in started and "mirror" in started:
            # What the nodeadm stand-in needs on every edge host: where the AWS
            # emulator and the release manifest are (through the VPN), and the
            # node token it may use once the role has a HYBRID_LINUX access entry.
            files = _component("mirror").standin_host_files(cfg, _component("k8s").node_token(cfg))
            step("stand-in files on the edge hosts", edge.install_files, cfg, files)
        if "nsforward" in started:
            step("lab CA of the AWS API names on the edge hosts", awstls.trust_on_hosts, cfg)
        # The rendered Cilium manifest the lab inventory's cilium_manifest_path names (roles/cilium, method manifest).
        step("cilium manifest", cilium_manifest.write, cfg)
        # The site CA of the real profile's IAM Roles Anywhere (its inventory names it; cheap, so every lab has it).
        step("IAM Roles Anywhere site CA", realnode.make_site_ca, cfg)
        if profile == "real":
            step("edge hosts prepared for the real nodeadm and kubelet", realnode.prepare_hosts, cfg)
        step("inventory", write_inventory, cfg, seed, profile)
        timings["total"] = round(time.monotonic() - t_all, 1)
        data = {"status": "up", "hosts": hosts, "profile": profile, "started": time.time(), "timings": timings,
                "network": net, "edge": hinfo, "components": started, "errors": errors}
        _write_lab(cfg, data)
        log(f"lab up ({profile}): {hosts} edge hosts + vpngw in {timings['total']}s "
            f"(hosts ssh-ready {hinfo['ssh_ready_s']}s); inventory {cfg.inventory_path}")
        if errors:
            raise LabError("lab is up but components failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        return data


def _live_pidfiles(cfg) -> list[str]:
    out = []
    if cfg.state_dir.is_dir():
        for p in cfg.state_dir.rglob("*.pid"):
            info = ns.read_pidfile(p)
            if ns.pid_alive(info):
                out.append(f"process {info['pid']} ({p})")
    return out


def leftovers(cfg) -> list[str]:
    return network.leftovers(cfg) + edge.leftovers(cfg) + _live_pidfiles(cfg) + inventory.leftovers(cfg)


def down(cfg, log=print) -> dict:
    with _locked(cfg):
        t0 = time.monotonic()
        problems: list[str] = []
        for name in reversed(COMPONENTS):
            mod = nsforward if name == "nsforward" else _component(name)
            if mod is None or not hasattr(mod, "stop"):
                continue
            try:
                mod.stop(cfg)
                log(f"stopped {name}")
            except Exception as exc:
                problems.append(f"{name}.stop: {type(exc).__name__}: {exc}")
        for what, fn in (("hosts", edge.stop), ("networks", network.stop)):
            try:
                errs = fn(cfg)
                problems += errs or []
                log(f"stopped {what}")
            except Exception as exc:
                problems.append(f"{what}: {type(exc).__name__}: {exc}")
        inventory.remove(cfg)
        left = leftovers(cfg)
        secs = round(time.monotonic() - t0, 1)
        if left or problems:
            raise LabError(f"down left things behind after {secs}s:\n  " + "\n  ".join(problems + left))
        for p in (_lab_file(cfg), _seed_file(cfg), cilium_manifest.path(cfg)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        log(f"lab down in {secs}s; nothing left")
        return {"seconds": secs}


def status(cfg) -> dict:
    comps = {}
    for name in COMPONENTS:
        mod = nsforward if name == "nsforward" else _component(name)
        if mod is None or not hasattr(mod, "status"):
            comps[name] = {"available": False}
            continue
        try:
            comps[name] = mod.status(cfg)
        except Exception as exc:
            comps[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return {"lab": read_lab(cfg), "hosts": edge.status(cfg), "network": network.status(cfg),
            "components": comps}


def health(cfg) -> list[str]:
    """What is dead in a lab that is marked up (empty: every component runs and every host answers SSH).

    A lab whose processes were ended from outside (a stopped session, a reboot) keeps its lab.json; this tells such
    a lab from a live one before anybody reuses it.
    """
    st = status(cfg)
    problems = [f"component {name}: {c['error']}" for name, c in st["components"].items() if "error" in c]
    problems += [f"component {name} not running" for name, c in st["components"].items()
                 if c.get("available", True) and "error" not in c and not c.get("running")]
    problems += [f"host {name} {'does not answer SSH' if h['running'] else 'not running'}"
                 for name, h in st["hosts"].items() if not (h["running"] and h["ssh"])]
    return problems


def restart(cfg, host: str, log=print) -> dict:
    with _locked(cfg):
        if not read_lab(cfg):
            raise LabError("no lab is running")
        out = edge.restart(cfg, host, log=log)
        log(f"{out['host']} restarted in {out['seconds']}s")
        return out


def _print_status(st: dict) -> None:
    lab = st["lab"] or {}
    print(f"lab: {lab.get('status', 'down')}  hosts={lab.get('hosts', 0)}")
    print(f"{'HOST':8} {'IP':14} {'NETNS':14} {'RUNNING':8} SSH")
    for name, h in st["hosts"].items():
        print(f"{name:8} {h['ip']:14} {h['netns']:14} {'yes' if h['running'] else 'no':8} "
              f"{'ok' if h['ssh'] else 'no'}")
    print("namespaces: " + ", ".join(f"{k}={'up' if v else 'absent'}" for k, v in st["network"]["namespaces"].items()))
    print("bridges:    " + ", ".join(f"{k}={'up' if v else 'absent'}" for k, v in st["network"]["bridges"].items()))
    for name, c in st["components"].items():
        if not c.get("available", True):
            state = "not available yet"
        elif "error" in c:
            state = "error " + c["error"]
        else:
            state = "running" if c.get("running") else "stopped"
        print(f"component {name:16} {state}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--hosts", type=int, default=None)
    p_up.add_argument("--skip", default="", help="comma-separated components not to start")
    p_up.add_argument("--profile", default=os.environ.get("HNLAB_PROFILE", "light"), choices=inventory.PROFILES,
                      help="the inventory's joins: real nodeadm and kubelet (real) or the stand-ins (light)")
    sub.add_parser("down")
    p_st = sub.add_parser("status")
    p_st.add_argument("--json", action="store_true")
    p_re = sub.add_parser("restart")
    p_re.add_argument("--host", required=True)
    args = parser.parse_args(argv)
    cfg = config_mod.load()
    if os.geteuid() != 0:
        print("labctl needs root (namespaces, bridges, mounts)", file=sys.stderr)
        return 1
    try:
        if args.cmd == "up":
            hosts = args.hosts if args.hosts is not None else cfg.default_hosts
            up(cfg, hosts, tuple(s for s in args.skip.split(",") if s), profile=args.profile)
        elif args.cmd == "down":
            down(cfg)
        elif args.cmd == "status":
            st = status(cfg)
            if args.json:
                print(json.dumps(st, indent=1, default=str))
            else:
                _print_status(st)
        elif args.cmd == "restart":
            restart(cfg, args.host)
    except (LabError, ValueError, KeyError, TimeoutError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"labctl {args.cmd}: {exc}", file=sys.stderr)
        if args.cmd == "up" and read_lab(cfg) and (read_lab(cfg) or {}).get("status") != "up":
            print("labctl up: the lab is half built; `labctl down` removes it", file=sys.stderr)
        return 2
    return 0
