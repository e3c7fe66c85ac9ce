"""Evidence-first diagnosis: the gateway gathers the evidence, the model only writes prose around it.

    text -> extract_entities -> plan_checks -> (the gateway runs them) -> findings_from -> render_findings
    answer -> check_answer (claims no tool output supports)

Every piece is pure and typed except `diagnose`/`run_checks`, which call the `invoke` they are given.
"""

from tools.diagnosis.checker import Unsupported, check_answer
from tools.diagnosis.entities import AddressRef, Entities, HostRef, InterfaceRef, PeerRef, Topic, extract_entities
from tools.diagnosis.facts import Finding, Severity
from tools.diagnosis.findings import findings_from, render_findings
from tools.diagnosis.network import NetworkMap, Port, Session, Subnet
from tools.diagnosis.planner import DEFAULT_BUDGET, PlannedCheck, plan_checks
from tools.diagnosis.runner import CheckFailure, CheckRun, Diagnosis, Invoke, diagnose, run_checks

__all__ = [
    "DEFAULT_BUDGET",
    "AddressRef",
    "CheckFailure",
    "CheckRun",
    "Diagnosis",
    "Entities",
    "Finding",
    "HostRef",
    "InterfaceRef",
    "Invoke",
    "NetworkMap",
    "PeerRef",
    "PlannedCheck",
    "Port",
    "Session",
    "Severity",
    "Subnet",
    "Topic",
    "Unsupported",
    "check_answer",
    "diagnose",
    "extract_entities",
    "findings_from",
    "plan_checks",
    "render_findings",
    "run_checks",
]
