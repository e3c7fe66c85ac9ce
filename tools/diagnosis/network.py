"""What the gateway knows about a tenant's network, beyond device names: addresses, links, BGP sessions, DNS.

The inventory (`tools.inventory`) knows device names and how to reach them; the lab topology
(`tools.lab.topology`) also knows each router's interfaces, addresses, loopback, LAN and BGP peers.
A `NetworkMap` holds both for one tenant, so entity extraction can turn "10.0.13.2" into "r3's end of
the r1-r3 link, a BGP peer of r1" and the planner can pick the interface facing a peer.

Only devices in the tenant's inventory become `device` values; the lab's other nodes (h2, dns) keep a
label (`remote`) but are never offered as a device to run a tool on.

Example:
    net = NetworkMap.from_lab(inventory.for_tenant("demo"))
    net.owner("10.0.13.2")        # Port(device='r3', name='r3-r1', address='10.0.13.2', remote='r1', ...)
    net.sessions_to("10.0.13.2")  # (Session(device='r1', peer='10.0.13.2', remote='r3'),)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address

from tools.inventory import Device, TenantInventory
from tools.lab.topology import DNS_ADDRESS, DNS_RECORDS, LINKS, ROUTERS, STUBS, render_config

__all__ = ["NetworkMap", "Port", "Session", "Subnet"]


@dataclass(frozen=True, slots=True)
class Port:
    """One interface of a node: its name, address, and the node and address at its far end ("" if none)."""

    device: str
    name: str
    address: str
    remote: str = ""
    remote_address: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """A BGP session configured on `device` towards `peer` (an address of the node labelled `remote`)."""

    device: str
    peer: str
    remote: str


@dataclass(frozen=True, slots=True)
class Subnet:
    """A prefix and the nodes that own it (one for a LAN or loopback, two for a point-to-point link)."""

    prefix: str
    owners: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NetworkMap:
    """One tenant's network as far as the gateway knows it.

    `devices` are inventory names; `routers` the ones that answer routing commands (vtysh or SSH); `probes`
    the ones that can run ping, traceroute and dig (a local network namespace). Everything else is optional:
    with `from_inventory` alone, only names are known.
    """

    tenant: str
    devices: tuple[str, ...]
    routers: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    loopbacks: Mapping[str, str] = field(default_factory=dict)
    sessions: tuple[Session, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    advertised: tuple[Subnet, ...] = ()  # prefixes their owners originate into BGP
    asns: Mapping[str, int] = field(default_factory=dict)
    dns_servers: tuple[str, ...] = ()
    hosts: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_inventory(cls, inventory: TenantInventory) -> NetworkMap:
        """Names and capabilities only: a device with a VTY socket or SSH is a router, one with a netns a probe."""
        devices = inventory.devices
        return cls(
            tenant=inventory.tenant,
            devices=tuple(d.name for d in devices),
            routers=tuple(d.name for d in devices if _answers_cli(d)),
            probes=tuple(d.name for d in devices if _runs_exec(d)),
        )

    @classmethod
    def from_lab(cls, inventory: TenantInventory) -> NetworkMap:
        """The inventory plus the lab topology (addresses, links, sessions, DNS) for the inventory's lab nodes."""
        base = cls.from_inventory(inventory)
        ports = _lab_ports()
        return cls(
            tenant=base.tenant,
            devices=base.devices,
            routers=tuple(r.name for r in ROUTERS if r.name in base.routers),
            probes=base.probes,
            ports=ports,
            loopbacks={r.name: r.loopback for r in ROUTERS},
            sessions=tuple(Session(p.device, p.remote_address, p.remote) for p in ports if p.name in _LINK_PORTS),
            subnets=_lab_subnets(),
            advertised=_lab_advertised(),
            asns={r.name: r.asn for r in ROUTERS},
            dns_servers=(DNS_ADDRESS,),
            hosts=dict(DNS_RECORDS),
        )

    def is_device(self, name: str) -> bool:
        return name in self.devices

    def owner(self, address: str) -> Port | None:
        """The port (or loopback, as port `lo`) holding this address, if known."""
        for port in self.ports:
            if port.address == address:
                return port
        for device, loopback in self.loopbacks.items():
            if loopback == address:
                return Port(device, "lo", loopback)
        return None

    def port(self, device: str, name: str) -> Port | None:
        return next((p for p in self.ports if p.device == device and p.name == name), None)

    def ports_named(self, name: str) -> tuple[Port, ...]:
        return tuple(p for p in self.ports if p.name == name)

    def facing(self, device: str, remote: str) -> Port | None:
        """The port of `device` whose far end is `remote` (a direct link), if any."""
        return next((p for p in self.ports if p.device == device and p.remote == remote), None)

    def far_end(self, port: Port) -> Port | None:
        """The port at the other end of a link."""
        return next((p for p in self.ports if p.device == port.remote and p.address == port.remote_address), None)

    def sessions_to(self, address: str) -> tuple[Session, ...]:
        return tuple(s for s in self.sessions if s.peer == address)

    def sessions_of(self, device: str) -> tuple[Session, ...]:
        return tuple(s for s in self.sessions if s.device == device)

    def owners_of(self, destination: str) -> tuple[str, ...]:
        """The nodes owning the most specific known subnet that holds an address or equals/contains a prefix."""
        try:
            net = IPv4Network(destination, strict=False)
        except ValueError:
            return ()
        best: Subnet | None = None
        for subnet in self.subnets:
            candidate = IPv4Network(subnet.prefix)
            fits = net.subnet_of(candidate)
            if fits and (best is None or candidate.prefixlen > IPv4Network(best.prefix).prefixlen):
                best = subnet
        return best.owners if best else ()

    def neighbors_expected(self, device: str) -> tuple[Port, ...]:
        """The device's ports towards other routers (router links run the IGP, so each should have a neighbor)."""
        return tuple(p for p in self.ports if p.device == device and p.remote in self.loopbacks)

    def originated_by(self, prefix: str) -> str:
        """The node that originates this exact prefix into BGP ("" if none is known to)."""
        return next((s.owners[0] for s in self.advertised if s.prefix == prefix), "")

    def label(self, address: str) -> str:
        """The node name for an address ("" if unknown): a port owner, or a host the DNS names."""
        port = self.owner(address)
        if port is not None:
            return port.device
        return next((name.split(".")[0] for name, addr in self.hosts.items() if addr == address), "")


_LINK_PORTS = frozenset(end[1] for link in LINKS for end in link.ends())


def _answers_cli(device: Device) -> bool:
    return device.vty_socket is not None or device.transport == "ssh"


def _runs_exec(device: Device) -> bool:
    return device.netns is not None and device.transport == "vtysh"


def _host(cidr: str) -> str:
    return cidr.split("/", maxsplit=1)[0]


def _lab_ports() -> tuple[Port, ...]:
    ports: list[Port] = []
    for link in LINKS:
        (a, a_if, a_addr, b_ip), (b, b_if, b_addr, a_ip) = link.ends()
        ports += [Port(a, a_if, _host(a_addr), b, b_ip), Port(b, b_if, _host(b_addr), a, a_ip)]
    for stub in STUBS:
        router_ip, node_ip = _host(stub.router_addr), _host(stub.node_addr)
        ports.append(Port(stub.router, f"{stub.router}-{stub.node}", router_ip, stub.node, node_ip))
        ports.append(Port(stub.node, f"{stub.node}-{stub.router}", node_ip, stub.router, router_ip))
    return tuple(ports)


def _lab_subnets() -> tuple[Subnet, ...]:
    subnets = [Subnet(str(IPv4Network(link.a_addr, strict=False)), (link.a, link.b)) for link in LINKS]
    subnets += [Subnet(r.lan, (r.name,)) for r in ROUTERS]
    subnets += [Subnet(f"{r.loopback}/32", (r.name,)) for r in ROUTERS]
    subnets += [Subnet(f"{_host(s.node_addr)}/32", (s.node,)) for s in STUBS]
    return tuple(subnets)


def _lab_advertised() -> tuple[Subnet, ...]:
    """The prefixes each lab router originates into BGP: its config's `network` lines (read, not assumed)."""
    return tuple(
        Subnet(line.split()[1], (r.name,))
        for r in ROUTERS
        for line in render_config(r).splitlines()
        if line.startswith("  network ")
    )


def ipv4(text: str) -> IPv4Address | None:
    """The text as an IPv4 address, or None."""
    try:
        addr = ip_address(text)
    except ValueError:
        return None
    return addr if isinstance(addr, IPv4Address) else None


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Items in first-seen order, without repeats or empty strings."""
    return tuple(dict.fromkeys(i for i in items if i))
