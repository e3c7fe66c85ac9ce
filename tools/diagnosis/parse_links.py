"""Findings about links: `interface_status` lines, and what only shows when both ends of a link (or of a BGP
session) were checked: an MTU, OSPF timer, cost or area that differs, an MD5 password set on one side only.

Example:
    parse_interface_status(Output.of(result), net)
    # [Finding(PROBLEM, 'r1', 'interface r1-r3', 'admin down oper down: shut down', ...)]
    across_links([Output.of(r) for r in results], net)
    # [Finding(PROBLEM, 'r1', 'link r1-r3 to r3 r3-r1', 'mtu 1400 here, 1500 at r3 r3-r1', ...)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tools.diagnosis.facts import Finding, Output, Severity
from tools.diagnosis.network import NetworkMap

__all__ = ["across_links", "across_sessions", "parse_interface_status"]

_IFACE = re.compile(r"^(\S+) (\S+): admin (\S+) oper (\S+)")
_MTU = re.compile(r"\bmtu (\d+)")
_COUNTERS = re.compile(r"(rx|tx) (\d+) packets (?:\d+ bytes )?(\d+) errors (\d+) dropped")
_OSPF = re.compile(r"^ospf: (.*)$")
_OSPF_FIELDS = {
    "area": re.compile(r"\barea (\S+)"),
    "cost": re.compile(r"\bcost (\d+)"),
    "hello": re.compile(r"\bhello (\S+ s)"),
    "dead": re.compile(r"\bdead (\S+ s)"),
    "mtu": re.compile(r"\bmtu (\d+)"),
}
_ADJACENT = re.compile(r"(\d+) neighbors?, (\d+) adjacent")
_MD5 = re.compile(r"md5 password: (\w+)")


def parse_interface_status(out: Output, network: NetworkMap) -> list[Finding]:
    """Admin or oper down, errors and drops in the counters, OSPF on the interface without an adjacency."""
    found: list[Finding] = []
    iface = out.arg("interface")
    for line in out.lines:
        if line.endswith("no such interface"):
            found.append(out.finding(Severity.PROBLEM, f"interface {iface or '?'}", "does not exist", line))
        match = _IFACE.match(line)
        if match:
            iface = match.group(2)
            found += _status(out, line, iface, match.group(3), match.group(4))
        for direction, _packets, errors, dropped in _COUNTERS.findall(line):
            if int(errors):
                found.append(out.finding(Severity.PROBLEM, f"interface {iface}", f"{errors} {direction} errors", line))
            if int(dropped):
                found.append(out.finding(Severity.INFO, f"interface {iface}", f"{dropped} {direction} dropped", line))
        ospf = _OSPF.match(line)
        if ospf:
            found += _ospf(out, line, iface, network)
    return found


def _status(out: Output, line: str, iface: str, admin: str, oper: str) -> list[Finding]:
    subject = f"interface {iface}"
    mtu = _MTU.search(line)
    detail = f", mtu {mtu.group(1)}" if mtu else ""
    if admin == "down":
        return [out.finding(Severity.PROBLEM, subject, f"admin down oper {oper}: shut down{detail}", line)]
    if oper == "down":
        return [out.finding(Severity.PROBLEM, subject, f"admin up oper down: no carrier{detail}", line)]
    if iface == "lo" or not out.arg("interface"):
        return []  # every interface listed: only the faulty ones are findings
    return [out.finding(Severity.OK, subject, f"admin {admin} oper {oper}{detail}", line)]


def _ospf(out: Output, line: str, iface: str, network: NetworkMap) -> list[Finding]:
    fields = {k: m.group(1) for k, p in _OSPF_FIELDS.items() if (m := p.search(line))}
    summary = ", ".join(f"{k} {v}" for k, v in fields.items() if k in {"cost", "hello", "dead"})
    found = [out.finding(Severity.INFO, f"OSPF on {iface}", summary or line.removeprefix("ospf: "), line)]
    adjacent = _ADJACENT.search(line)
    expected = any(p.name == iface for p in network.neighbors_expected(out.device))
    if adjacent and expected and adjacent.group(2) == "0":
        fact = f"{adjacent.group(1)} neighbors, 0 adjacent: no OSPF adjacency on a router link"
        found.append(out.finding(Severity.PROBLEM, f"OSPF on {iface}", fact, line))
    return found


@dataclass(frozen=True, slots=True)
class _End:
    """One checked end of a link: the output, its interface, and the lines holding each value."""

    out: Output
    interface: str
    values: dict[str, str]
    lines: dict[str, str]


def _ends(outputs: Iterable[Output]) -> list[_End]:
    ends: list[_End] = []
    for out in outputs:
        if out.tool != "interface_status" or not out.arg("interface"):
            continue
        values: dict[str, str] = {}
        lines: dict[str, str] = {}
        for line in out.lines:
            if _IFACE.match(line) and (mtu := _MTU.search(line)):
                values["mtu"], lines["mtu"] = mtu.group(1), line
            if _OSPF.match(line):
                for key, pattern in _OSPF_FIELDS.items():
                    if key != "mtu" and (m := pattern.search(line)):
                        values[f"ospf {key}"], lines[f"ospf {key}"] = m.group(1), line
        ends.append(_End(out, out.arg("interface"), values, lines))
    return ends


def across_links(outputs: Sequence[Output], network: NetworkMap) -> list[Finding]:
    """Values that differ between the two checked ends of one link (MTU, OSPF area, cost, hello, dead)."""
    ends = _ends(outputs)
    found: list[Finding] = []
    for i, a in enumerate(ends):
        port = network.port(a.out.device, a.interface)
        far = network.far_end(port) if port else None
        for b in ends[i + 1 :]:
            if far is None or (b.out.device, b.interface) != (far.device, far.name):
                continue
            for key in sorted(a.values.keys() & b.values.keys()):
                if a.values[key] != b.values[key]:
                    subject = f"link {a.interface} to {b.out.device} {b.interface}"
                    fact = f"{key} {a.values[key]} here, {b.values[key]} at {b.out.device} {b.interface}"
                    found.append(a.out.finding(Severity.PROBLEM, subject, fact, a.lines[key]))
    return found


def across_sessions(outputs: Sequence[Output], network: NetworkMap) -> list[Finding]:
    """An MD5 password set on one end of a BGP session and not on the other."""
    md5: dict[tuple[str, str], tuple[Output, str]] = {}
    for out in outputs:
        match = _MD5.search(out.text) if out.tool == "bgp_neighbor" else None
        if match:
            md5[(out.device, out.arg("peer"))] = (out, match.group(1))
    found: list[Finding] = []
    for (device, peer), (out, value) in md5.items():
        port = network.owner(peer)
        if port is None or port.remote != device:
            continue
        other = md5.get((port.device, port.remote_address))
        if other is not None and other[1] != value and value != "none":
            line = next(line for line in out.lines if "md5 password:" in line)
            fact = f"MD5 password {value} on {device}, {other[1]} on {port.device}: the session cannot authenticate"
            found.append(out.finding(Severity.PROBLEM, f"BGP session {device} - {port.device}", fact, line))
    return found
