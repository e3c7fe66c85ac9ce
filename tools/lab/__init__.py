"""The FRR network lab in network namespaces (`netops lab up|down|status|fault|heal`)."""

from tools.lab.faults import FAULTS, Faults
from tools.lab.lab import Lab, LabStatus, RouterStatus, require_root

__all__ = ["FAULTS", "Faults", "Lab", "LabStatus", "RouterStatus", "require_root"]
