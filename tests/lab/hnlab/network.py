"""The lab's networks (kernel objects only; the hosts are in edge.py).

    root namespace                          VPC network (bridge hnl-vpc, no
    hnl-edge bridge 10.200.0.1/24             address in the root namespace)
      |-- hnl-hNNN -- edgeNN eth0 .11..         |-- hnl-wk -- hnl-worker  10.100.0.10
      |-- hnl-mr   -- hnl-mirror  .2            |-- hnl-ek -- hnl-eksapi  10.100.0.20
      `-- hnl-gw-e -- vpngw eth0 .254 ... eth1 -- hnl-gw-v    (vpngw 10.100.0.1)

- The edge hosts' default gateway (10.200.0.1, root namespace) NATs to the
  machine's uplink for DNS/HTTP/HTTPS only (apt to Debian's archive), and
  REJECTs everything else, in particular anything for the VPC or the pod
  CIDR: only the VPN gateway (vpngw, ip_forward on) joins the two networks.
- The root namespace has no route to the VPC or the pod networks: they are
  `unreachable` routes there, so nothing on the machine leaks lab traffic to
  the real uplink.

Every object created is recorded in STATE/lab/network.json; stop() removes
exactly those, and leftovers() lists anything with the lab prefix that is
still there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
from pathlib import Path

from . import netns as ns
from .netns import run

COMMENT = "hnl-lab"


def _state_file(cfg) -> Path:
    return cfg.state_dir / "lab" / "network.json"


def _load(cfg) -> dict:
    try:
        return json.loads(_state_file(cfg).read_text())
    except (OSError, ValueError):
        return {"netns": [], "links": [], "iptables": [], "chains": [], "routes": [], "sysctl": {}, "ipsets": []}


def _save(cfg, st: dict) -> None:
    path = _state_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(st, indent=1))
    tmp.replace(path)


class _Recorder:
    """Records objects as they are created (saved after every change so an
    interrupted up() can still be torn down)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.st = _load(cfg)

    def add(self, kind: str, item) -> None:
        if item not in self.st.setdefault(kind, []):
            self.st[kind].append(item)
            _save(self.cfg, self.st)

    def sysctl(self, key: str, value: str) -> None:
        old = Path("/proc/sys/" + key.replace(".", "/")).read_text().strip()
        self.st["sysctl"].setdefault(key, old)
        _save(self.cfg, self.st)
        Path("/proc/sys/" + key.replace(".", "/")).write_text(value)

    def sysctl_min(self, key: str, value: int) -> None:
        """Raise KEY to at least VALUE (never lower it); restored by stop()."""
        cur = int(Path("/proc/sys/" + key.replace(".", "/")).read_text().split()[0])
        if cur < value:
            self.sysctl(key, str(value))


# --------------------------------------------------------------------------
# Machine tools


REQUIRED_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "iptables": "iptables",
    "ip": "iproute2",
    "ipset": "ipset",
    "dnsmasq": "dnsmasq-base",
    "unshare": "util-linux",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}


def ensure_tools() -> list[str]:
    """apt-get install what the lab needs on the machine. Returns installed packages."""
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if not shutil.which(tool)})
    if missing:
        run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
             "--no-install-recommends", *missing], timeout=900)
    return missing


def uplink() -> tuple[str, int, str]:
    """(device, mtu, resolver IP) of the machine's default route."""
    out = run(["ip", "-j", "route", "show", "default"]).stdout
    routes = json.loads(out or "[]")
    if not routes:
        raise RuntimeError("the machine has no default route: apt inside the hosts cannot work")
    dev = routes[0]["dev"]
    mtu = int(Path(f"/sys/class/net/{dev}/mtu").read_text())
    resolver = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                resolver = parts[1]
                break
    return dev, mtu, resolver


def lab_mtu() -> int:
    return min(1500, uplink()[1])


# --------------------------------------------------------------------------
# Building blocks


SYSCTL_MINIMUMS = {
    "fs.inotify.max_user_instances": 8192,
    "fs.inotify.max_user_watches": 1048576,
    "kernel.keys.maxkeys": 20000,
    "kernel.keys.maxbytes": 2000000,
}


# What a real kubelet sets at start, and fails without, when the kernel differs (k8s.io/kubernetes
# pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables; the values are k8s.io/component-helpers
# node/util/sysctl's). nspawn mounts /proc/sys read-only inside the hosts and these are not per namespace, so the lab
# sets them on the machine while a real kubelet runs (set_kubelet_sysctls), recorded like the others: restored by
# restore_kubelet_sysctls, and at the latest by stop().
KUBELET_SYSCTLS = {
    "vm.overcommit_memory": 1,
    "vm.panic_on_oom": 0,
    "kernel.panic": 10,
    "kernel.panic_on_oops": 1,
    "kernel.keys.root_maxkeys": 1000000,
    "kernel.keys.root_maxbytes": 25000000,
}


def set_kubelet_sysctls(cfg, hold: bool = False) -> None:
    """Set them on the machine; with HOLD (real kubelets for the rest of the lab's life, a real profile), until stop()
    alone: restore_kubelet_sysctls then leaves them."""
    rec = _Recorder(cfg)
    for key, value in KUBELET_SYSCTLS.items():
        if Path("/proc/sys/" + key.replace(".", "/")).read_text().strip() != str(value):
            rec.sysctl(key, str(value))
    if hold:
        st = _load(cfg)
        st["kubelet_sysctls_held"] = True
        _save(cfg, st)


def restore_kubelet_sysctls(cfg) -> None:
    """Put back the values set_kubelet_sysctls changed, and forget them (unless held until the lab stops)."""
    st = _load(cfg)
    if st.get("kubelet_sysctls_held"):
        return
    for key in KUBELET_SYSCTLS:
        old = st["sysctl"].pop(key, None)
        if old is not None:
            Path("/proc/sys/" + key.replace(".", "/")).write_text(old)
    _save(cfg, st)


def _link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def add_netns(cfg, rec: _Recorder, name: str) -> None:
    if not ns.netns_exists(name):
        run(["ip", "netns", "add", name])
    rec.add("netns", name)
    run(["ip", "link", "set", "lo", "up"], netns=name)


def add_bridge(cfg, rec: _Recorder, name: str, mtu: int, address: str | None = None) -> None:
    if not _link_exists(name):
        run(["ip", "link", "add", name, "mtu", str(mtu), "type", "bridge"])
    rec.add("links", name)
    if address:
        run(["ip", "addr", "replace", address, "dev", name])
    run(["ip", "link", "set", name, "up"])


def attach(cfg, rec: _Recorder, netns_name: str, root_if: str, bridge: str, inner_if: str,
           mtu: int, address: str | None = None, gateway: str | None = None) -> None:
    """A veth from BRIDGE (ROOT_IF) into NETNS_NAME (INNER_IF); address and
    default route inside when given (plain namespaces; nspawn hosts configure
    their own with systemd-networkd)."""
    if not _link_exists(root_if):
        run(["ip", "link", "add", root_if, "mtu", str(mtu), "type", "veth",
             "peer", "name", inner_if, "mtu", str(mtu), "netns", netns_name])
    rec.add("links", root_if)
    run(["ip", "link", "set", root_if, "master", bridge, "up"])
    run(["ip", "link", "set", inner_if, "up"], netns=netns_name)
    if address:
        run(["ip", "addr", "replace", address, "dev", inner_if], netns=netns_name)
    if gateway:
        run(["ip", "route", "replace", "default", "via", gateway], netns=netns_name)


def _ipt(rec: _Recorder, table: str, chain: str, *rule: str, insert: bool = False) -> None:
    spec = [chain, *rule, "-m", "comment", "--comment", COMMENT]
    exists = run(["iptables", "-w", "-t", table, "-C", *spec], check=False).returncode == 0
    if not exists:
        run(["iptables", "-w", "-t", table, "-I" if insert else "-A", *spec])
    rec.add("iptables", [table, *spec])


def _chain(rec: _Recorder, table: str, chain: str) -> None:
    if run(["iptables", "-w", "-t", table, "-n", "-L", chain], check=False).returncode != 0:
        run(["iptables", "-w", "-t", table, "-N", chain])
    rec.add("chains", [table, chain])


def archive_set(cfg) -> str:
    """The ipset of the package archive's addresses (filled by the lab's DNS, hnlab.dns)."""
    return f"{cfg.prefix}-archive"


def egress_chain(cfg) -> str:
    """The chain that refuses whatever tries to leave the lab other than toward the package archive."""
    return f"{cfg.prefix}-egress"


def egress_refused(cfg) -> int:
    """Packets refused so far on their way out of the lab (the counter of egress_chain's one rule)."""
    out = run(["iptables", "-w", "-t", "filter", "-n", "-v", "-x", "-L", egress_chain(cfg)]).stdout.splitlines()
    rules = [line.split() for line in out[2:] if line.strip()]
    return sum(int(rule[0]) for rule in rules)


def _ipset(rec: _Recorder, name: str) -> None:
    run(["ipset", "-exist", "create", name, "hash:ip"])
    rec.add("ipsets", name)


def _unreachable_route(rec: _Recorder, cidr: str) -> None:
    run(["ip", "route", "replace", "unreachable", cidr])
    rec.add("routes", ["unreachable", cidr])


# --------------------------------------------------------------------------
# Component API


def host_link(cfg, index: int) -> str:
    """Root-side veth name of edge host INDEX (<= 15 chars)."""
    return f"{cfg.prefix}-h{index:03d}"


VPNGW_EDGE_LINK = "gw-e"
VPNGW_VPC_LINK = "gw-v"


def start(cfg) -> dict:
    """Bridges, NAT, filter, the VPC network, and the plain namespaces
    (cloud worker, EKS endpoint, mirror) plus the VPN gateway's namespace
    (its container is booted by edge.py)."""
    rec = _Recorder(cfg)
    dev, mtu, resolver = uplink()
    mtu = min(1500, mtu)
    p = cfg.prefix
    edge_len = ipaddress.ip_network(cfg.edge_cidr).prefixlen
    vpc_len = ipaddress.ip_network(cfg.vpc_subnet_cidr).prefixlen

    # Many systemd instances share root's per-user limits (no user
    # namespaces): the default 128 inotify instances stall boots past ~20 hosts.
    for key, value in SYSCTL_MINIMUMS.items():
        rec.sysctl_min(key, value)

    # Root namespace: never route lab-internal ranges out of the machine.
    for cidr in (cfg.vpc_cidr, cfg.pod_cidr):
        _unreachable_route(rec, cidr)

    add_bridge(cfg, rec, cfg.bridge_edge, mtu, f"{cfg.edge_gateway_ip}/{edge_len}")
    add_bridge(cfg, rec, cfg.bridge_vpc, mtu)  # no address: root has no leg in the VPC

    # Forwarding out of the edge LAN: DNS to the machine's resolver and
    # HTTP(S) (Debian's archive), nothing else; never to the VPC/pods.
    rec.sysctl("net.ipv4.ip_forward", "1")
    chain = f"{p}-fwd"
    _chain(rec, "filter", chain)
    br = cfg.bridge_edge
    _ipt(rec, "filter", "FORWARD", "-i", br, "-j", chain, insert=True)
    _ipt(rec, "filter", "FORWARD", "-o", br, "-j", chain, insert=True)
    _ipt(rec, "filter", "FORWARD", "-i", cfg.bridge_vpc, "-o", cfg.bridge_vpc, "-j", "ACCEPT", insert=True)
    _ipt(rec, "filter", chain, "-i", br, "-o", br, "-j", "ACCEPT")
    _ipt(rec, "filter", chain, "-o", br, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
    for cidr in (cfg.vpc_cidr, cfg.pod_cidr):
        _ipt(rec, "filter", chain, "-d", cidr, "-j", "REJECT", "--reject-with", "icmp-net-unreachable")
    # Out of the lab: HTTP(S) to the package archive's addresses only, as the lab's DNS (hnlab.dns) resolved them for
    # the hosts (the ipset it fills). The hosts ask no other resolver (theirs is the lab's DNS on the gateway), so
    # DNS never leaves from them either. Whatever else tries to leave is refused in its own chain, whose counter
    # (egress_refused) a test reads around a whole run.
    _ipset(rec, archive_set(cfg))
    _ipt(rec, "filter", chain, "-i", br, "-o", dev, "-p", "tcp", "-m", "multiport", "--dports", "80,443",
         "-m", "set", "--match-set", archive_set(cfg), "dst", "-j", "ACCEPT")
    _chain(rec, "filter", egress_chain(cfg))
    _ipt(rec, "filter", egress_chain(cfg), "-j", "REJECT", "--reject-with", "icmp-admin-prohibited")
    _ipt(rec, "filter", chain, "-i", br, "-o", dev, "-j", egress_chain(cfg))
    _ipt(rec, "filter", chain, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited")
    _ipt(rec, "nat", "POSTROUTING", "-s", cfg.edge_cidr, "-o", dev, "-j", "MASQUERADE")

    # VPC side: cloud worker and EKS endpoint namespaces.
    for name, link, ip in ((cfg.netns_worker, f"{p}-wk", cfg.cloud_worker_ip),
                           (cfg.netns_eksapi, f"{p}-ek", cfg.eks_endpoint_ip)):
        add_netns(cfg, rec, name)
        attach(cfg, rec, name, link, cfg.bridge_vpc, "eth0", mtu, f"{ip}/{vpc_len}", cfg.vpn_gateway_vpc_ip)
    # The AWS API host names' address and the ECR registries' (hnlab.awstls), beside the cluster endpoint's.
    run(["ip", "addr", "replace", f"{cfg.aws_api_ip}/{vpc_len}", "dev", "eth0"], netns=cfg.netns_eksapi)
    run(["ip", "addr", "replace", f"{cfg.registry_ip}/{vpc_len}", "dev", "eth0"], netns=cfg.netns_eksapi)

    # Site mirror on the edge LAN.
    add_netns(cfg, rec, cfg.netns_mirror)
    attach(cfg, rec, cfg.netns_mirror, f"{p}-mr", cfg.bridge_edge, "eth0", mtu,
           f"{cfg.mirror_ip}/{edge_len}", cfg.edge_gateway_ip)

    # VPN gateway namespace: two legs, forwarding on; addresses and routes
    # are configured by systemd-networkd inside its container.
    add_netns(cfg, rec, cfg.netns_vpngw)
    attach(cfg, rec, cfg.netns_vpngw, f"{p}-{VPNGW_EDGE_LINK}", cfg.bridge_edge, "eth0", mtu)
    attach(cfg, rec, cfg.netns_vpngw, f"{p}-{VPNGW_VPC_LINK}", cfg.bridge_vpc, "eth1", mtu)
    run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], netns=cfg.netns_vpngw)
    return {"mtu": mtu, "uplink": dev, "resolver": resolver}


def add_host(cfg, index: int, mtu: int | None = None) -> str:
    """Namespace and veth (eth0 inside) of edge host INDEX. Returns the netns name."""
    rec = _Recorder(cfg)
    name = cfg.host_netns(index)
    add_netns(cfg, rec, name)
    attach(cfg, rec, name, host_link(cfg, index), cfg.bridge_edge, "eth0", mtu or lab_mtu())
    return name


def add_hosts(cfg, indexes, mtu: int) -> None:
    """Namespaces and veths for many hosts with two `ip -batch` calls."""
    rec = _Recorder(cfg)
    todo = [i for i in indexes if not ns.netns_exists(cfg.host_netns(i))]
    if todo:
        run(["ip", "-batch", "-"], input="".join(f"netns add {cfg.host_netns(i)}\n" for i in todo))
    lines, inner = [], []
    for i in indexes:
        nsn, link = cfg.host_netns(i), host_link(cfg, i)
        rec.st["netns"].append(nsn) if nsn not in rec.st["netns"] else None
        rec.st["links"].append(link) if link not in rec.st["links"] else None
        if not _link_exists(link):
            lines.append(f"link add {link} mtu {mtu} type veth peer name eth0 mtu {mtu} netns {nsn}\n")
        lines.append(f"link set {link} master {cfg.bridge_edge} up\n")
        inner.append(nsn)
    _save(cfg, rec.st)
    run(["ip", "-batch", "-"], input="".join(lines))
    for nsn in inner:
        run(["ip", "-n", nsn, "-batch", "-"], input="link set lo up\nlink set eth0 up\n")


def stop(cfg) -> list[str]:
    """Remove every recorded object (reverse order), tolerant of missing ones.
    Returns errors (empty on success)."""
    st = _load(cfg)
    errors: list[str] = []

    def attempt(argv):
        r = run(argv, check=False)
        if r.returncode != 0 and "No such" not in r.stderr and "Cannot find" not in r.stderr \
                and "does not exist" not in r.stderr and "Bad rule" not in r.stderr \
                and "Cannot open network namespace" not in r.stderr:
            errors.append(f"{' '.join(argv)}: {r.stderr.strip()}")

    for table, *spec in reversed(st["iptables"]):
        attempt(["iptables", "-w", "-t", table, "-D", *spec])
    for table, chain in reversed(st["chains"]):
        attempt(["iptables", "-w", "-t", table, "-F", chain])
        attempt(["iptables", "-w", "-t", table, "-X", chain])
    batch = [f"link del {link}\n" for link in reversed(st["links"]) if _link_exists(link)]
    if batch:
        r = run(["ip", "-force", "-batch", "-"], input="".join(batch), check=False)
        if r.returncode != 0:
            errors.append(f"ip link del: {r.stderr.strip()[:300]}")
    names = [n for n in reversed(st["netns"]) if ns.netns_exists(n)]
    if names:
        r = run(["ip", "-force", "-batch", "-"], input="".join(f"netns del {n}\n" for n in names), check=False)
        if r.returncode != 0:
            errors.append(f"ip netns del: {r.stderr.strip()[:300]}")
    for kind, cidr in reversed(st["routes"]):
        attempt(["ip", "route", "del", kind, cidr])
    for name in reversed(st.get("ipsets", [])):
        attempt(["ipset", "destroy", name])
    for key, old in st["sysctl"].items():
        with contextlib.suppress(OSError):
            Path("/proc/sys/" + key.replace(".", "/")).write_text(old)
    if not errors:
        with contextlib.suppress(FileNotFoundError):
            _state_file(cfg).unlink()
    return errors


def leftovers(cfg) -> list[str]:
    """Anything with the lab prefix still present: netns, links, iptables rules, routes."""
    p = cfg.prefix
    found = [f"netns {n}" for n in ns.list_netns(p)]
    found += [f"link {n.name}" for n in Path("/sys/class/net").iterdir() if n.name.startswith(p)]
    if shutil.which("iptables-save"):
        for line in run(["iptables-save"], check=False).stdout.splitlines():
            if p in line or COMMENT in line:
                found.append(f"iptables {line}")
    if shutil.which("ipset"):
        found += [f"ipset {name}" for name in run(["ipset", "list", "-n"], check=False).stdout.split()
                  if name.startswith(p + "-")]
    routes = run(["ip", "route", "show"], check=False).stdout
    for cidr in (cfg.vpc_cidr, cfg.pod_cidr, cfg.edge_cidr):
        for line in routes.splitlines():
            if line.split()[0:2] == ["unreachable", cidr] or line.startswith(cidr + " "):
                found.append(f"route {line}")
    return found


def status(cfg) -> dict:
    st = _load(cfg)
    return {
        "bridges": {b: _link_exists(b) for b in (cfg.bridge_edge, cfg.bridge_vpc)},
        "namespaces": {n: ns.netns_exists(n) for n in
                       (cfg.netns_vpngw, cfg.netns_worker, cfg.netns_eksapi, cfg.netns_mirror)},
        "recorded": {k: len(v) for k, v in st.items() if isinstance(v, (list, dict))},
    }
