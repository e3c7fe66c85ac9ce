"""Entities in a question or a pasted alert, resolved against what the tenant's network is known to hold.

Free text, syslog lines and Prometheus/Alertmanager alert text all go through the same patterns: device
names from the inventory, IPv4 addresses (mapped to the device and interface that own them, and to the BGP
sessions that point at them), prefixes, interface names, hostnames, alert names and topics (BGP, OSPF, ...).

Deliberately left out: devices are never invented (a name the inventory does not hold is not a device, an
address is only tied to a device the `NetworkMap` knows), IPv6, and any use of a model: this is plain text
matching, so the same question always gives the same entities.

Example:
    net = NetworkMap.from_lab(inventory.for_tenant("demo"))
    e = extract_entities("[FIRING:1] BGPSessionDown instance=r1 peer=10.0.13.2", net)
    e.devices  # ('r1', 'r3')
    e.peers    # (PeerRef(device='r1', address='10.0.13.2', remote='r3'),)
    e.alerts   # ('BGPSessionDown',)
    e.topics   # frozenset({Topic.BGP})
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from ipaddress import IPv4Network

from tools.diagnosis.network import NetworkMap, unique

__all__ = ["AddressRef", "Entities", "HostRef", "InterfaceRef", "PeerRef", "Topic", "extract_entities"]


class Topic(enum.StrEnum):
    """What an incident is about; decides which checks come first."""

    BGP = "bgp"
    OSPF = "ospf"
    INTERFACE = "interface"
    REACHABILITY = "reachability"
    DNS = "dns"
    ROUTING = "routing"
    MTU = "mtu"


@dataclass(frozen=True, slots=True)
class AddressRef:
    """An IPv4 address in the text; `device` and `interface` when an inventory device owns it, `label` for
    any known node (also outside the inventory, e.g. the DNS server)."""

    address: str
    device: str = ""
    interface: str = ""
    label: str = ""


@dataclass(frozen=True, slots=True)
class InterfaceRef:
    """An interface name, with its device when that is known ("" otherwise)."""

    name: str
    device: str = ""


@dataclass(frozen=True, slots=True)
class PeerRef:
    """A BGP session: on `device`, towards `address` (of the node `remote`, "" if unknown)."""

    device: str
    address: str
    remote: str = ""


@dataclass(frozen=True, slots=True)
class HostRef:
    """A hostname, and the address the tenant's DNS is known to answer for it ("" if unknown)."""

    name: str
    expected: str = ""


@dataclass(frozen=True, slots=True)
class Entities:
    """Everything extracted. `named` are devices the text names; `devices` adds those it implies (a peer's
    router, an address's or interface's owner), named first."""

    named: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    interfaces: tuple[InterfaceRef, ...] = ()
    addresses: tuple[AddressRef, ...] = ()
    peers: tuple[PeerRef, ...] = ()
    prefixes: tuple[str, ...] = ()
    hostnames: tuple[HostRef, ...] = ()
    alerts: tuple[str, ...] = ()
    topics: frozenset[Topic] = frozenset()


_ADDRESS = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?!\.?\d|/\d|\w)")
_PREFIX = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})(?!\d)")
_HOSTNAME = re.compile(
    r"(?<![\w.@/-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z])(?![\w-]|\.\w)"
)
_NOT_HOSTS = re.compile(r"\.(?:conf|cfg|log|md|py|yaml|yml|json|txt|sh|service|pid|sock|html)$", re.IGNORECASE)
_GENERIC_INTERFACE = re.compile(
    r"\b((?:eth|ens|enp|eno|bond|vlan|swp|veth)\d[\w.]*"
    r"|(?:GigabitEthernet|TenGigabitEthernet|FastEthernet|Ethernet|Gi|Te|Fa|Et)\d+(?:/\d+)*(?:\.\d+)?"
    r"|(?:ge|xe|et)-\d+/\d+/\d+(?:\.\d+)?|Loopback\d+|Port-channel\d+)\b"
)
_LABELLED_INTERFACE = re.compile(  # `interface r1-r3`, or a label: `ifName="eth0"`, node_exporter's `device="eth0"`
    r"\b(?:interface\s+|(?:interface|intf|ifName|ifDescr|device)\s*[=:]\s*\"?)([A-Za-z][\w/.:-]*\d)\b", re.IGNORECASE
)
_ALERT_LABEL = re.compile(r"\balertname\s*[=:]\s*\"?([A-Za-z][\w]+)")
_FIRING = re.compile(r"\[(?:FIRING|RESOLVED)(?::\d+)?\]\s*([A-Za-z][\w]+)")
_SERIES = re.compile(r"\b([A-Z][A-Za-z0-9_]+)\{")
_CAMEL = re.compile(r"\b([A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*)\b")
_ALERT_STEMS = re.compile(
    r"(?:Down|Failure|Failed|Loss|Flapping|Flap|Errors?|Mismatch|Stuck|Unreachable|Latency|High|Low|Exceeded|"
    r"Missing|Degraded|Timeout)$"
)
_NEIGHBOR_WORDS = re.compile(r"\b(?:neighbou?r|peer)", re.IGNORECASE)
_TOPIC_WORDS: dict[Topic, re.Pattern[str]] = {
    Topic.BGP: re.compile(
        r"bgp|\bpeer|hold[ -]?timer|max-?prefix|prefix(?:es)? received|(?-i:\bASN?\s?\d)", re.IGNORECASE
    ),
    Topic.OSPF: re.compile(r"ospf|exstart|adjacenc|\blsa\b|dead[ -](?:timer|interval)|hello", re.IGNORECASE),
    Topic.INTERFACE: re.compile(
        r"interface|\blink\b|ifoperstatus|ifadminstatus|\bport\b|flap|carrier|\bcrc\b|errors?\b", re.IGNORECASE
    ),
    Topic.REACHABILITY: re.compile(
        r"loss|unreachable|\bping|latency|timed? ?out|blackhol|\bdrop|\bprobe|cannot reach|can't reach", re.IGNORECASE
    ),
    Topic.DNS: re.compile(r"\bdns|resol(?:v|ution)|nxdomain|servfail|name ?server|\bdig\b", re.IGNORECASE),
    Topic.ROUTING: re.compile(r"\broute|routing|next[- ]hop|\bpath\b|withdrawn|traceroute|long way", re.IGNORECASE),
    Topic.MTU: re.compile(r"\bmtu\b|fragment|exstart|jumbo", re.IGNORECASE),
}


def extract_entities(text: str, network: NetworkMap) -> Entities:
    """Entities of a question or pasted alert, resolved against `network` (see the module docstring)."""
    named = _devices(text, network)
    addresses = tuple(_address_ref(a, network) for a in unique(_ADDRESS.findall(text)))
    interfaces = _interfaces(text, network, named)
    alerts = _alerts(text)
    topics = _topics(text, alerts)
    peers = _peers(addresses, network, named, text, topics)
    implied = [p.device for p in peers] + [i.device for i in interfaces] + [a.device for a in addresses]
    return Entities(
        named=named,
        devices=unique([*named, *implied]),
        interfaces=interfaces,
        addresses=addresses,
        peers=peers,
        prefixes=_prefixes(text),
        hostnames=_hostnames(text, network),
        alerts=alerts,
        topics=topics,
    )


def _name_pattern(name: str) -> re.Pattern[str]:
    """A name as a whole token: not inside an interface (`r1-r3`), a hostname (`r1.lab.test`) or a word."""
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", re.IGNORECASE)


def _devices(text: str, network: NetworkMap) -> tuple[str, ...]:
    """Inventory devices named in the text, in order of first mention."""
    found: list[tuple[int, str]] = []
    for name in sorted(network.devices, key=len, reverse=True):
        match = _name_pattern(name).search(text)
        if match:
            found.append((match.start(), name))
    return tuple(name for _, name in sorted(found))


def _address_ref(address: str, network: NetworkMap) -> AddressRef:
    port = network.owner(address)
    label = network.label(address)
    if port is None or not network.is_device(port.device):
        return AddressRef(address, label=label)
    return AddressRef(address, port.device, port.name, label)


def _peers(
    addresses: tuple[AddressRef, ...], network: NetworkMap, named: tuple[str, ...], text: str, topics: frozenset[Topic]
) -> tuple[PeerRef, ...]:
    """BGP sessions the addresses point at; an unknown address called a neighbor of the one named router too."""
    peers: list[PeerRef] = []
    routers = [d for d in named if d in network.routers]
    for ref in addresses:
        sessions = [s for s in network.sessions_to(ref.address) if network.is_device(s.device)]
        if routers:
            sessions = [s for s in sessions if s.device in routers] or sessions
        peers += [PeerRef(s.device, s.peer, s.remote) for s in sessions]
        guess = not sessions and len(routers) == 1 and ref.device != routers[0]
        if guess and Topic.BGP in topics and _NEIGHBOR_WORDS.search(text) and network.owner(ref.address) is None:
            peers.append(PeerRef(routers[0], ref.address, ref.label))
    return tuple(dict.fromkeys(peers))


def _interfaces(text: str, network: NetworkMap, named: tuple[str, ...]) -> tuple[InterfaceRef, ...]:
    """Known port names, then labelled (`interface=eth0`) and vendor-style names; devices from the map."""
    found: list[tuple[int, str]] = []
    for name in {p.name for p in network.ports}:
        match = _name_pattern(name).search(text)
        if match:
            found.append((match.start(), name))
    found += [(m.start(1), m.group(1)) for m in _LABELLED_INTERFACE.finditer(text)]
    found += [(m.start(1), m.group(1)) for m in _GENERIC_INTERFACE.finditer(text)]
    devices = {d.lower() for d in network.devices}
    names = unique(name for _, name in sorted(found) if name.lower() not in devices)
    return tuple(InterfaceRef(name, _interface_device(name, network, named)) for name in names)


def _interface_device(name: str, network: NetworkMap, named: tuple[str, ...]) -> str:
    owners = [p.device for p in network.ports_named(name) if network.is_device(p.device)]
    if owners:
        return owners[0]
    return named[0] if len(named) == 1 and not network.ports_named(name) else ""


def _prefixes(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in _PREFIX.findall(text):
        try:
            out.append(str(IPv4Network(raw, strict=False)))
        except ValueError:
            continue
    return unique(out)


def _hostnames(text: str, network: NetworkMap) -> tuple[HostRef, ...]:
    names = unique(m.lower().rstrip(".") for m in _HOSTNAME.findall(text) if not _NOT_HOSTS.search(m))
    return tuple(HostRef(name, network.hosts.get(name, "")) for name in names)


def _alerts(text: str) -> tuple[str, ...]:
    labelled = [*_ALERT_LABEL.findall(text), *_FIRING.findall(text), *_SERIES.findall(text)]
    camel = [w for w in _CAMEL.findall(text) if sum(c.isupper() for c in w) >= 2 and _ALERT_STEMS.search(w)]
    return unique([*labelled, *camel])


def _topics(text: str, alerts: tuple[str, ...]) -> frozenset[Topic]:
    """Topics from keywords in the text and from the alert names (CamelCase split into words)."""
    words = " ".join(re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", a) for a in alerts)
    return frozenset(t for t, pattern in _TOPIC_WORDS.items() if pattern.search(text) or pattern.search(words))
