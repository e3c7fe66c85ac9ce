"""Short, model-friendly text from FRR's JSON: what the read tools return.

Small models read a few lines better than a page of JSON; the numbers an operator needs stay in.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["bgp_neighbor", "bgp_summary", "counters", "interfaces", "ospf_neighbors", "route_lookup"]


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
            f" up/down {p.get('peerUptime', '?')} prefixes received {p.get('pfxRcd', 0)}"
        )
    return "\n".join(lines)


def bgp_neighbor(device: str, peer: str, raw: str) -> str:
    p = _load(raw).get(peer)
    if not isinstance(p, dict):
        return f"{device}: no BGP neighbor {peer}"
    return (
        f"{device} BGP neighbor {peer} ({p.get('hostname', '?')}) AS {p.get('remoteAs', '?')}: "
        f"state {p.get('bgpState', '?')}, up/down {p.get('bgpTimerUpString', '?')}, "
        f"established {p.get('connectionsEstablished', 0)} dropped {p.get('connectionsDropped', 0)}, "
        f"last reset: {p.get('lastResetDueTo', 'never')}"
    )


def ospf_neighbors(device: str, raw: str) -> str:
    neighbors = _load(raw).get("neighbors", {})
    lines = [f"{device} OSPF: {len(neighbors)} neighbors"]
    for router_id, entries in sorted(neighbors.items()):
        for n in entries if isinstance(entries, list) else [entries]:
            state = n.get("nbrState", n.get("state", "?"))
            iface = str(n.get("ifaceName", "?")).split(":")[0]
            lines.append(f"  {router_id} {state} via {iface} ({n.get('ifaceAddress', n.get('address', '?'))})")
    return "\n".join(lines)


def route_lookup(device: str, destination: str, raw: str) -> str:
    data = _load(raw)
    if not data:
        return f"{device}: no route to {destination}"
    lines = []
    for prefix, routes in data.items():
        for r in routes:
            mark = "selected" if r.get("selected") else "candidate"
            hops = ", ".join(
                f"{h.get('ip', 'directly connected')} on {h.get('interfaceName', '?')}"
                for h in r.get("nexthops", [])
                if h.get("active", True)
            )
            lines.append(
                f"{device} {prefix} {mark} via {r.get('protocol', '?')} (distance {r.get('distance', 0)}): {hops}"
            )
    lines.sort(key=lambda line: " selected " not in line)
    return "\n".join(lines)


def interfaces(device: str, raw: str) -> str:
    data: dict[str, dict[str, Any]] = _load(raw)
    lines = []
    for name, i in sorted(data.items()):
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
