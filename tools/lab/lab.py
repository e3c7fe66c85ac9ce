"""The FRR lab in network namespaces: build, inspect and tear down (root only).

Every namespace is named `<prefix>-<node>`; every file (configs, sockets, pid files, logs) lives under
`root/<node>/`. `down` signals only PIDs read from those pid files, then deletes only our namespaces.

Example:
    lab = Lab(Path("/run/netops-lab"))
    lab.up()                 # namespaces, veths, FRR daemons, dnsmasq
    lab.wait_converged()     # every router has its BGP sessions and all LANs (about 11 s)
    lab.vtysh("r1", "show bgp summary json")
    lab.down()
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import LabError
from tools.lab.proc import alive, pid_of, run, stop_pids
from tools.lab.sshd import start_sshd
from tools.lab.topology import DNS_ADDRESS, DNS_RECORDS, LINKS, ROUTERS, STUBS, Router, render_config

__all__ = ["DAEMONS", "Lab", "LabStatus", "RouterStatus"]

DAEMONS = ("zebra", "ospfd", "bgpd", "staticd")
FRR_BIN = Path("/usr/lib/frr")


@dataclass(frozen=True, slots=True)
class RouterStatus:
    """One router: which daemons run, how many BGP sessions are Established, how many OSPF neighbors are Full."""

    name: str
    daemons: dict[str, bool]
    bgp_established: int
    ospf_full: int


@dataclass(frozen=True, slots=True)
class LabStatus:
    """The whole lab."""

    up: bool
    routers: list[RouterStatus] = field(default_factory=list)
    dns_running: bool = False
    faults: list[str] = field(default_factory=list)
    ssh_running: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "up": self.up,
            "routers": [
                {"name": r.name, "daemons": r.daemons, "bgp_established": r.bgp_established, "ospf_full": r.ospf_full}
                for r in self.routers
            ],
            "dns_running": self.dns_running,
            "ssh_running": self.ssh_running,
            "faults": self.faults,
        }


class Lab:
    """Three FRR routers, two hosts and a DNS server, each in its own network namespace."""

    def __init__(self, root: Path, prefix: str = "nl", ssh_port: int = 2222) -> None:
        self.root = root
        self.prefix = prefix
        self.ssh_port = ssh_port

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def run_dir(self, router: str) -> Path:
        """The directory holding the router's VTY sockets (pass it to `vtysh --vty_socket`)."""
        return self.root / router / "run"

    @property
    def nodes(self) -> list[str]:
        return [r.name for r in ROUTERS] + [s.node for s in STUBS]

    def up(self) -> None:
        """Build the lab from scratch (tearing down a previous one with the same root and prefix)."""
        require_root()
        self.down()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for node in self.nodes:
            run(["ip", "netns", "add", self.ns(node)])
            self._ip(node, "link", "set", "lo", "up")
        self._wire()
        for router in ROUTERS:
            self._start_frr(router)
        self.start_dns()
        start_sshd(self.root, self.ssh_port)

    def down(self) -> None:
        """Stop our daemons (by pid file only), delete our namespaces and files. Idempotent."""
        require_root()
        if self.root.is_dir():
            stop_pids([*sorted(self.root.glob("*/run/*.pid")), self.dns_pid_file, self.root / "ssh" / "sshd.pid"])
        existing = set(run(["ip", "netns", "list"]).split())
        for node in self.nodes:
            if self.ns(node) in existing:
                run(["ip", "netns", "del", self.ns(node)])
        shutil.rmtree(self.root, ignore_errors=True)

    def _ip(self, node: str, *args: str) -> None:
        run(["ip", "-n", self.ns(node), *args])

    def _wire(self) -> None:
        for link in LINKS:
            (a, a_if, a_addr, _), (b, b_if, b_addr, _) = link.ends()
            self._veth(a, a_if, a_addr, b, b_if, b_addr)
        for stub in STUBS:
            r_if, n_if = f"{stub.router}-{stub.node}", f"{stub.node}-{stub.router}"
            self._veth(stub.router, r_if, stub.router_addr, stub.node, n_if, stub.node_addr)
            self._ip(stub.node, "route", "add", "default", "via", stub.router_addr.split("/")[0])
        for router in ROUTERS:
            self._ip(router.name, "addr", "add", f"{router.loopback}/32", "dev", "lo")
            # forward; answer every traceroute probe (the default ICMP rate limit starves back-to-back traceroutes)
            sysctls = ["net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0"]
            run(["ip", "netns", "exec", self.ns(router.name), "sysctl", "-qw", *sysctls])

    def _veth(self, a: str, a_if: str, a_addr: str, b: str, b_if: str, b_addr: str) -> None:
        run(["ip", "link", "add", a_if, "netns", self.ns(a), "type", "veth", "peer", "name", b_if, "netns", self.ns(b)])
        for node, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            self._ip(node, "addr", "add", addr, "dev", ifname)
            self._ip(node, "link", "set", ifname, "up")

    def _start_frr(self, router: Router) -> None:
        base = self.root / router.name
        for sub in ("etc", "run", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        conf = base / "etc" / "frr.conf"
        conf.write_text(render_config(router))
        for path in (base, base / "etc", base / "run", base / "log", conf):
            shutil.chown(path, "frr", "frr")
        rd = self.run_dir(router.name)
        for daemon in DAEMONS:
            argv = [str(FRR_BIN / daemon), "-d", "-P", "0", "-f", str(conf), "-i", str(rd / f"{daemon}.pid")]
            argv += ["-z", str(rd / "zserv.api"), "--vty_socket", str(rd)]
            argv += ["--log", f"file:{base / 'log' / daemon}.log"]
            run(["ip", "netns", "exec", self.ns(router.name), *argv])

    @property
    def dns_pid_file(self) -> Path:
        return self.root / "dns" / "dnsmasq.pid"

    def start_dns(self, overrides: Mapping[str, str] | None = None) -> None:
        """Start dnsmasq in the `dns` namespace, answering for `lab.test` (no upstream, no host files);
        `overrides` replace some records (a fault: a server answering a wrong address)."""
        base = self.root / "dns"
        base.mkdir(parents=True, exist_ok=True)
        records = {**DNS_RECORDS, **(overrides or {})}
        argv = ["dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces"]
        argv += [f"--listen-address={DNS_ADDRESS}", f"--pid-file={self.dns_pid_file}", "--user=root"]
        argv += [f"--log-facility={base / 'dnsmasq.log'}"]
        argv += [f"--host-record={name},{addr}" for name, addr in sorted(records.items())]
        run(["ip", "netns", "exec", self.ns("dns"), *argv])

    def stop_dns(self) -> None:
        stop_pids([self.dns_pid_file])

    def dns_args(self) -> list[str]:
        """The running dnsmasq's command line (empty when it is not running)."""
        pid = pid_of(self.dns_pid_file)
        if not alive(pid):
            return []
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            return []

    def vtysh(self, router: str, *commands: str) -> str:
        """Lab administration (faults, status): vtysh with the given lines. Tools never call this."""
        argv = ["vtysh", "--vty_socket", str(self.run_dir(router))]
        for command in commands:
            argv += ["-c", command]
        return run(argv)

    def exists(self) -> bool:
        return self.ns(ROUTERS[0].name) in run(["ip", "netns", "list"]).split()

    def status(self, faults: list[str] | None = None) -> LabStatus:
        """What runs now; `up` is true when every daemon and dnsmasq are alive."""
        require_root()
        if not self.exists():
            return LabStatus(up=False)
        routers = [self._router_status(r.name) for r in ROUTERS]
        dns = alive(pid_of(self.dns_pid_file))
        ssh = alive(pid_of(self.root / "ssh" / "sshd.pid"))
        up = dns and ssh and all(all(r.daemons.values()) for r in routers)
        return LabStatus(up, routers, dns, faults or [], ssh)

    def _router_status(self, name: str) -> RouterStatus:
        rd = self.run_dir(name)
        daemons = {d: alive(pid_of(rd / f"{d}.pid")) for d in DAEMONS}
        if not all(daemons.values()):
            return RouterStatus(name, daemons, 0, 0)
        bgp = json.loads(self.vtysh(name, "show bgp summary json") or "{}")
        peers = bgp.get("ipv4Unicast", {}).get("peers", {})
        ospf = json.loads(self.vtysh(name, "show ip ospf neighbor json") or "{}")
        full = sum(1 for n in _ospf_entries(ospf) if str(n.get("state", n.get("nbrState", ""))).startswith("Full"))
        established = sum(1 for p in peers.values() if p.get("state") == "Established")
        return RouterStatus(name, daemons, established, full)

    def wait_converged(self, timeout_s: float = 60.0) -> float:
        """Wait until every router has all its BGP sessions and OSPF neighbors up and reaches every other router's
        LAN and loopback over the direct link (the healthy baseline); returns seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if all(self._converged(r.name) for r in ROUTERS):
                return time.monotonic() - started
            time.sleep(0.5)
        raise LabError(f"the lab did not converge within {timeout_s:.0f} s: {self.status().as_dict()}")

    def _converged(self, router: str) -> bool:
        status = self._router_status(router)
        if status.bgp_established < 2 or status.ospf_full < 2:
            return False
        routes = json.loads(self.vtysh(router, "show ip route json") or "{}")
        for other in ROUTERS:
            for prefix in (other.lan, f"{other.loopback}/32"):
                selected = [r for r in routes.get(prefix, []) if r.get("selected")]
                hops = {h.get("interfaceName") for r in selected for h in r.get("nexthops", [])}
                if other.name != router and hops != {f"{router}-{other.name}"}:
                    return False
        return True


def _ospf_entries(data: dict[str, object]) -> list[dict[str, object]]:
    neighbors = data.get("neighbors", {})
    out: list[dict[str, object]] = []
    if isinstance(neighbors, dict):
        for entries in neighbors.values():
            out.extend(e for e in (entries if isinstance(entries, list) else [entries]) if isinstance(e, dict))
    return out


def require_root() -> None:
    """Raise a clear `LabError` unless running as root (namespaces and FRR need it)."""
    if os.geteuid() != 0:
        raise LabError("the network lab needs root (network namespaces, FRR daemons): run `sudo netops lab ...`")
