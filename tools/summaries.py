"""Short, model-friendly text from FRR's JSON (and dig's text): what the read tools return.

Small models read a few lines better than a page of JSON; the numbers and the facts an operator needs to
diagnose a fault stay in: a session's state with its reason (`Idle (Admin)`, `Idle (PfxCt)`), the last reset
and notification, an MD5 password, policies and prefix limits; OSPF states short of Full (`ExStart`), an
interface's MTU, OSPF cost and timers; blackhole routes; why a DNS query got no answer.

Example:
    bgp_neighbor("r1", "10.0.13.2", raw)
    # r1 BGP neighbor 10.0.13.2 (r3) AS 65003: state Idle (admin shutdown), ..., last reset: Admin. shutdown
    #   md5 password: none; ipv4 unicast: 0 prefixes accepted, 0 sent
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "bgp_neighbor",
    "bgp_summary",
    "counters",
    "dns_answer",
    "interfaces",
    "ospf_interface",
    "ospf_neighbors",
    "route_lookup",
]


def _load(raw: str) -> Any:
    try:
        return json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}


def bgp_summary(device: str, raw: str) -> str:
    data = _load(raw).get("ipv4Unicast", {})
    peers: dict[str, dict[str, Any]] = data.get("peers", {})
    up = sum(1 for p in peers.values() if p.get("state") == "Established")
    head = f"{device} BGP AS {data.get('as', '?')} router-id {data.get('routerId', '?')}"
    lines = [f"{head}: {len(peers)} peers, {up} Established"]
    for addr, p in sorted(peers.items()):
        lines.append(
            f"  {addr} ({p.get('hostname', '?')}) AS {p.get('remoteAs', '?')} {p.get('state', '?')}"
            f" up/down {p.get('peerUptime', '?')} prefixes received {p.get('pfxRcd', 0)} sent {p.get('pfxSnt', 0)}"
        )
    return "\n".join(lines)


def bgp_neighbor(device: str, peer: str, raw: str) -> str:
    p = _load(raw).get(peer)
    if not isinstance(p, dict):
        return f"{device}: no BGP neighbor {peer}"
    head = (
        f"{device} BGP neighbor {peer} ({p.get('hostname', '?')}) AS {p.get('remoteAs', '?')}: "
        f"state {_bgp_state(p)}, {_up(p)}"
        f"established {p.get('connectionsEstablished', 0)} dropped {p.get('connectionsDropped', 0)}, "
        f"last reset: {_last_reset(p)}"
    )
    password = "set" if p.get("authenticationEnabled") else "none"
    families = [_family(name, info) for name, info in sorted(p.get("addressFamilyInfo", {}).items())]
    return "\n".join([head, "  " + "; ".join([f"md5 password: {password}", *families])])


def _up(p: dict[str, Any]) -> str:
    """`up/down 00:10:02, ` while Established (FRR gives no uptime otherwise: the last reset says when)."""
    return f"up/down {p['bgpTimerUpString']}, " if p.get("bgpTimerUpString") else ""


def _bgp_state(p: dict[str, Any]) -> str:
    state = str(p.get("bgpState", "?"))
    if p.get("adminShutDown"):
        return f"{state} (admin shutdown)"
    if p.get("prefixesConfigExceedMax"):
        return f"{state} (maximum prefixes exceeded)"
    return state


def _last_reset(p: dict[str, Any]) -> str:
    reason = str(p.get("lastResetDueTo", "never"))
    if p.get("lastNotificationReason"):
        reason += f" ({p['lastNotificationReason']})"
    if isinstance(p.get("lastResetTimerMsecs"), int):
        reason += f", {p['lastResetTimerMsecs'] // 1000} s ago"
    return reason


_POLICIES = (
    ("incomingUpdatePrefixFilterList", "inbound prefix-list"),
    ("outgoingUpdatePrefixFilterList", "outbound prefix-list"),
    ("routeMapForIncomingAdvertisements", "inbound route-map"),
    ("routeMapForOutgoingAdvertisements", "outbound route-map"),
)


def _family(name: str, info: dict[str, Any]) -> str:
    """One address family of a neighbor: prefixes accepted and sent, the prefix limit and the filters."""
    label = {"ipv4Unicast": "ipv4 unicast"}.get(name, name)
    parts = [f"{info.get('acceptedPrefixCounter', 0)} prefixes accepted, {info.get('sentPrefixCounter', 0)} sent"]
    if "prefixAllowedMax" in info:
        parts.append(f"max-prefix {info['prefixAllowedMax']}")
    parts += [f"{text} {info[key]}" for key, text in _POLICIES if info.get(key)]
    return f"{label}: " + ", ".join(parts)


def ospf_neighbors(device: str, raw: str) -> str:
    neighbors = _load(raw).get("neighbors", {})
    lines = [f"{device} OSPF: {len(neighbors)} neighbors"]
    for router_id, entries in sorted(neighbors.items()):
        for n in entries if isinstance(entries, list) else [entries]:
            state = n.get("nbrState", n.get("state", "?"))
            iface = str(n.get("ifaceName", "?")).split(":")[0]
            where = f"via {iface} ({n.get('ifaceAddress', n.get('address', '?'))})"
            lines.append(f"  {router_id} {state} {where} up {n.get('upTime', '?')}")
    return "\n".join(lines)


def ospf_interface(name: str, raw: str) -> str:
    """OSPF on one interface: area, cost, hello and dead intervals, MTU, DR state and adjacencies."""
    data = _load(raw)
    i = data.get("interfaces", {}).get(name) if isinstance(data, dict) else None
    if not isinstance(i, dict) or not i.get("ospfEnabled"):
        return "  ospf: not enabled on this interface"
    hello_ms = i.get("timerMsecs")
    hello = f"{hello_ms / 1000:g}" if isinstance(hello_ms, int) else "?"
    return (
        f"  ospf: area {i.get('area', '?')} cost {i.get('cost', '?')} hello {hello} s"
        f" dead {i.get('timerDeadSecs', '?')} s mtu {i.get('mtuBytes', '?')} state {i.get('state', '?')},"
        f" {i.get('nbrCount', 0)} neighbors, {i.get('nbrAdjacentCount', 0)} adjacent"
    )


def route_lookup(device: str, destination: str, raw: str) -> str:
    data = _load(raw)
    if not data:
        return f"{device}: no route to {destination}"
    lines = []
    for prefix, routes in data.items():
        for r in routes:
            mark = "selected" if r.get("selected") else "candidate"
            hops = ", ".join(_hop(h) for h in r.get("nexthops", []) if h.get("active", True))
            lines.append(
                f"{device} {prefix} {mark} via {r.get('protocol', '?')} (distance {r.get('distance', 0)}): {hops}"
            )
    lines.sort(key=lambda line: " selected " not in line)
    return "\n".join(lines)


def _hop(h: dict[str, Any]) -> str:
    if h.get("blackhole"):
        return "blackhole (dropped)"
    if h.get("unreachable"):
        return "unreachable (dropped with ICMP unreachable)"
    return f"{h.get('ip', 'directly connected')} on {h.get('interfaceName', '?')}"


def interfaces(device: str, raw: str) -> str:
    data: dict[str, dict[str, Any]] = _load(raw)
    lines = []
    for name, i in sorted(data.items()):
        if i.get("pseudoInterface"):  # configured in FRR, absent from the kernel
            continue
        addrs = ", ".join(a.get("address", "") for a in i.get("ipAddresses", []))
        admin = i.get("administrativeStatus", "?")
        oper = i.get("operationalStatus") or ("down" if admin == "down" else "?")  # FRR omits it when admin down
        lines.append(
            f"{device} {name}: admin {admin} oper {oper}"
            f" mtu {i.get('mtu', '?')} link downs {i.get('linkDowns', 0)} {addrs}".rstrip()
        )
    return "\n".join(lines) or f"{device}: no such interface"


def counters(raw: str) -> str:
    data = _load(raw)
    if not isinstance(data, list) or not data:
        return ""
    stats = data[0].get("stats64", {})
    rx, tx = stats.get("rx", {}), stats.get("tx", {})
    return (
        f"  counters: rx {rx.get('packets', 0)} packets {rx.get('bytes', 0)} bytes {rx.get('errors', 0)} errors"
        f" {rx.get('dropped', 0)} dropped; tx {tx.get('packets', 0)} packets {tx.get('bytes', 0)} bytes"
        f" {tx.get('errors', 0)} errors {tx.get('dropped', 0)} dropped"
    )


_DIG_NOISE = ("Got answer", "->>HEADER<<-", "flags:", "OPT PSEUDOSECTION", "ANSWER SECTION", "EDNS:")


def dns_answer(name: str, rtype: str, server: str, raw: str) -> str:
    """One line from `dig +noall +answer +comments`: the records, or why there are none (the server's status,
    or that no server could be reached: refused, timed out)."""
    head = f"{name} {rtype} @{server}"
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    records = [_rdata(line, rtype) for line in lines if not line.startswith(";")]
    if records:
        return f"{head}: {' '.join(records)}"
    status = next((line.split("status:")[1].split(",")[0].strip() for line in lines if "status:" in line), "")
    if status:
        return f"{head}: no answer (the server replied {status} with no {rtype} record)"
    errors = [line.lstrip("; ") for line in lines if line.startswith(";") and not any(n in line for n in _DIG_NOISE)]
    detail = "; ".join(dict.fromkeys(errors)) or "dig printed nothing"
    return f"{head}: no answer, the server could not be reached: {detail}"


def _rdata(line: str, rtype: str) -> str:
    """`r1.lab.test. 0 IN A 10.255.0.1` -> `10.255.0.1`; another type keeps its name (`CNAME x.lab.test.`)."""
    fields = line.split()
    if len(fields) >= 5:
        kind, data = fields[3], " ".join(fields[4:])
        return data if kind == rtype else f"{kind} {data}"
    return line
