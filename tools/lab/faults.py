"""Named faults the lab can inject, and how each is healed. All act on the r1-r3 link side of r1 (or on dns).

    link-down      r1-r3 set down (carrier lost at both ends): OSPF and BGP drop the neighbor, traffic reroutes via r2
    silent-drop    nftables in r1 drops everything on r1-r3 while the link stays up: timers detect it (seconds)
    bgp-shutdown   `neighbor 10.0.13.2 shutdown` on r1: BGP to r3 down, OSPF stays up
    ospf-cost      `ip ospf cost 1000` on r1-r3: OSPF prefers the path via r2
    dns-stop       dnsmasq stopped: names under lab.test no longer resolve

Active faults are kept in `<root>/faults.json`; `heal` reverts them newest first.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tools.errors import LabError
from tools.lab.lab import Lab
from tools.lab.proc import run
from tools.lab.topology import ROUTERS

__all__ = ["FAULTS", "Faults"]

FAULTS = ("link-down", "silent-drop", "bgp-shutdown", "ospf-cost", "dns-stop")
_R1_AS = ROUTERS[0].asn
_R3_PEER = "10.0.13.2"
_TABLE = "netops_fault"


class Faults:
    """Injects and heals the named faults on a running lab."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._file = lab.root / "faults.json"

    def active(self) -> list[str]:
        try:
            data = json.loads(self._file.read_text())
        except (OSError, json.JSONDecodeError):
            return []
        return [str(name) for name in data] if isinstance(data, list) else []

    def inject(self, name: str) -> None:
        """Apply one fault (idempotent for a fault already active)."""
        if name not in FAULTS:
            raise LabError(f"unknown fault {name!r}; choose one of {', '.join(FAULTS)}")
        if not self.lab.exists():
            raise LabError("the lab is not up: run `netops lab up` first")
        active = self.active()
        if name in active:
            return
        self._actions(name)[0]()
        self._file.write_text(json.dumps([*active, name]))

    def heal(self) -> list[str]:
        """Revert every active fault, newest first; returns what was healed."""
        active = self.active()
        for name in reversed(active):
            self._actions(name)[1]()
        self._file.write_text("[]")
        return active

    def _actions(self, name: str) -> tuple[Callable[[], None], Callable[[], None]]:
        lab, r1 = self.lab, ROUTERS[0].name
        ns = lab.ns(r1)
        table: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
            "link-down": (lambda: self._link(ns, "down"), lambda: self._link(ns, "up")),
            "silent-drop": (lambda: self._nft_drop(ns), lambda: self._nft_heal(ns)),
            "bgp-shutdown": (
                lambda: self._bgp(f"neighbor {_R3_PEER} shutdown"),
                lambda: self._bgp(f"no neighbor {_R3_PEER} shutdown"),
            ),
            "ospf-cost": (lambda: self._cost("ip ospf cost 1000"), lambda: self._cost("no ip ospf cost")),
            "dns-stop": (lab.stop_dns, lab.start_dns),
        }
        return table[name]

    def _link(self, ns: str, state: str) -> None:
        run(["ip", "-n", ns, "link", "set", "r1-r3", state])

    def _bgp(self, line: str) -> None:
        self.lab.vtysh(ROUTERS[0].name, "configure terminal", f"router bgp {_R1_AS}", line)

    def _cost(self, line: str) -> None:
        self.lab.vtysh(ROUTERS[0].name, "configure terminal", "interface r1-r3", line)

    def _nft_drop(self, ns: str) -> None:
        nft = ["ip", "netns", "exec", ns, "nft"]
        run([*nft, "add", "table", "inet", _TABLE])
        for hook in ("input", "output", "forward"):
            run([*nft, "add", "chain", "inet", _TABLE, hook, f"{{ type filter hook {hook} priority 0 ; }}"])
        run([*nft, "add", "rule", "inet", _TABLE, "input", "iifname", "r1-r3", "drop"])
        run([*nft, "add", "rule", "inet", _TABLE, "output", "oifname", "r1-r3", "drop"])
        run([*nft, "add", "rule", "inet", _TABLE, "forward", "iifname", "r1-r3", "drop"])
        run([*nft, "add", "rule", "inet", _TABLE, "forward", "oifname", "r1-r3", "drop"])

    def _nft_heal(self, ns: str) -> None:
        run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", _TABLE], check=False)
