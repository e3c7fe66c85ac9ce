"""Inject and heal the lab's named faults (the table, with what each shows, is in `tools.lab.fault_table`).

Injected faults are recorded in `<root>/faults.json` (in order, so `heal` reverts them newest first), and
reconciled with the live state: a recorded fault that is no longer true on the routers (an approved change
brought the link up, re-enabled the neighbor, reset the cost) is not reported as active and is not "healed".

Example:
    faults = Faults(lab)
    faults.inject("bgp-max-prefix")
    faults.active()   # ["bgp-max-prefix"]
    faults.heal()     # ["bgp-max-prefix"]; the routers re-converge within seconds
"""

from __future__ import annotations

import json

from tools.errors import LabError
from tools.lab.fault_table import FAULT_TABLE, FAULTS_IN_ORDER, Fault, Live
from tools.lab.lab import Lab

__all__ = ["FAULTS", "FAULT_TABLE", "Fault", "Faults"]

FAULTS = tuple(f.name for f in FAULTS_IN_ORDER)


class Faults:
    """Injects and heals the named faults on a running lab."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._file = lab.root / "faults.json"

    def recorded(self) -> list[str]:
        """The faults injected and not yet healed, oldest first, as written down (not checked against the routers)."""
        try:
            data = json.loads(self._file.read_text())
        except (OSError, json.JSONDecodeError):
            return []
        return [str(name) for name in data if str(name) in FAULT_TABLE] if isinstance(data, list) else []

    def active(self) -> list[str]:
        """The recorded faults still true on the routers, oldest first (empty when the lab is down)."""
        recorded = self.recorded()
        if not recorded or not self.lab.exists():
            return []
        live = Live.read(self.lab)
        return [name for name in recorded if FAULT_TABLE[name].active(live)]

    def inject(self, name: str) -> None:
        """Apply one fault (nothing happens for a fault already active)."""
        fault = _fault(name)
        if not self.lab.exists():
            raise LabError("the lab is not up: run `netops lab up` first")
        active = self.active()
        if name in active:
            return
        fault.inject(self.lab)
        self._file.write_text(json.dumps([*active, name]))

    def heal(self) -> list[str]:
        """Revert every active fault, newest first; returns what was healed (faults already fixed are dropped)."""
        active = self.active()
        for name in reversed(active):
            FAULT_TABLE[name].heal(self.lab)
        if self._file.parent.is_dir():
            self._file.write_text("[]")
        return active


def _fault(name: str) -> Fault:
    fault = FAULT_TABLE.get(name)
    if fault is None:
        raise LabError(f"unknown fault {name!r}; choose one of {', '.join(FAULTS)}")
    return fault
