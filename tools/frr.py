"""Read-only network tools over the tenant's devices: BGP, OSPF, routes, interfaces, config, ping, traceroute.

Each tool validates its arguments (device name, IPv4 address or prefix, interface name, hostname) with
pydantic, then runs exactly one allow-listed template through `Devices` on a device of the caller's tenant.

Example:
    registry = ToolRegistry(read_tools(devices))
    await registry.invoke("bgp_summary", '{"device": "r1"}', ctx)
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from guardrails import ScanContext, SecretsScanner, Stage, Vault
from tools import summaries
from tools.commands import ALLOW_LIST
from tools.devices import Devices
from tools.dns import Hostname
from tools.registry import Risk, Tool, ToolContext

__all__ = ["DeviceName", "InterfaceName", "read_tools"]

DeviceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
InterfaceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,31}$")]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: DeviceName = Field(description="Device name from the tenant's inventory, e.g. r1")


class PeerArgs(_Args):
    peer: IPv4Address = Field(description="The BGP neighbor's address")


class RouteArgs(_Args):
    destination: IPv4Address | IPv4Network = Field(description="An IPv4 address or prefix, e.g. 10.3.0.0/24")


class InterfaceArgs(_Args):
    interface: InterfaceName | None = Field(None, description="Interface name; omit for every interface")


class PingArgs(_Args):
    target: IPv4Address = Field(description="The address to ping from the device")
    count: int = Field(3, ge=1, le=5)


class TraceArgs(_Args):
    target: IPv4Address = Field(description="The address to trace to from the device")
    max_hops: int = Field(8, ge=1, le=15)


class DnsQueryArgs(_Args):
    name: Hostname = Field(description="The name to resolve")
    server: IPv4Address = Field(description="The DNS server to ask")
    record_type: str = Field("A", pattern=r"^(A|AAAA|PTR|NS|SOA|MX|TXT)$")


class _DeviceTool:
    risk: ClassVar[Risk] = Risk.READ
    timeout_s: ClassVar[float] = 10.0

    def __init__(self, devices: Devices) -> None:
        self._devices = devices


class BgpSummary(_DeviceTool):
    """BGP sessions of a device and their states."""

    name: ClassVar[str] = "bgp_summary"
    description: ClassVar[str] = "BGP summary of a device: each neighbor, its AS, state (Established or not), prefixes."
    Args: ClassVar[type[BaseModel]] = _Args

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, _Args)
        _, raw = await self._devices.run(ctx.tenant, args.device, "bgp_summary")
        return summaries.bgp_summary(args.device, raw)


class BgpNeighbor(_DeviceTool):
    """One BGP neighbor in detail."""

    name: ClassVar[str] = "bgp_neighbor"
    description: ClassVar[str] = (
        "Detail of one BGP neighbor of a device: state, last reset reason, password, prefixes, filters."
    )
    Args: ClassVar[type[BaseModel]] = PeerArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, PeerArgs)
        _, raw = await self._devices.run(ctx.tenant, args.device, "bgp_neighbor", peer=args.peer)
        return summaries.bgp_neighbor(args.device, str(args.peer), raw)


class OspfNeighbors(_DeviceTool):
    """OSPF adjacencies of a device."""

    name: ClassVar[str] = "ospf_neighbors"
    description: ClassVar[str] = "OSPF neighbors of a device with their state (Full or not) and interface."
    Args: ClassVar[type[BaseModel]] = _Args

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, _Args)
        _, raw = await self._devices.run(ctx.tenant, args.device, "ospf_neighbors")
        return summaries.ospf_neighbors(args.device, raw)


class RouteLookup(_DeviceTool):
    """The route a device uses for an address or prefix."""

    name: ClassVar[str] = "route_lookup"
    description: ClassVar[str] = "Look up the route a device uses for an IPv4 address or prefix: protocol, next hop."
    Args: ClassVar[type[BaseModel]] = RouteArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, RouteArgs)
        _, raw = await self._devices.run(ctx.tenant, args.device, "route_lookup", prefix=args.destination)
        return summaries.route_lookup(args.device, str(args.destination), raw)


class InterfaceStatus(_DeviceTool):
    """Interface states; for one interface also its counters and OSPF (cost, timers, MTU, neighbors)."""

    name: ClassVar[str] = "interface_status"
    description: ClassVar[str] = (
        "Interface status and MTU of a device; with an interface name, also its counters and OSPF cost and timers."
    )
    Args: ClassVar[type[BaseModel]] = InterfaceArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, InterfaceArgs)
        if args.interface is None:
            _, raw = await self._devices.run(ctx.tenant, args.device, "interfaces")
            return summaries.interfaces(args.device, raw)
        device, raw = await self._devices.run(ctx.tenant, args.device, "interface", interface=args.interface)
        text = summaries.interfaces(args.device, raw)
        if text.endswith("no such interface"):
            return text
        if device.netns:
            _, stats = await self._devices.run(ctx.tenant, args.device, "counters", interface=args.interface)
            text += "\n" + summaries.counters(stats)
        if "ospf_interface" in ALLOW_LIST.templates(device.platform):
            _, ospf = await self._devices.run(ctx.tenant, args.device, "ospf_interface", interface=args.interface)
            text += "\n" + summaries.ospf_interface(args.interface, ospf)
        return text.rstrip()


class ShowRunningConfig(_DeviceTool):
    """The running configuration, with every credential replaced by a placeholder."""

    name: ClassVar[str] = "show_running_config"
    description: ClassVar[str] = "The running configuration of a device, with secrets redacted."
    Args: ClassVar[type[BaseModel]] = _Args

    def __init__(self, devices: Devices) -> None:
        super().__init__(devices)
        self._scanner = SecretsScanner()

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, _Args)
        _, raw = await self._devices.run(ctx.tenant, args.device, "running_config")
        return self._scanner.scan(raw, ScanContext(ctx.tenant, Stage.CONTEXT, Vault())).text


class Ping(_DeviceTool):
    """ICMP echo from a device's namespace."""

    name: ClassVar[str] = "ping"
    description: ClassVar[str] = "Ping an IPv4 address from a device: loss and round-trip times."
    timeout_s: ClassVar[float] = 15.0
    Args: ClassVar[type[BaseModel]] = PingArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, PingArgs)
        _, raw = await self._devices.run(ctx.tenant, args.device, "ping", count=args.count, target=args.target)
        return raw.strip()


class Traceroute(_DeviceTool):
    """The path from a device to an address."""

    name: ClassVar[str] = "traceroute"
    description: ClassVar[str] = "Traceroute from a device to an IPv4 address: each hop."
    timeout_s: ClassVar[float] = 30.0
    Args: ClassVar[type[BaseModel]] = TraceArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, TraceArgs)
        _, raw = await self._devices.run(
            ctx.tenant, args.device, "traceroute", max_hops=args.max_hops, target=args.target, timeout_s=25.0
        )
        return raw.strip()


class DnsQuery(_DeviceTool):
    """A DNS query from a device's namespace to a given server."""

    name: ClassVar[str] = "dns_query"
    description: ClassVar[str] = "Ask a DNS server (from a device) for a name's records."
    Args: ClassVar[type[BaseModel]] = DnsQueryArgs

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        assert isinstance(args, DnsQueryArgs)
        _, raw = await self._devices.run(
            ctx.tenant, args.device, "dns_query", server=args.server, name=args.name, rtype=args.record_type
        )
        return summaries.dns_answer(args.name, args.record_type, str(args.server), raw)


def read_tools(devices: Devices) -> list[Tool]:
    """Every read-only device tool over the given device access."""
    classes: list[type[_DeviceTool]] = [
        BgpSummary, BgpNeighbor, OspfNeighbors, RouteLookup, InterfaceStatus, ShowRunningConfig, Ping, Traceroute,
        DnsQuery,
    ]  # fmt: skip
    return [cls(devices) for cls in classes]  # type: ignore[misc]
