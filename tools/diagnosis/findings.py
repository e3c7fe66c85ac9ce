"""Findings: typed facts read from the read tools' text output, each with the exact line it comes from.

A `Finding` names a fault and its place ("r1: BGP neighbor 10.0.13.2 (r3) Idle (Admin)", "r1: interface r1-r3
admin down", "r1: ping 10.0.13.2 (r3) across r1-r3 100% loss", "dns: DNS server 10.3.0.53 not answering:
connection refused", "r1: link r1-r3 to r3 r3-r1 mtu 1400 here, 1500 at r3 r3-r1").
Findings come only from tool output text, the entities and the `NetworkMap` (what should be there: a router's
BGP sessions and OSPF links, the direct link to a prefix's owner, the address a name should resolve to), never
from a model. Each `evidence` is a line, stripped, that literally appears in the tool's output.

`render_findings` formats them as a short plain-text block, problems first, for the model and the user.

Left out: vendor output other than this gateway's own tool summaries, IPv6, history (a finding is about now).

Example:
    found = findings_from(results, entities, network)
    print(render_findings(found, checks=4))
    # Findings from 4 read-only checks: 1 problem
    # PROBLEM r1: BGP neighbor 10.0.13.2 (r3) Idle (Admin): administratively shut down
    #   evidence (bgp_summary r1): 10.0.13.2 (r3) AS 65003 Idle (Admin) up/down 00:00:07 prefixes received 0 sent 0
    # ok r1: BGP neighbor 10.0.12.2 (r2) Established, 2 prefixes received
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from tools.diagnosis.entities import Entities
from tools.diagnosis.facts import Finding, Output, Severity
from tools.diagnosis.network import NetworkMap
from tools.diagnosis.parse_links import across_links, across_sessions, parse_interface_status
from tools.diagnosis.parse_probes import parse_dns_lookup, parse_dns_query, parse_ping, parse_traceroute
from tools.diagnosis.parse_routing import (
    parse_bgp_neighbor,
    parse_bgp_summary,
    parse_ospf_neighbors,
    parse_route_lookup,
)
from tools.registry import ToolResult

__all__ = ["Finding", "Severity", "findings_from", "render_findings"]


def findings_from(
    results: Iterable[ToolResult], entities: Entities, network: NetworkMap | None = None
) -> list[Finding]:
    """Findings from each tool's output, then those that need two outputs (MTU of both ends of a link).

    `network` adds expectations (missing neighbors, detours, wrong DNS answers); without it only what the
    output itself says is found.
    """
    net = network or NetworkMap(tenant="", devices=entities.devices)
    outputs = [Output.of(r) for r in results]
    found: list[Finding] = []
    for out in outputs:
        found += _PARSERS.get(out.tool, _nothing)(out, entities, net)
    found += across_links(outputs, net) + across_sessions(outputs, net)
    return list(dict.fromkeys(found))


_Parser = Callable[[Output, Entities, NetworkMap], list[Finding]]


def _nothing(out: Output, entities: Entities, network: NetworkMap) -> list[Finding]:
    return []  # a tool without a parser (show_running_config) adds no findings


def _no_entities(parse: Callable[[Output, NetworkMap], list[Finding]]) -> _Parser:
    return lambda out, _entities, network: parse(out, network)


_PARSERS: dict[str, _Parser] = {
    "bgp_summary": _no_entities(parse_bgp_summary),
    "bgp_neighbor": _no_entities(parse_bgp_neighbor),
    "ospf_neighbors": _no_entities(parse_ospf_neighbors),
    "route_lookup": _no_entities(parse_route_lookup),
    "interface_status": _no_entities(parse_interface_status),
    "ping": parse_ping,
    "traceroute": parse_traceroute,
    "dns_query": parse_dns_query,
    "dns_lookup": parse_dns_lookup,
}


_ORDER = {Severity.PROBLEM: 0, Severity.INFO: 1, Severity.OK: 2}


def render_findings(findings: Sequence[Finding], *, checks: int | None = None, max_other: int = 8) -> str:
    """A short plain-text block: problems first with their evidence, then up to `max_other` other findings."""
    ranked = sorted(findings, key=lambda f: _ORDER[f.severity])
    problems = [f for f in ranked if f.severity is Severity.PROBLEM]
    others = [f for f in ranked if f.severity is not Severity.PROBLEM]
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "no problem found"
    source = f"{checks} read-only checks" if checks is not None else "read-only checks"
    lines = [f"Findings from {source}: {count}"]
    for f in problems:
        lines += [f"PROBLEM {f.headline}", f"  evidence ({f.tool}{_on(f)}): {f.evidence}"]
    lines += [f"{f.severity.value} {f.headline}" for f in others[:max_other]]
    if len(others) > max_other:
        lines.append(f"({len(others) - max_other} more findings not shown)")
    return "\n".join(lines)


def _on(finding: Finding) -> str:
    where = finding.checked_on or finding.device
    return f" {where}" if where else ""
