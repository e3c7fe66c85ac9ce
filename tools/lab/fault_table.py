"""The lab's faults as data: what each does, what an engineer sees, how it is injected, healed and detected.

Every fault acts on r1 (mostly its link to r3, 10.0.13.1 <-> 10.0.13.2) or on the DNS server, shows in the
data plane or the control plane through the read tools, and converges within seconds (OSPF hello 1 / dead 4,
BGP 3 / 9, BGP connect retry 5). `active` reads the live state, so a fault fixed by an approved change (an
interface brought up, a neighbor re-enabled) is no longer reported.

Example:
    fault = FAULT_TABLE["ospf-cost"]
    fault.inject(lab)              # r1: interface r1-r3 / ip ospf cost 1000
    fault.active(Live.read(lab))   # True
    fault.heal(lab)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from tools.lab.lab import Lab
from tools.lab.proc import run
from tools.lab.topology import ROUTERS

__all__ = ["FAULTS_IN_ORDER", "FAULT_TABLE", "Fault", "Live"]

R1 = ROUTERS[0].name
_BGP = f"router bgp {ROUTERS[0].asn}"
_AF = "address-family ipv4 unicast"
_PEER = "10.0.13.2"  # r3, seen from r1
_LINK = "r1-r3"
_IFACE = f"interface {_LINK}"
_NFT = "netops_fault"
_FILTER_IN = f"neighbor {_PEER} prefix-list NETOPS-FAULT in"
_WRONG_DNS = {"r2.lab.test": "10.255.0.22"}  # r2 is really 10.255.0.2


@dataclass(frozen=True, slots=True)
class Live:
    """A snapshot of what the faults touch: r1's running config, its r1-r3 link, its nftables, dnsmasq."""

    config: str
    link: dict[str, object]
    nft_tables: str
    dns_args: tuple[str, ...]

    @classmethod
    def read(cls, lab: Lab) -> Live:
        ns = lab.ns(R1)
        config = run(["vtysh", "--vty_socket", str(lab.run_dir(R1)), "-c", "show running-config"], check=False)
        links = json.loads(run(["ip", "-n", ns, "-j", "link", "show", "dev", _LINK], check=False) or "[]")
        tables = run(["ip", "netns", "exec", ns, "nft", "list", "tables"], check=False)
        return cls(config, links[0] if links else {}, tables, tuple(lab.dns_args()))

    def has(self, line: str, block: str = "") -> bool:
        """Whether the running config holds `line` (stripped), inside the top-level `block` when one is given."""
        inside = not block
        for raw in self.config.splitlines():
            if block and raw == block:
                inside = True
            elif block and raw == "exit":
                inside = False
            elif inside and raw.strip() == line:
                return True
        return False

    @property
    def link_up(self) -> bool:
        flags = self.link.get("flags", [])
        return isinstance(flags, list) and "UP" in flags


@dataclass(frozen=True, slots=True)
class Fault:
    """One named fault: a one-line description, where it shows (tool and telltale line), and its actions."""

    name: str
    does: str
    shows: str
    inject: Callable[[Lab], None]
    heal: Callable[[Lab], None]
    active: Callable[[Live], bool]


def _vtysh(*lines: str) -> Callable[[Lab], None]:
    """An action: r1's vtysh with these lines (configuration mode first, unless the first line is `clear`)."""
    head = () if lines[0].startswith("clear") else ("configure terminal",)

    def act(lab: Lab) -> None:
        lab.vtysh(R1, *head, *lines)

    return act


def _ip(*args: str) -> Callable[[Lab], None]:
    """An action: `ip -n <r1's namespace> ARGS`."""

    def act(lab: Lab) -> None:
        run(["ip", "-n", lab.ns(R1), *args])

    return act


def _both(*actions: Callable[[Lab], None]) -> Callable[[Lab], None]:
    def act(lab: Lab) -> None:
        for action in actions:
            action(lab)

    return act


def _nft_drop(lab: Lab) -> None:
    nft = ["ip", "netns", "exec", lab.ns(R1), "nft"]
    run([*nft, "add", "table", "inet", _NFT])
    for hook in ("input", "output", "forward"):
        run([*nft, "add", "chain", "inet", _NFT, hook, f"{{ type filter hook {hook} priority 0 ; }}"])
    for hook, match in (("input", "iifname"), ("output", "oifname"), ("forward", "iifname"), ("forward", "oifname")):
        run([*nft, "add", "rule", "inet", _NFT, hook, match, _LINK, "drop"])


def _nft_heal(lab: Lab) -> None:
    run(["ip", "netns", "exec", lab.ns(R1), "nft", "delete", "table", "inet", _NFT], check=False)


def _dns_restart(lab: Lab, overrides: dict[str, str] | None = None) -> None:
    lab.stop_dns()
    lab.start_dns(overrides)


def _wrong_dns_active(live: Live) -> bool:
    return any(f"--host-record={n},{a}" in live.dns_args for n, a in _WRONG_DNS.items())


FAULTS_IN_ORDER = (
    Fault(
        "link-down",
        "r1-r3 set down on r1 (carrier lost at both ends); OSPF and BGP to r3 drop, traffic reroutes via r2",
        f"interface_status r1 {_LINK}: `admin down oper down`; ospf_neighbors r1: `1 neighbors`;"
        " route_lookup r1 10.3.0.0/24: `via bgp (distance 20): 10.0.12.2 on r1-r2`",
        _ip("link", "set", _LINK, "down"),
        _ip("link", "set", _LINK, "up"),
        lambda live: bool(live.link) and not live.link_up,
    ),
    Fault(
        "silent-drop",
        "nftables on r1 drops all on r1-r3, the link stays up: OSPF and BGP to r3 time out (4 s, 9 s), rerouting",
        f"interface_status r1 {_LINK}: `admin up oper up`, yet ospf_neighbors r1 lacks 10.255.0.3 and"
        " bgp_neighbor r1 10.0.13.2 is not Established (`Hold Timer Expired`); ping r1 10.0.13.2: `100% packet loss`",
        _nft_drop,
        _nft_heal,
        lambda live: _NFT in live.nft_tables,
    ),
    Fault(
        "bgp-shutdown",
        "`neighbor 10.0.13.2 shutdown` on r1: the BGP session to r3 is Idle (Admin), OSPF stays up",
        "bgp_summary r1: `10.0.13.2 (r3) AS 65003 Idle (Admin)`; bgp_neighbor r1 10.0.13.2:"
        " `state Idle (admin shutdown)`, `last reset: Admin. shutdown`",
        _vtysh(_BGP, f"neighbor {_PEER} shutdown"),
        _vtysh(_BGP, f"no neighbor {_PEER} shutdown"),
        lambda live: live.has(f"neighbor {_PEER} shutdown", _BGP),
    ),
    Fault(
        "ospf-cost",
        "`ip ospf cost 1000` on r1-r3: r1 reaches r3's loopback 10.255.0.3 (OSPF only) via r2 instead of directly",
        "route_lookup r1 10.255.0.3: `via ospf (distance 110): 10.0.12.2 on r1-r2` (healthy: 10.0.13.2 on r1-r3);"
        f" traceroute h1 10.255.0.3 gains hop 10.0.12.2; interface_status r1 {_LINK}: `cost 1000`",
        _vtysh(_IFACE, "ip ospf cost 1000"),
        _vtysh(_IFACE, "no ip ospf cost"),
        lambda live: live.has("ip ospf cost 1000", _IFACE),
    ),
    Fault(
        "dns-stop",
        "dnsmasq stopped: nothing answers on 10.3.0.53, names under lab.test no longer resolve",
        "dns_query h1 r1.lab.test @10.3.0.53: `no answer: connection refused; no servers could be reached`",
        lambda lab: lab.stop_dns(),
        lambda lab: lab.start_dns(),
        lambda live: not live.dns_args,
    ),
    Fault(
        "bgp-password",
        "an MD5 password on r1's session to r3 that r3 does not have: the session stays in Connect/Active",
        "bgp_summary r1: `10.0.13.2 (r3) AS 65003 Connect` (or Active), not Established; bgp_neighbor r1 10.0.13.2:"
        " `md5 password: set` (bgp_neighbor r3 10.0.13.1: `md5 password: none`)",
        _vtysh(_BGP, f"neighbor {_PEER} password NetOps-Fault-Key"),
        _vtysh(_BGP, f"no neighbor {_PEER} password"),
        lambda live: live.has(f"neighbor {_PEER} password NetOps-Fault-Key", _BGP),
    ),
    Fault(
        "bgp-peer-as",
        "r1 expects AS 65099 from r3 (really 65003): every OPEN is refused with Bad Peer AS",
        "bgp_neighbor r1 10.0.13.2: `AS 65099: state Idle` (or Active/Connect),"
        " `last reset: BGP Notification send (OPEN Message Error/Bad Peer AS)`",
        _vtysh(_BGP, f"neighbor {_PEER} remote-as 65099"),
        _vtysh(_BGP, f"neighbor {_PEER} remote-as 65003"),
        lambda live: live.has(f"neighbor {_PEER} remote-as 65099", _BGP),
    ),
    Fault(
        "bgp-max-prefix",
        "`maximum-prefix 1` for r3 on r1, which sends 2: the session is torn down and stays Idle (PfxCt)",
        "bgp_summary r1: `10.0.13.2 (r3) AS 65003 Idle (PfxCt)`; bgp_neighbor r1 10.0.13.2:"
        " `(Cease/Maximum Number of Prefixes Reached)`, `max-prefix 1`",
        _vtysh(_BGP, _AF, f"neighbor {_PEER} maximum-prefix 1"),
        _both(_vtysh(_BGP, _AF, f"no neighbor {_PEER} maximum-prefix"), _vtysh(f"clear bgp {_PEER}")),
        lambda live: live.has(f"neighbor {_PEER} maximum-prefix 1", _BGP),
    ),
    Fault(
        "bgp-filter",
        "an inbound prefix-list on r1 denies every route from r3: the session stays up with 0 prefixes received",
        "bgp_summary r1: `10.0.13.2 (r3) AS 65003 Established ... prefixes received 0`; route_lookup r1 10.3.0.0/24:"
        " `via bgp (distance 20): 10.0.12.2 on r1-r2`; bgp_neighbor r1 10.0.13.2: `inbound prefix-list NETOPS-FAULT`",
        _vtysh("ip prefix-list NETOPS-FAULT seq 5 deny any", _BGP, _AF, _FILTER_IN),
        _vtysh(_BGP, _AF, f"no {_FILTER_IN}", "end", "configure terminal", "no ip prefix-list NETOPS-FAULT"),
        lambda live: live.has(_FILTER_IN, _BGP),
    ),
    Fault(
        "mtu-mismatch",
        "MTU 1400 on r1-r3 (r3 keeps 1500) and the adjacency restarted: OSPF to r3 sticks in ExStart",
        f"ospf_neighbors r1: `10.255.0.3 ExStart/...`; interface_status r1 {_LINK}: `mtu 1400`"
        " (interface_status r3 r3-r1: `mtu 1500`)",
        _both(_ip("link", "set", _LINK, "mtu", "1400"), _vtysh(f"clear ip ospf interface {_LINK}")),
        _ip("link", "set", _LINK, "mtu", "1500"),
        lambda live: live.link.get("mtu") == 1400,
    ),
    Fault(
        "ospf-hello",
        "OSPF hello-interval 2 on r1-r3 (r3 keeps 1): hellos are rejected, r3 drops out of r1's OSPF neighbors",
        "ospf_neighbors r1: `1 neighbors`, 10.255.0.3 missing although the link is up; interface_status r1"
        f" {_LINK}: `hello 2 s dead 4 s` (r3 r3-r1: `hello 1 s`)",
        _vtysh(_IFACE, "ip ospf hello-interval 2"),
        _vtysh(_IFACE, "ip ospf hello-interval 1"),
        lambda live: live.has("ip ospf hello-interval 2", _IFACE),
    ),
    Fault(
        "static-blackhole",
        "a static `ip route 10.2.0.0/24 blackhole` on r1 beats BGP: h1 can no longer reach h2's LAN",
        "route_lookup r1 10.2.0.10: `selected via static (distance 1): blackhole`; ping h1 10.2.0.10:"
        " `100% packet loss`; traceroute h1 10.2.0.10: only `*`",
        _vtysh("ip route 10.2.0.0/24 blackhole"),
        _vtysh("no ip route 10.2.0.0/24 blackhole"),
        lambda live: live.has("ip route 10.2.0.0/24 blackhole"),
    ),
    Fault(
        "dns-wrong-answer",
        "dnsmasq answers r2.lab.test with a stale 10.255.0.22 (really 10.255.0.2): the name resolves, nothing answers",
        "dns_query h1 r2.lab.test @10.3.0.53: `10.255.0.22`; ping h1 10.255.0.22: `100% packet loss`",
        lambda lab: _dns_restart(lab, _WRONG_DNS),
        _dns_restart,
        _wrong_dns_active,
    ),
)
FAULT_TABLE = {f.name: f for f in FAULTS_IN_ORDER}
