"""The lab's topology as data: three FRR routers in a triangle, a host behind r1, a DNS server behind r3.

    h1 --- r1 ------- r2 --- h2    every router: zebra + ospfd (area 0) + bgpd (eBGP, one AS each) + staticd
            \\       /             r1 AS 65001, r2 AS 65002, r3 AS 65003; eBGP on the link addresses,
             \\     /              so a link failure takes its BGP session down and traffic reroutes.
               r3 --- dns          dnsmasq answers for lab.test at 10.3.0.53

LANs are in both OSPF and BGP (eBGP, distance 20, wins); loopbacks and link subnets only in OSPF, so an
OSPF cost change moves the path to a loopback (`route_lookup r1 10.255.0.3`, `traceroute h1 10.255.0.3`).

Addresses are private and live only inside the lab's own network namespaces.
Left out: IPv6, route reflectors, BFD.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DNS_ADDRESS", "DNS_RECORDS", "LINKS", "ROUTERS", "STUBS", "Link", "Router", "Stub", "render_config"]


@dataclass(frozen=True, slots=True)
class Router:
    """One FRR router: its name, AS number, loopback and the LAN it originates."""

    name: str
    asn: int
    loopback: str
    lan: str


@dataclass(frozen=True, slots=True)
class Link:
    """A point-to-point veth link between two routers; `a_addr`/`b_addr` are /30 interface addresses."""

    a: str
    b: str
    a_addr: str
    b_addr: str

    def ends(self) -> tuple[tuple[str, str, str, str], tuple[str, str, str, str]]:
        """(node, interface, address, peer address) for both ends; interfaces are named `<node>-<peer>`."""
        a_ip, b_ip = self.a_addr.split("/")[0], self.b_addr.split("/")[0]
        return (self.a, f"{self.a}-{self.b}", self.a_addr, b_ip), (self.b, f"{self.b}-{self.a}", self.b_addr, a_ip)


@dataclass(frozen=True, slots=True)
class Stub:
    """A stub LAN: a router's interface and a namespace (host or server) behind it with a default route."""

    router: str
    node: str
    router_addr: str
    node_addr: str


ROUTERS = (
    Router("r1", 65001, "10.255.0.1", "10.1.0.0/24"),
    Router("r2", 65002, "10.255.0.2", "10.2.0.0/24"),
    Router("r3", 65003, "10.255.0.3", "10.3.0.0/24"),
)
LINKS = (
    Link("r1", "r2", "10.0.12.1/30", "10.0.12.2/30"),
    Link("r1", "r3", "10.0.13.1/30", "10.0.13.2/30"),
    Link("r2", "r3", "10.0.23.1/30", "10.0.23.2/30"),
)
STUBS = (
    Stub("r1", "h1", "10.1.0.1/24", "10.1.0.10/24"),
    Stub("r2", "h2", "10.2.0.1/24", "10.2.0.10/24"),
    Stub("r3", "dns", "10.3.0.1/24", "10.3.0.53/24"),
)
DNS_ADDRESS = "10.3.0.53"
DNS_RECORDS = {
    "r1.lab.test": "10.255.0.1",
    "r2.lab.test": "10.255.0.2",
    "r3.lab.test": "10.255.0.3",
    "h1.lab.test": "10.1.0.10",
    "ns.lab.test": DNS_ADDRESS,
}
# A deliberately secret-looking line: `show running-config` must come back with it redacted.
LAB_VTY_PASSWORD = "Lab-Vty-S3cret-9f2c"  # noqa: S105 - a lab fixture, not a credential


def _peers(router: str) -> list[tuple[str, str, str]]:
    """(interface, peer address, peer name) for each link of a router."""
    out = []
    for link in LINKS:
        for node, ifname, _addr, peer_ip in link.ends():
            if node == router:
                out.append((ifname, peer_ip, link.b if node == link.a else link.a))
    return out


def render_config(router: Router) -> str:
    """The router's FRR configuration (one file, passed to every daemon with `-f`)."""
    asn = {r.name: r.asn for r in ROUTERS}
    peers = _peers(router.name)
    lines = [
        "frr defaults traditional",
        f"hostname {router.name}",
        f"password {LAB_VTY_PASSWORD}",
        "log stdout warnings",
        "!",
    ]
    for ifname, _peer_ip, _peer in peers:
        lines += [f"interface {ifname}", " ip ospf hello-interval 1", " ip ospf dead-interval 4", "!"]
    lines += [
        "router ospf",
        f" ospf router-id {router.loopback}",
        " network 10.0.0.0/16 area 0",
        f" network {router.loopback}/32 area 0",
        f" network {router.lan} area 0",
        f" passive-interface {router.name}-{_stub_node(router.name)}",
        "!",
        f"router bgp {router.asn}",
        f" bgp router-id {router.loopback}",
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        " timers bgp 3 9",
    ]
    for _ifname, peer_ip, peer in peers:
        lines += [f" neighbor {peer_ip} remote-as {asn[peer]}", f" neighbor {peer_ip} timers connect 5"]
    lines += [" address-family ipv4 unicast", f"  network {router.lan}"]
    lines += [" exit-address-family", "!", ""]
    return "\n".join(lines)


def _stub_node(router: str) -> str:
    return next(s.node for s in STUBS if s.router == router)
