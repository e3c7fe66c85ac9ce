"""Findings from the probes: `ping` (loss, unreachable), `traceroute` (where the path stops), `dns_query` and
`dns_lookup` (no server, no record, a wrong answer).

A probe is placed where it ran and what it crossed: a ping from r1 to 10.0.13.2 is "across r1-r3 (to r3)"
when the `NetworkMap` knows that link, so a loss names the link. A DNS finding is placed on the server's node
("dns: DNS server 10.3.0.53 connection refused").

Example:
    parse_ping(Output.of(result), entities, net)
    # [Finding(PROBLEM, 'r1', 'ping 10.0.13.2 (r3) across r1-r3', '100% loss (3 sent, 0 received)', ...)]
"""

from __future__ import annotations

import re

from tools.diagnosis.entities import Entities
from tools.diagnosis.facts import Finding, Output, Severity, addresses_in
from tools.diagnosis.network import NetworkMap

__all__ = ["parse_dns_lookup", "parse_dns_query", "parse_ping", "parse_traceroute"]

_LOSS = re.compile(r"(\d+) packets transmitted, (\d+) received.*?(\d+(?:\.\d+)?)% packet loss")
_RTT = re.compile(r"= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms")
_UNREACHABLE = re.compile(r"Network is unreachable|No route to host|Destination (?:Host|Net) Unreachable")
_HOP = re.compile(r"^(\d+)\s+(.*)$")
_HOP_MARK = re.compile(r"!(?:H|N|P|X|A|S)\b")
_DNS = re.compile(r"^(\S+) (\S+) @(\S+): (.*)$")
_DNS_LOOKUP = re.compile(r"^(\S+) (A|AAAA): (.*)$")
_NO_SERVER = re.compile(r"could not be reached|refused|timed out|no servers", re.IGNORECASE)
_STATUS = re.compile(r"replied (\w+)")


def _ping_subject(out: Output, network: NetworkMap) -> str:
    target = out.arg("target")
    label = network.label(target)
    link = next((p for p in network.ports if p.device == out.device and p.remote_address == target), None)
    named = f"ping {target}{f' ({label})' if label else ''}"
    return f"{named} across {link.name}" if link else named


def parse_ping(out: Output, entities: Entities, network: NetworkMap) -> list[Finding]:
    """Loss as the statistics line says it; an unreachable error when there are no statistics."""
    subject = _ping_subject(out, network)
    for line in out.lines:
        match = _LOSS.search(line)
        if match:
            sent, received, loss = match.groups()
            counts = f"({sent} sent, {received} received)"
            if float(loss) > 0:
                return [out.finding(Severity.PROBLEM, subject, f"{loss}% loss {counts}", line)]
            rtt = next((m.group(1) for other in out.lines if (m := _RTT.search(other))), "")
            return [out.finding(Severity.OK, subject, f"0% loss, avg {rtt} ms" if rtt else "0% loss", line)]
    for line in out.lines:
        error = _UNREACHABLE.search(line)
        if error:
            return [out.finding(Severity.PROBLEM, subject, f"fails: {error.group(0)}", line)]
    return []


def parse_traceroute(out: Output, entities: Entities, network: NetworkMap) -> list[Finding]:
    """Whether the trace reached the target, and the last hop that answered."""
    target = out.arg("target")
    hops = [(int(m.group(1)), line, addresses_in(m.group(2))) for line in out.lines if (m := _HOP.match(line))]
    if not hops:
        return []
    label = network.label(target)
    subject = f"traceroute to {target}{f' ({label})' if label else ''}"
    answered = [(n, line, addrs) for n, line, addrs in hops if addrs]
    path = " -> ".join(addrs[0] for _, _, addrs in answered)
    last_n, last_line, last_addrs = answered[-1] if answered else hops[0]
    if target in last_addrs and not _HOP_MARK.search(last_line):
        return [out.finding(Severity.INFO, subject, f"reached in {last_n} hops: {path}", last_line)]
    if not answered:
        return [out.finding(Severity.PROBLEM, subject, "no hop answered", hops[0][1])]
    where = network.label(last_addrs[0])
    at = f"{last_addrs[0]}{f' ({where})' if where else ''}"
    fact = f"does not reach {target}: the last answer is hop {last_n} {at}; path {path}"
    return [out.finding(Severity.PROBLEM, subject, fact, last_line)]


def parse_dns_query(out: Output, entities: Entities, network: NetworkMap) -> list[Finding]:
    """No server answering, no record, or an answer other than the address the name is known to have."""
    found: list[Finding] = []
    for line in out.lines:
        match = _DNS.match(line)
        if match:
            found += _dns_line(out, line, match, entities, network)
    return found


def _dns_line(out: Output, line: str, match: re.Match[str], entities: Entities, network: NetworkMap) -> list[Finding]:
    name, rtype, server, answer = match.groups()
    node = network.label(server) or server
    expected = next((h.expected for h in entities.hostnames if h.name == name.rstrip(".")), "")
    expected = expected or network.hosts.get(name.rstrip("."), "")
    if answer.startswith("no answer"):
        if _NO_SERVER.search(answer) and not _STATUS.search(answer):
            fact = f"not answering: {_why_no_server(answer)}"
            return [out.finding(Severity.PROBLEM, f"DNS server {server}", fact, line, node)]
        status = _STATUS.search(answer)
        fact = f"no {rtype} record for {name}" + (f" ({status.group(1)})" if status else "")
        if expected:
            return [out.finding(Severity.PROBLEM, f"DNS answer for {name}", f"{fact}, expected {expected}", line, node)]
        return [out.finding(Severity.INFO, f"DNS answer for {name}", fact, line, node)]
    answers = addresses_in(answer)
    if expected and rtype == "A" and expected not in answers:
        fact = f"{', '.join(answers) or answer}, but {name} is {expected}"
        return [out.finding(Severity.PROBLEM, f"DNS answer for {name}", fact, line, node)]
    return [out.finding(Severity.OK, f"DNS answer for {name}", answer, line, node)]


def _why_no_server(answer: str) -> str:
    if "refused" in answer:
        return "connection refused (nothing listens for DNS there)"
    if "timed out" in answer:
        return "no reply (timed out)"
    return answer.split(":", 1)[1].strip() if ":" in answer else answer


def parse_dns_lookup(out: Output, entities: Entities, network: NetworkMap) -> list[Finding]:
    """The system resolver's answer (its failures are tool errors, not output)."""
    for line in out.lines:
        match = _DNS_LOOKUP.match(line)
        if match:
            return [out.finding(Severity.INFO, f"system resolver: {match.group(1)}", match.group(3), line, "")]
    return []
