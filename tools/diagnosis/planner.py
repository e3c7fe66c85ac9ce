"""Read-only checks with arguments, planned from entities and runbook steps, within a budget.

The order of tools comes from the topics (a BGP alert starts with `bgp_neighbor` and `bgp_summary`), then
from the tools the retrieved runbook names in backticks ("Run `bgp_summary` on the router"). Each tool is
given arguments from the entities and the `NetworkMap`: the peer's router, the interface facing a peer, the
far end of a named link, the lab's DNS server. A tool's second argument set ranks two places below its
first, so the plan spreads over tools but still looks at both ends of a link.

Every planned check is a `read` tool the caller is granted, with arguments the tool's own pydantic model
accepts (`ToolRegistry.check`), on a device of the tenant's inventory that can run it (routing commands on
routers; ping, traceroute and dig only where a local network namespace exists). Change tools are never planned.

Runbook text is untrusted: the worst a poisoned runbook can do is add or reorder granted read-only checks.
Left out: checks that need an earlier check's output (a second round), `show_running_config` (a
configuration dump is not a check), more than `budget` checks.

Example:
    plan = plan_checks(entities, net, ["1. Run `bgp_summary` on the router"], ctx, registry)
    plan[0]  # PlannedCheck(tool='bgp_neighbor', arguments={'device': 'r1', 'peer': '10.0.13.2'}, reason=...)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tools.diagnosis.entities import Entities, Topic
from tools.diagnosis.network import NetworkMap, Port, unique
from tools.errors import ToolError
from tools.registry import Risk, ToolContext, ToolRegistry

__all__ = ["DEFAULT_BUDGET", "PlannedCheck", "plan_checks"]

DEFAULT_BUDGET = 6

_NAMED = re.compile(r"`{1,2}([a-z][a-z0-9_]{2,40})`{1,2}")
_ORDER: dict[Topic, tuple[str, ...]] = {
    Topic.BGP: ("bgp_neighbor", "bgp_summary", "ping", "interface_status", "route_lookup"),
    Topic.OSPF: ("ospf_neighbors", "interface_status", "ping", "route_lookup"),
    Topic.INTERFACE: ("interface_status", "ping", "ospf_neighbors", "bgp_summary"),
    Topic.MTU: ("interface_status", "ospf_neighbors", "ping"),
    Topic.DNS: ("dns_query", "ping", "route_lookup", "dns_lookup"),
    Topic.REACHABILITY: ("ping", "traceroute", "route_lookup", "interface_status"),
    Topic.ROUTING: ("route_lookup", "traceroute", "ospf_neighbors", "bgp_summary"),
}
_TOPIC_RANK = (Topic.BGP, Topic.OSPF, Topic.INTERFACE, Topic.MTU, Topic.DNS, Topic.REACHABILITY, Topic.ROUTING)
_HEALTH = ("bgp_summary", "ospf_neighbors", "interface_status")
_SPREAD = 2


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    """One read-only tool call the gateway should run: the tool, its validated arguments, and why."""

    tool: str
    arguments: dict[str, Any] = field(hash=False)
    reason: str

    @property
    def arguments_json(self) -> str:
        """The arguments as the JSON string a tool call carries."""
        return json.dumps(self.arguments, sort_keys=True)


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where checks may run: the routers to examine, and where ping/dig run from."""

    routers: tuple[str, ...]
    probe: str
    dns_probe: str


def plan_checks(
    entities: Entities,
    network: NetworkMap,
    excerpts: Iterable[str],
    ctx: ToolContext,
    registry: ToolRegistry,
    *,
    budget: int = DEFAULT_BUDGET,
) -> list[PlannedCheck]:
    """Up to `budget` granted, read-only, valid checks, most telling first (see the module docstring)."""
    named_by_runbook = unique(_NAMED.findall("\n".join(excerpts)))
    tools = _tool_order(entities.topics, named_by_runbook)
    scope = _scope(entities, network, budget)
    risks = registry.risks
    allowed = [t for t in tools if t in ctx.grants and risks.get(t) is Risk.READ]
    plan: list[PlannedCheck] = []
    for check in _ranked([list(_ARGUMENTS[t](entities, network, scope)) for t in allowed if t in _ARGUMENTS]):
        if len(plan) >= budget:
            break
        if _valid(check, ctx, registry) and all((c.tool, c.arguments) != (check.tool, check.arguments) for c in plan):
            runbook = " (named by the runbook)" if check.tool in named_by_runbook else ""
            plan.append(PlannedCheck(check.tool, check.arguments, check.reason + runbook))
    return plan


def _tool_order(topics: frozenset[Topic], named_by_runbook: Iterable[str]) -> tuple[str, ...]:
    """Tools by topic (interleaved by rank across topics), then those only the runbook names."""
    lists = [_ORDER[t] for t in _TOPIC_RANK if t in topics] or [_HEALTH]
    interleaved = [tools[i] for i in range(max(map(len, lists))) for tools in lists if i < len(tools)]
    return unique([*interleaved, *named_by_runbook])


def _scope(entities: Entities, network: NetworkMap, budget: int) -> _Scope:
    """The routers to examine (named or implied; all routers of a small network when none is) and the probes."""
    routers = tuple(d for d in entities.devices if d in network.routers)
    probes = [d for d in entities.devices if d in network.probes]
    if not routers:  # a named host: the router it hangs off
        routers = unique(
            p.remote for h in probes for p in network.ports if p.device == h and p.remote in network.routers
        )
    if not routers and len(network.routers) <= budget:
        routers = network.routers
    hosts = [p for p in network.probes if p not in network.routers]
    probe = next(iter([*probes, *(r for r in routers if r in network.probes), *network.probes]), "")
    dns_probe = next(iter([*(p for p in probes if p not in network.routers), *hosts, probe]), "")
    return _Scope(routers, probe, dns_probe)


def _ranked(groups: list[list[PlannedCheck]]) -> list[PlannedCheck]:
    """Checks by score: a tool's rank plus `_SPREAD` per earlier check of the same tool, so the second look
    of a top tool (the far end of a link) comes before the first of a tool ranked far below."""
    scored = [(rank + _SPREAD * i, rank, check) for rank, group in enumerate(groups) for i, check in enumerate(group)]
    return [check for _, _, check in sorted(scored, key=lambda item: (item[0], item[1]))]


def _valid(check: PlannedCheck, ctx: ToolContext, registry: ToolRegistry) -> bool:
    try:
        registry.check(check.tool, check.arguments, ctx)
    except ToolError:
        return False
    return True


_Arguments = Callable[[Entities, NetworkMap, _Scope], Iterator[PlannedCheck]]


def _per_router(tool: str, what: str) -> _Arguments:
    def arguments(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
        for router in scope.routers:
            yield PlannedCheck(tool, {"device": router}, f"{what} on {router}")

    return arguments


def _bgp_neighbor(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    """Each named session in detail, then the same session seen from the peer's side (a one-sided setting)."""
    for peer in entities.peers:
        if peer.device in network.routers:
            args = {"device": peer.device, "peer": peer.address}
            yield PlannedCheck("bgp_neighbor", args, f"BGP neighbor {peer.address} of {peer.device} in detail")
    for peer in entities.peers:
        port = network.owner(peer.address)
        if port is not None and port.remote == peer.device and port.device in network.routers:
            args = {"device": port.device, "peer": port.remote_address}
            yield PlannedCheck("bgp_neighbor", args, f"the same session from {port.device}'s side")


def _interface_status(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    """Named interfaces, their far ends, the interfaces facing named peers; else every interface per router."""
    ports = list(_named_ports(entities, network))
    for item in ports:
        if item.port.device in network.routers:
            args = {"device": item.port.device, "interface": item.port.name}
            yield PlannedCheck("interface_status", args, f"{item.port.name} on {item.port.device} ({item.why})")
    if not ports:
        for router in scope.routers:
            yield PlannedCheck("interface_status", {"device": router}, f"every interface of {router}")


@dataclass(frozen=True, slots=True)
class _Why:
    """A port worth checking, and why."""

    port: Port
    why: str


def _named_ports(entities: Entities, network: NetworkMap) -> Iterator[_Why]:
    """Each named interface and its link's far end, then the interface facing each named peer."""
    for ref in entities.interfaces:
        port = network.port(ref.device, ref.name) or Port(ref.device, ref.name, "")
        yield _Why(port, "named")
        far = network.far_end(port)
        if far is not None:
            yield _Why(far, f"far end of {port.name}")
    for peer in entities.peers:
        facing = network.facing(peer.device, peer.remote) if peer.remote else None
        if facing is not None:
            yield _Why(facing, f"towards {peer.address}")


def _ping(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    """Across each named peer's and link's path, then to each other address, then to the DNS server."""
    for peer in entities.peers:
        if peer.device in network.probes:
            yield PlannedCheck(
                "ping", {"device": peer.device, "target": peer.address}, f"reach BGP peer {peer.address}"
            )
    for ref in entities.interfaces:
        port = network.port(ref.device, ref.name)
        if port is not None and port.remote_address and port.device in network.probes:
            args = {"device": port.device, "target": port.remote_address}
            yield PlannedCheck("ping", args, f"across {port.name} to {port.remote or port.remote_address}")
    for target in _targets(entities, scope.probe):
        yield PlannedCheck("ping", {"device": scope.probe, "target": target}, f"reach {target} from {scope.probe}")
    if Topic.DNS in entities.topics:
        for server in _dns_servers(entities, network):
            yield PlannedCheck("ping", {"device": scope.dns_probe, "target": server}, f"reach DNS server {server}")


def _traceroute(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    for target in _targets(entities, scope.probe):
        yield PlannedCheck("traceroute", {"device": scope.probe, "target": target}, f"path to {target}")


def _route_lookup(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    """Prefixes and addresses beyond the router (not its own, not a link peer) from each router in scope."""
    destinations = [*entities.prefixes]
    destinations += [a.address for a in entities.addresses if a.address not in {p.address for p in entities.peers}]
    if Topic.DNS in entities.topics:
        destinations += _dns_servers(entities, network)
    for router in scope.routers:
        for dest in unique(destinations):
            owner = network.owner(dest)
            if owner is None or owner.device != router:
                yield PlannedCheck(
                    "route_lookup", {"device": router, "destination": dest}, f"{router}'s route to {dest}"
                )


def _dns_query(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    """Each named host (or a name the DNS is known to serve) against each DNS server, from the client side."""
    asked = [h.name for h in entities.hostnames]
    names = [*asked, *[n for n in network.hosts if n not in asked][:1]]  # and one the DNS should know: which fails?
    for server in _dns_servers(entities, network):
        for name in names:
            args = {"device": scope.dns_probe, "name": name, "server": server}
            yield PlannedCheck("dns_query", args, f"resolve {name} at {server} from {scope.dns_probe}")


def _dns_lookup(entities: Entities, network: NetworkMap, scope: _Scope) -> Iterator[PlannedCheck]:
    if not _dns_servers(entities, network):
        for host in entities.hostnames:
            yield PlannedCheck("dns_lookup", {"name": host.name}, f"resolve {host.name} with the system resolver")


def _targets(entities: Entities, probe: str) -> list[str]:
    """Addresses worth probing: not the probe's own, not a BGP peer (those are pinged from their router)."""
    peers = {p.address for p in entities.peers}
    return [a.address for a in entities.addresses if a.device != probe and a.address not in peers]


def _dns_servers(entities: Entities, network: NetworkMap) -> list[str]:
    named = [a.address for a in entities.addresses if a.address in network.dns_servers]
    return named or list(network.dns_servers[:1])


_ARGUMENTS: dict[str, _Arguments] = {
    "bgp_summary": _per_router("bgp_summary", "BGP sessions"),
    "ospf_neighbors": _per_router("ospf_neighbors", "OSPF adjacencies"),
    "bgp_neighbor": _bgp_neighbor,
    "interface_status": _interface_status,
    "ping": _ping,
    "traceroute": _traceroute,
    "route_lookup": _route_lookup,
    "dns_query": _dns_query,
    "dns_lookup": _dns_lookup,
}
