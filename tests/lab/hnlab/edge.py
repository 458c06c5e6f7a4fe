"""Edge hosts and the VPN gateway host: Debian bookworm booted with
systemd-nspawn inside the lab's network namespaces, reached over SSH.

- Root filesystem: one debootstrap tree (cfg.rootfs_cache, built once,
  atomically) shared read-only as the lower layer of one overlayfs per host
  (upper/work under STATE/hosts/NAME), so a host's changes survive a reboot
  and vanish with ``down``.
- Per-host layer (written before first boot): hostname, machine-id, its own
  SSH host key, the lab's SSH public key for root, /etc/resolv.conf naming
  the lab's DNS on the gateway (hnlab.dns: AWS names answered inside the lab,
  the package archive's asked of the machine's resolver, nothing else), apt
  sources, and the network stack.
- Network stack: systemd-networkd (enabled per host) with
  /etc/systemd/network/10-eth0.network: static address, default route via
  cfg.edge_gateway_ip, no route to the VPC (host preparation adds "VPC via
  the VPN server IP"). The VPN gateway host has eth0 on the edge LAN and eth1
  on the VPC network, IPForward=yes, and no route for any pod CIDR until a
  role installs one.
- apt-daily timers are masked so that nothing holds the apt lock when host
  preparation runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from . import netns as ns
from . import network
from .netns import run

DEBIAN_MIRROR = "http://deb.debian.org/debian"
INCLUDE = ("systemd,systemd-sysv,dbus,openssh-server,python3,python3-apt,python3-yaml,"
           "iproute2,iputils-ping,sudo,ca-certificates,openssl,curl,procps,kmod,netbase")
ROOTFS_MARKER = ".hnlab-rootfs"
VPNGW = "vpngw"
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
                "apt-daily-upgrade.service", "e2scrub_all.timer", "e2scrub_reap.service",
                "fstrim.timer", "dpkg-db-backup.timer", "console-getty.service",
                "getty@tty1.service", "systemd-pstore.service",
                "systemd-remount-fs.service")
SSH_OPTS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5")


# --------------------------------------------------------------------------
# Root filesystem cache


def ensure_rootfs(cfg, log=print) -> float:
    """debootstrap once into cfg.rootfs_cache (build in a temp dir, rename).
    Returns the seconds spent (0 when the cache was reused)."""
    dest = Path(cfg.rootfs_cache)
    if (dest / ROOTFS_MARKER).exists():
        return 0.0
    if dest.exists():
        raise RuntimeError(f"{dest} exists without {ROOTFS_MARKER}: remove it to rebuild")
    network.ensure_tools()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"debootstrap bookworm into {tmp} (about 2 minutes, once)")
    t0 = time.monotonic()
    try:
        run(["debootstrap", "--variant=minbase", f"--include={INCLUDE}", "bookworm", str(tmp),
             DEBIAN_MIRROR], timeout=1800)
        run(["chroot", str(tmp), "apt-get", "clean"], check=False)
        (tmp / ROOTFS_MARKER).write_text(json.dumps({"include": INCLUDE, "built": time.time()}))
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return time.monotonic() - t0


# --------------------------------------------------------------------------
# Host records


def _hosts_file(cfg) -> Path:
    return cfg.state_dir / "lab" / "hosts.json"


def host_specs(cfg, count: int) -> list[dict]:
    specs = [{"name": cfg.host_name(i), "index": i, "netns": cfg.host_netns(i),
              "ip": cfg.host_ip(i), "kind": "edge"} for i in range(1, count + 1)]
    specs.append({"name": VPNGW, "index": 0, "netns": cfg.netns_vpngw,
                  "ip": cfg.vpn_gateway_edge_ip, "kind": "vpngw"})
    return specs


def load_hosts(cfg) -> list[dict]:
    try:
        return json.loads(_hosts_file(cfg).read_text())
    except (OSError, ValueError):
        return []


def find_host(cfg, name: str) -> dict:
    for h in load_hosts(cfg):
        if h["name"] == name or h["ip"] == name:
            return h
    raise KeyError(f"no lab host named {name!r} (known: {[h['name'] for h in load_hosts(cfg)]})")


def _dirs(cfg, name: str) -> dict:
    base = cfg.state_dir / "hosts" / name
    return {"base": base, "upper": base / "upper", "work": base / "work", "root": base / "root"}


def host_root(cfg, name: str) -> Path:
    """The root directory (overlay mount) of lab host NAME, as the host sees /."""
    return _dirs(cfg, name)["root"]


def _pidfile(cfg, name: str) -> Path:
    return cfg.state_dir / "pids" / f"host-{name}.pid"


def _logfile(cfg, name: str) -> Path:
    return cfg.state_dir / "logs" / f"host-{name}.log"


# --------------------------------------------------------------------------
# Overlay and per-host files


def _is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def mount_overlay(cfg, name: str) -> Path:
    d = _dirs(cfg, name)
    for key in ("upper", "work", "root"):
        d[key].mkdir(parents=True, exist_ok=True)
    if not _is_mounted(d["root"]):
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={cfg.rootfs_cache},upperdir={d['upper']},workdir={d['work']}", str(d["root"])])
    return d["root"]


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def install_files(cfg, files: dict, kinds: tuple = ("edge",)) -> int:
    """Write {host path: (content, mode)} into every running host of the given kinds.

    The files land in the host's overlay (its upper layer), so they survive a
    reboot as any change made inside the host would.
    """
    count = 0
    for spec in load_hosts(cfg):
        if spec["kind"] not in kinds:
            continue
        root = _dirs(cfg, spec["name"])["root"]
        for rel, (text, mode) in files.items():
            _write(root, rel, text, mode)
        count += 1
    return count


def _symlink(root: Path, rel: str, target: str) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def _network_files(cfg, spec: dict, mtu: int) -> dict[str, str]:
    edge_len = cfg.edge_cidr.split("/")[1]
    common = "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    if spec["kind"] == "vpngw":
        vpc_len = cfg.vpc_subnet_cidr.split("/")[1]
        return {
            "10-eth0.network": (f"[Match]\nName=eth0\n\n[Link]\nMTUBytes={mtu}\n\n[Network]\n"
                                f"Address={spec['ip']}/{edge_len}\nGateway={cfg.edge_gateway_ip}\n"
                                f"IPForward=ipv4\n{common}"),
            "20-eth1.network": (f"[Match]\nName=eth1\n\n[Link]\nMTUBytes={mtu}\n\n[Network]\n"
                                f"Address={cfg.vpn_gateway_vpc_ip}/{vpc_len}\nIPForward=ipv4\n{common}"),
        }
    return {"10-eth0.network": (f"[Match]\nName=eth0\n\n[Link]\nMTUBytes={mtu}\n\n[Network]\n"
                                f"Address={spec['ip']}/{edge_len}\nGateway={cfg.edge_gateway_ip}\n{common}")}


def prepare_host(cfg, spec: dict, pubkey: str, mtu: int) -> None:
    """Mount the host's overlay and write its per-host files (first time only)."""
    root = mount_overlay(cfg, spec["name"])
    marker = root / "etc" / "hnlab-host.json"
    if marker.exists():
        return
    name = spec["name"]
    _write(root, "/etc/hostname", name + "\n")
    _write(root, "/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n"
                               f"::1\tlocalhost ip6-localhost ip6-loopback\n")
    _write(root, "/etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    _write(root, "/root/.ssh/authorized_keys", pubkey.strip() + "\n", 0o600)
    _write(root, "/etc/resolv.conf", f"# the lab's DNS (hnlab.dns), written by hnlab\nnameserver {cfg.edge_gateway_ip}\n")
    _write(root, "/etc/apt/sources.list",
           f"deb {DEBIAN_MIRROR} bookworm main\ndeb {DEBIAN_MIRROR} bookworm-updates main\n"
           "deb http://deb.debian.org/debian-security bookworm-security main\n")
    for key in root.glob("etc/ssh/ssh_host_*"):
        key.unlink()
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{name}",
         "-f", str(root / "etc/ssh/ssh_host_ed25519_key")])
    _write(root, "/etc/ssh/sshd_config.d/10-hnlab.conf",
           "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nUseDNS no\n")
    for fname, text in _network_files(cfg, spec, mtu).items():
        _write(root, f"/etc/systemd/network/{fname}", text)
    lib = "/lib/systemd/system"
    wants = "/etc/systemd/system"
    _symlink(root, f"{wants}/multi-user.target.wants/systemd-networkd.service", f"{lib}/systemd-networkd.service")
    _symlink(root, f"{wants}/sockets.target.wants/systemd-networkd.socket", f"{lib}/systemd-networkd.socket")
    _symlink(root, f"{wants}/multi-user.target.wants/ssh.service", f"{lib}/ssh.service")
    for unit in MASKED_UNITS:
        _symlink(root, f"{wants}/{unit}", "/dev/null")
    if spec["kind"] == "vpngw":
        _write(root, "/etc/sysctl.d/90-hnlab-vpngw.conf", "net.ipv4.ip_forward = 1\n")
    marker.write_text(json.dumps(spec))


# --------------------------------------------------------------------------
# Boot / stop


CGROUP_ROOTS = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


def _cgroup_dirs(cfg, name: str | None = None) -> list[Path]:
    """Per-host cgroups (name=systemd and unified hierarchies). nspawn puts
    its supervisor and payload under the caller's cgroup: without one cgroup
    per host, all containers share /payload and their systemds race on the
    same unit cgroups (units fail at random with 'Failed to attach to cgroup')."""
    bases = [b for b in CGROUP_ROOTS[:2] if (b / "cgroup.procs").exists()]
    if not bases and (CGROUP_ROOTS[2] / "cgroup.procs").exists():  # pure cgroup v2
        bases = [CGROUP_ROOTS[2]]
    tops = [b / f"{cfg.prefix}-lab" for b in bases]
    return [t / name for t in tops] if name else tops


def _rm_cgroup_tree(path: Path) -> list[str]:
    """rmdir PATH depth-first (cgroup dirs hold only virtual files)."""
    errors = []
    if not path.is_dir():
        return errors
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError as exc:
            errors.append(f"cgroup {sub}: {exc.strerror}")
    try:
        path.rmdir()
    except OSError as exc:
        errors.append(f"cgroup {path}: {exc.strerror}")
    return errors


def boot(cfg, spec: dict) -> int:
    """Start systemd-nspawn for SPEC on its overlay, in its own cgroup; returns the PID."""
    name = spec["name"]
    root = _dirs(cfg, name)["root"]
    log = _logfile(cfg, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
    cgroups = _cgroup_dirs(cfg, name)
    for cg in cgroups:
        _rm_cgroup_tree(cg)  # leftovers of a previous boot of this host
        cg.mkdir(parents=True, exist_ok=True)
    join = "".join(f'echo $$ > {cg}/cgroup.procs && ' for cg in cgroups)
    argv = ["unshare", "-m", "--", "sh", "-c",
            join + 'mount -t tmpfs tmpfs /run/systemd/nspawn && exec "$@"', "sh",
            "systemd-nspawn", "-D", str(root), "-b", "-M", name, "--register=no", "--keep-unit",
            "--capability=CAP_NET_ADMIN", f"--network-namespace-path={ns.netns_path(spec['netns'])}",
            # The host's own /etc/resolv.conf (the lab's DNS), not a copy of the machine's, which nspawn's
            # default (auto) would put in place at every boot.
            "--resolv-conf=off", "--console=passive"]
    with open(log, "ab") as out:
        out.write(f"\n=== boot {time.strftime('%F %T')} ===\n".encode())
        out.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    ns.write_pidfile(_pidfile(cfg, name), proc.pid, host=name)
    return proc.pid


def ssh_argv(cfg, ip: str, *command: str) -> list[str]:
    return ["ssh", "-i", str(cfg.ssh_key), *SSH_OPTS, f"root@{ip}", *command]


def ssh(cfg, ip: str, *command: str, timeout: float = 60, check: bool = True):
    return run(ssh_argv(cfg, ip, *command), timeout=timeout, check=check)


def wait_ssh(cfg, spec: dict, timeout: float = 90) -> float:
    """Wait (bounded) until SSH on SPEC answers a command; returns seconds."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    pidfile = _pidfile(cfg, spec["name"])
    while time.monotonic() < deadline:
        if not ns.pidfile_alive(pidfile):
            raise RuntimeError(f"{spec['name']}: systemd-nspawn exited; see {_logfile(cfg, spec['name'])}")
        if ns.wait_tcp(spec["ip"], 22, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
            try:
                r = ssh(cfg, spec["ip"], "true", timeout=15, check=False)
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0:
                return time.monotonic() - t0
        time.sleep(0.2)
    raise TimeoutError(f"{spec['name']} ({spec['ip']}): no SSH within {timeout:.0f}s; see {_logfile(cfg, spec['name'])}")


def ssh_public_key(cfg) -> str:
    return Path(str(cfg.ssh_key) + ".pub").read_text()


def start(cfg, count: int | None = None, log=print) -> dict:
    """Boot COUNT edge hosts plus the VPN gateway host (networks must be up)."""
    count = cfg.default_hosts if count is None else count
    if not 1 <= count <= cfg.max_hosts:
        raise ValueError(f"hosts must be 1..{cfg.max_hosts}, got {count}")
    specs = host_specs(cfg, count)
    _hosts_file(cfg).parent.mkdir(parents=True, exist_ok=True)
    _hosts_file(cfg).write_text(json.dumps(specs, indent=1))
    mtu = network.lab_mtu()
    t0 = time.monotonic()
    network.add_hosts(cfg, range(1, count + 1), mtu)
    pubkey = ssh_public_key(cfg)
    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda s: prepare_host(cfg, s, pubkey, mtu), specs))
    t_prep = time.monotonic() - t0
    for spec in specs:
        if not ns.pidfile_alive(_pidfile(cfg, spec["name"])):
            boot(cfg, spec)
    with cf.ThreadPoolExecutor(max_workers=16) as pool:
        waits = list(pool.map(lambda s: wait_ssh(cfg, s), specs))
    return {"hosts": count, "prepare_s": round(t_prep, 1),
            "ssh_ready_s": round(time.monotonic() - t0, 1), "slowest_ssh_s": round(max(waits), 1)}


def _stop_specs(cfg, specs: list[dict], timeout: float = 20) -> list[str]:
    left = ns.terminate_pidfiles([_pidfile(cfg, s["name"]) for s in specs], timeout=timeout)
    return [f"process {p}" for p in left]


def stop(cfg) -> list[str]:
    """Stop every host (SIGTERM -> orderly poweroff, then SIGKILL), unmount and
    delete the overlays. Returns errors."""
    specs = load_hosts(cfg)
    names = {s["name"] for s in specs}
    hosts_dir = cfg.state_dir / "hosts"
    if hosts_dir.is_dir():
        names |= {p.name for p in hosts_dir.iterdir()}
    pid_dir = cfg.state_dir / "pids"
    pidfiles = sorted(pid_dir.glob("host-*.pid")) if pid_dir.is_dir() else []
    errors = [f"process {p}" for p in ns.terminate_pidfiles(pidfiles, timeout=20)]
    for name in sorted(names):
        root = _dirs(cfg, name)["root"]
        if _is_mounted(root):
            r = run(["umount", str(root)], check=False)
            if r.returncode != 0:
                errors.append(f"umount {root}: {r.stderr.strip()}")
    for top in _cgroup_dirs(cfg):
        errors += _rm_cgroup_tree(top)
    if not errors:
        shutil.rmtree(hosts_dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            _hosts_file(cfg).unlink()
    return errors


def restart(cfg, name: str, timeout: float = 60, log=print) -> dict:
    """Reboot one host for real: `systemctl reboot` inside (nspawn exits when
    the container reboots), then boot again on the same overlay."""
    spec = find_host(cfg, name)
    pidfile = _pidfile(cfg, spec["name"])
    info = ns.read_pidfile(pidfile)
    t0 = time.monotonic()
    if ns.pid_alive(info):
        with contextlib.suppress(subprocess.TimeoutExpired):
            ssh(cfg, spec["ip"], "systemctl", "reboot", timeout=10, check=False)
        deadline = time.monotonic() + 30
        while ns.pid_alive(info) and time.monotonic() < deadline:
            time.sleep(0.1)
        if ns.pid_alive(info):
            log(f"{spec['name']}: did not go down after systemctl reboot; terminating nspawn")
            ns.terminate_pidfiles([pidfile], timeout=15)
    mount_overlay(cfg, spec["name"])
    boot(cfg, spec)
    wait_ssh(cfg, spec, timeout=timeout)
    return {"host": spec["name"], "seconds": round(time.monotonic() - t0, 1)}


def status(cfg) -> dict:
    specs = load_hosts(cfg)

    def one(spec):
        alive = ns.pidfile_alive(_pidfile(cfg, spec["name"]))
        ssh_ok = False
        if alive and ns.wait_tcp(spec["ip"], 22, timeout=1):
            with contextlib.suppress(subprocess.TimeoutExpired):
                ssh_ok = ssh(cfg, spec["ip"], "true", timeout=10, check=False).returncode == 0
        return spec["name"], {"ip": spec["ip"], "netns": spec["netns"], "running": alive, "ssh": ssh_ok}

    with cf.ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(one, specs))


def leftovers(cfg) -> list[str]:
    found = [f"cgroup {top}" for top in _cgroup_dirs(cfg) if top.exists()]
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mnt = line.split()[4]
            if mnt.startswith(str(cfg.state_dir)) or mnt.startswith(str(cfg.rootfs_cache)):
                found.append(f"mount {mnt}")
    marker = str(cfg.state_dir / "hosts")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "systemd-nspawn" in cmd and marker in cmd and ns.proc_start_time(int(proc.name)) is not None:
            found.append(f"process {proc.name}: {cmd[:120]}")
    return found
