"""The FRR network lab in network namespaces (`netops lab up|down|status|fault|heal`)."""

from tools.lab.faults import FAULT_TABLE, FAULTS, Fault, Faults
from tools.lab.lab import Lab, LabStatus, RouterStatus, require_root

__all__ = ["FAULTS", "FAULT_TABLE", "Fault", "Faults", "Lab", "LabStatus", "RouterStatus", "require_root"]
