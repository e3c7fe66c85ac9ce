"""Findings from the routing tools' text: `bgp_summary`, `bgp_neighbor`, `ospf_neighbors`, `route_lookup`.

Patterns are keyed on words the summaries state plainly (a BGP state with its reason in brackets, "last reset:",
"md5 password:", "N neighbors", "selected via PROTO (distance N): HOP on IFACE"), not on column positions, so
an added field does not break them. A line that does not match is skipped, never guessed at.

Example:
    parse_bgp_summary(Output.of(result), net)
    # [Finding(PROBLEM, 'r1', 'BGP neighbor 10.0.13.2 (r3)', 'Idle (Admin): administratively shut down', ...)]
"""

from __future__ import annotations

import re

from tools.diagnosis.facts import Finding, Output, Severity
from tools.diagnosis.network import NetworkMap

__all__ = ["parse_bgp_neighbor", "parse_bgp_summary", "parse_ospf_neighbors", "parse_route_lookup"]

_STATE = r"(Established|Idle|Active|Connect|OpenSent|OpenConfirm|Clearing|Deleted)(?:\s*\(([^)]*)\))?"
_SUMMARY_PEER = re.compile(rf"^(\d+\.\d+\.\d+\.\d+)\s+(?:\((\S*)\)\s+)?(?:AS\s*(\d+)\s+)?{_STATE}")
_RECEIVED = re.compile(r"prefixes received (\d+)")
_NEIGHBOR = re.compile(rf"BGP neighbor (\S+)(?: \((\S*)\))?(?: AS (\d+))?:.*?\bstate {_STATE}")
_RESET = re.compile(r"last reset: (.+?)(?:, \d+ s ago)?$")
_DROPPED = re.compile(r"\bdropped (\d+)")
_ACCEPTED = re.compile(r"(\d+) prefixes accepted")
_FILTER = re.compile(r"((?:inbound|outbound) (?:prefix-list|route-map) \S+)")
_OSPF_HEAD = re.compile(r"OSPF: (\d+) neighbors")
_OSPF_LINE = re.compile(r"^(\d+\.\d+\.\d+\.\d+)\s+(\S+)\s+via\s+(\S+)")
_ROUTE = re.compile(r"^(\S+) (\S+) (selected|candidate) via (\S+) \(distance (\d+)\): (.*)$")
_HOP_IFACE = re.compile(r" on (\S+?)(?:,|$)")
_REASONS = {
    "admin": "administratively shut down",
    "pfxct": "maximum-prefix limit exceeded",
    "policy": "no policy configured (ebgp-requires-policy)",
}
_BGP_STATES = {
    "Active": "not established: connecting fails (no TCP session, or the OPEN is refused)",
    "Connect": "not established: connecting fails (no TCP session, or the OPEN is refused)",
    "OpenSent": "stuck in the OPEN exchange",
    "OpenConfirm": "stuck in the OPEN exchange",
    "Idle": "not established",
}
_OSPF_STATES = {
    "ExStart": "stuck in ExStart: the database exchange does not complete (an MTU mismatch does this)",
    "Exchange": "stuck in Exchange: the database exchange does not complete (an MTU mismatch does this)",
    "Init": "stuck in Init: hellos arrive one way only",
    "Loading": "still loading the link-state database",
    "Down": "down",
    "Attempt": "down (attempting)",
}


def _bgp_fact(state: str, reason: str | None) -> str:
    """`Idle (Admin): administratively shut down`; a reason already in words (`admin shutdown`) stays alone."""
    label = f"{state} ({reason})" if reason else state
    if reason and " " in reason:
        return label
    meaning = _REASONS.get((reason or "").lower()) or _BGP_STATES.get(state, "")
    return f"{label}: {meaning}" if meaning else label


def _peer_name(address: str, hostname: str | None, network: NetworkMap) -> str:
    name = network.label(address) or (hostname if hostname and hostname != "?" else "")
    return f"BGP neighbor {address} ({name})" if name else f"BGP neighbor {address}"


def parse_bgp_summary(out: Output, network: NetworkMap) -> list[Finding]:
    """Each session's state; Established with 0 prefixes received; expected sessions that are missing."""
    found: list[Finding] = []
    seen: set[str] = set()
    for line in out.lines:
        match = _SUMMARY_PEER.match(line)
        if not match:
            continue
        address, hostname, _asn, state, reason = match.groups()
        seen.add(address)
        subject = _peer_name(address, hostname, network)
        received = _RECEIVED.search(line)
        if state != "Established":
            found.append(out.finding(Severity.PROBLEM, subject, _bgp_fact(state, reason), line))
        elif received and received.group(1) == "0":
            found.append(out.finding(Severity.PROBLEM, subject, "Established but 0 prefixes received", line))
        else:
            count = f", {received.group(1)} prefixes received" if received else ""
            found.append(out.finding(Severity.OK, subject, f"Established{count}", line))
    head = out.lines[0] if out.lines else ""
    for session in network.sessions_of(out.device):
        if head and session.peer not in seen:
            subject = _peer_name(session.peer, session.remote, network)
            found.append(out.finding(Severity.PROBLEM, subject, "missing from the BGP summary", head))
    return found


def parse_bgp_neighbor(out: Output, network: NetworkMap) -> list[Finding]:
    """State and last reset; the configured AS against the peer's known AS; 0 prefixes accepted; filters."""
    found: list[Finding] = []
    for line in out.lines:
        if line.endswith(f"no BGP neighbor {out.arg('peer')}"):
            subject = _peer_name(out.arg("peer"), None, network)
            found.append(out.finding(Severity.PROBLEM, subject, "is not configured", line))
        match = _NEIGHBOR.search(line)
        if match:
            found += _neighbor_head(out, line, match, network)
        accepted = _ACCEPTED.search(line)
        if accepted:
            found += _neighbor_family(out, line, accepted.group(1), network)
    return found


def _neighbor_head(out: Output, line: str, match: re.Match[str], network: NetworkMap) -> list[Finding]:
    address, hostname, asn, state, reason = match.groups()
    subject = _peer_name(address, hostname, network)
    reset = _RESET.search(line)
    last = f", last reset: {reset.group(1)}" if reset and reset.group(1) != "never" else ""
    dropped = _DROPPED.search(line)
    found: list[Finding] = []
    if state != "Established":
        found.append(out.finding(Severity.PROBLEM, subject, f"{_bgp_fact(state, reason)}{last}", line))
    elif dropped and dropped.group(1) != "0":
        found.append(out.finding(Severity.OK, subject, f"Established (dropped {dropped.group(1)} times{last})", line))
    else:
        found.append(out.finding(Severity.OK, subject, "Established", line))
    remote = network.label(address)
    known = network.asns.get(remote)
    if asn and known is not None and int(asn) != known:
        fact = f"configured with remote AS {asn}, but {remote} is AS {known}"
        found.append(out.finding(Severity.PROBLEM, subject, fact, line))
    return found


def _neighbor_family(out: Output, line: str, accepted: str, network: NetworkMap) -> list[Finding]:
    subject = _peer_name(out.arg("peer"), None, network)
    filters = _FILTER.findall(line)
    established = any("state Established" in other for other in out.lines)
    if accepted == "0" and established:
        why = f" ({', '.join(filters)})" if filters else ""
        return [out.finding(Severity.PROBLEM, subject, f"Established but 0 prefixes accepted{why}", line)]
    if filters:
        return [out.finding(Severity.INFO, subject, f"{accepted} prefixes accepted, {', '.join(filters)}", line)]
    return []


def parse_ospf_neighbors(out: Output, network: NetworkMap) -> list[Finding]:
    """Each adjacency short of Full; expected adjacencies (one per router link) that are missing."""
    found: list[Finding] = []
    present: set[str] = set()
    head = next((line for line in out.lines if _OSPF_HEAD.search(line)), "")
    for line in out.lines:
        match = _OSPF_LINE.match(line)
        if not match:
            continue
        router_id, state, iface = match.groups()
        present.add(iface)
        base, _, role = state.partition("/")
        name = network.label(router_id)
        subject = f"OSPF neighbor {router_id}{f' ({name})' if name else ''} on {iface}"
        if base == "Full" or (base == "2-Way" and role == "DROther"):
            found.append(out.finding(Severity.OK, subject, state, line))
        else:
            found.append(out.finding(Severity.PROBLEM, subject, f"{state}: {_OSPF_STATES.get(base, 'not Full')}", line))
    for port in network.neighbors_expected(out.device):
        if head and port.name not in present:
            fact = f"missing: no adjacency with {port.remote} on a router link"
            found.append(out.finding(Severity.PROBLEM, f"OSPF neighbor on {port.name}", fact, head))
    return found


def parse_route_lookup(out: Output, network: NetworkMap) -> list[Finding]:
    """No route; blackholes; routes that detour around a direct link to the prefix's owner; missing BGP."""
    destination = out.arg("destination")
    found: list[Finding] = []
    protocols: set[str] = set()
    prefix = ""
    for line in out.lines:
        if line.endswith(f"no route to {destination}"):
            found.append(out.finding(Severity.PROBLEM, f"route to {destination}", "none: no route", line))
        match = _ROUTE.match(line)
        if match:
            prefix, protocols = match.group(2), protocols | {match.group(4)}
            found += _route_line(out, line, match, network)
    origin = network.originated_by(prefix)
    if prefix and origin and origin != out.device and network.sessions_of(out.device) and "bgp" not in protocols:
        fact = f"has no BGP route (originated by {origin}), only {', '.join(sorted(protocols))}"
        found.append(out.finding(Severity.PROBLEM, f"route to {prefix}", fact, out.lines[0]))
    return found


def _route_line(out: Output, line: str, match: re.Match[str], network: NetworkMap) -> list[Finding]:
    _device, prefix, mark, protocol, distance, hops = match.groups()
    subject = f"{protocol} route to {prefix}"
    if "blackhole" in hops or "unreachable" in hops:
        severity = Severity.PROBLEM if mark == "selected" else Severity.INFO
        return [out.finding(severity, subject, f"{mark}, distance {distance}: {hops}", line)]
    found = [out.finding(Severity.INFO, subject, f"{mark} (distance {distance}) via {hops}", line)]
    used = set(_HOP_IFACE.findall(hops))
    owners = [o for o in network.owners_of(prefix) if o != out.device]
    direct = [p for p in (network.facing(out.device, o) for o in owners) if p is not None]
    if direct and protocol not in {"connected", "local", "kernel"} and not used & {p.name for p in direct}:
        links = " or ".join(p.name for p in direct)
        fact = f"goes via {', '.join(sorted(used)) or hops}, not the direct link {links} to {', '.join(owners)}"
        found.append(out.finding(Severity.PROBLEM, subject, fact, line))
    return found
