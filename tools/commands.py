"""The per-platform allow-list of command templates: the only commands that ever reach a device.

A template is a fixed sequence of lines (vtysh / CLI) or a fixed argument list (run inside the device's
network namespace) with `{name}` slots. Slot values must be plain tokens (letters, digits, `_.:/-`), so no
value can add a word, a line or a shell metacharacter. A `Command` is only made by `ALLOW_LIST.render`, and
transports call `ALLOW_LIST.verify` again right before sending.

Example:
    cmd = ALLOW_LIST.render("frr", "bgp_neighbor", peer="10.0.12.2")
    cmd.lines  # ("show bgp neighbors 10.0.12.2 json",)
    ALLOW_LIST.render("frr", "configure terminal")  # raises CommandNotAllowed
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from tools.errors import CommandNotAllowed
from tools.registry import Risk

__all__ = ["ALLOW_LIST", "AllowList", "Command", "Kind", "Template"]

_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


class Kind(enum.StrEnum):
    """How a command is delivered: CLI lines (vtysh, SSH) or an argument list run in the device's namespace."""

    CLI = "cli"
    EXEC = "exec"


@dataclass(frozen=True, slots=True)
class Template:
    """One allow-listed command: its kind, risk, lines (or argv) with `{slot}` placeholders, and the exit codes
    that still mean "here is a result" (ping exits 1 on loss, dig 9 when no server answers)."""

    kind: Kind
    risk: Risk
    lines: tuple[str, ...]
    ok_codes: tuple[int, ...] = (0,)

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(f for line in self.lines for _, f, _, _ in string.Formatter().parse(line) if f)


@dataclass(frozen=True, slots=True)
class Command:
    """A rendered, allow-listed command for one platform."""

    platform: str
    template: str
    kind: Kind
    risk: Risk
    lines: tuple[str, ...]
    params: tuple[tuple[str, str], ...]
    ok_codes: tuple[int, ...] = (0,)


def _cli(*lines: str, risk: Risk = Risk.READ) -> Template:
    return Template(Kind.CLI, risk, lines)


def _exec(*argv: str, ok: tuple[int, ...] = (0, 1)) -> Template:
    return Template(Kind.EXEC, Risk.READ, argv, ok)


_C = Risk.CHANGE
_DIG = ("dig", "+time=1", "+tries=1", "+nocmd", "+noall", "+answer", "+comments")  # the status line and records
FRR: dict[str, Template] = {
    "bgp_summary": _cli("show bgp summary json"),
    "bgp_neighbor": _cli("show bgp neighbors {peer} json"),
    "ospf_neighbors": _cli("show ip ospf neighbor json"),
    "route_lookup": _cli("show ip route {prefix} json"),
    "interface": _cli("show interface {interface} json"),
    "interfaces": _cli("show interface json"),
    "running_config": _cli("show running-config"),
    "ping": _exec("ping", "-n", "-c", "{count}", "-W", "1", "-i", "0.2", "{target}"),
    "traceroute": _exec("traceroute", "-n", "-w", "1", "-q", "1", "-m", "{max_hops}", "{target}"),
    "counters": _exec("ip", "-s", "-j", "link", "show", "dev", "{interface}"),
    "dns_query": _exec(*_DIG, "@{server}", "{name}", "{rtype}", ok=(0, 9)),
    "interface_shutdown": _cli("configure terminal", "interface {interface}", "shutdown", risk=_C),
    "interface_no_shutdown": _cli("configure terminal", "interface {interface}", "no shutdown", risk=_C),
    "bgp_clear": _cli("clear bgp {peer}", risk=_C),
    "ospf_interface": _cli("show ip ospf interface {interface} json"),
    "ospf_cost": _cli("configure terminal", "interface {interface}", "ip ospf cost {cost}", risk=_C),
    "ospf_cost_reset": _cli("configure terminal", "interface {interface}", "no ip ospf cost", risk=_C),
}
EOS: dict[str, Template] = {
    "bgp_summary": _cli("show ip bgp summary | json"),
    "bgp_neighbor": _cli("show ip bgp neighbors {peer} | json"),
    "ospf_neighbors": _cli("show ip ospf neighbor | json"),
    "route_lookup": _cli("show ip route {prefix} | json"),
    "interface": _cli("show interfaces {interface} | json"),
    "running_config": _cli("show running-config"),
}
JUNOS: dict[str, Template] = {
    "bgp_summary": _cli("show bgp summary | display json"),
    "bgp_neighbor": _cli("show bgp neighbor {peer} | display json"),
    "ospf_neighbors": _cli("show ospf neighbor | display json"),
    "route_lookup": _cli("show route {prefix} | display json"),
    "interface": _cli("show interfaces {interface} extensive | display json"),
    "running_config": _cli("show configuration"),
}
IOSXE: dict[str, Template] = {  # text output: parsed with TextFSM templates by the SSH transport
    "bgp_summary": _cli("show ip bgp summary"),
    "bgp_neighbor": _cli("show ip bgp neighbors {peer}"),
    "ospf_neighbors": _cli("show ip ospf neighbor"),
    "route_lookup": _cli("show ip route {prefix}"),
    "interface": _cli("show interfaces {interface}"),
    "running_config": _cli("show running-config"),
}


class AllowList:
    """Templates by platform; renders and re-verifies commands."""

    def __init__(self, platforms: Mapping[str, Mapping[str, Template]]) -> None:
        self._platforms = {p: dict(t) for p, t in platforms.items()}

    def templates(self, platform: str) -> dict[str, Template]:
        return dict(self._platforms.get(platform, {}))

    def render(self, platform: str, template: str, **params: object) -> Command:
        """The command for a template; raises `CommandNotAllowed` for anything not allow-listed."""
        spec = self._platforms.get(platform, {}).get(template)
        if spec is None:
            raise CommandNotAllowed(f"{template!r} is not an allow-listed command for platform {platform!r}")
        values = {k: str(v) for k, v in params.items()}
        if set(values) != spec.slots:
            raise CommandNotAllowed(f"{template!r} takes {sorted(spec.slots)}, got {sorted(values)}")
        for name, value in values.items():
            if not _VALUE.match(value):
                raise CommandNotAllowed(f"value for {name!r} is not a plain token: {value[:40]!r}")
        lines = tuple(line.format(**values) for line in spec.lines)
        return Command(platform, template, spec.kind, spec.risk, lines, tuple(sorted(values.items())), spec.ok_codes)

    def verify(self, command: Command) -> None:
        """Re-render the command from its template and values; raises unless it is exactly that."""
        again = self.render(command.platform, command.template, **dict(command.params))
        if again != command:
            raise CommandNotAllowed(f"command {command.lines!r} does not match its allow-listed template")


ALLOW_LIST = AllowList({"frr": FRR, "arista_eos": EOS, "juniper_junos": JUNOS, "cisco_iosxe": IOSXE})
