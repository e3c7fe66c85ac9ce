"""Runbook-named tool steps: read-only tools that a retrieved runbook step names, run on the device the user names.

A runbook step such as "Run `bgp_summary` on the router that raised the alert" names a tool in backticks.
When the tenant opts in (`runbook_tools: true` in its inventory), the user's message names one of the
tenant's devices, and the tool is a granted `read` tool that needs only a `device`, the gateway plans that
call. Plans go through the same registry, grants, validation and audit as the model's own calls.

Left out: change tools (never planned from text), tools needing more than a device, more than `limit` calls.
Runbook text is untrusted: the worst a poisoned runbook can do here is ask for a granted read-only tool.

Example:
    plan_runbook_calls(["1. Run `bgp_summary` on the router"], "bgp down on r1?", ["r1", "r2"], grants, registry)
    # [("bgp_summary", '{"device": "r1"}')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from tools.registry import Risk, ToolRegistry

__all__ = ["plan_runbook_calls"]

_NAMED = re.compile(r"`{1,2}([a-z][a-z0-9_]{2,40})`{1,2}")


def plan_runbook_calls(
    excerpts: Iterable[str],
    user_text: str,
    devices: Sequence[str],
    grants: frozenset[str],
    registry: ToolRegistry,
    *,
    limit: int = 3,
) -> list[tuple[str, str]]:
    """(tool name, JSON arguments) for each eligible tool named in the excerpts, in order of appearance."""
    device = next((d for d in devices if re.search(rf"(?<![\w.-]){re.escape(d)}(?![\w-])", user_text)), None)
    if device is None:
        return []
    risks = registry.risks
    planned: list[tuple[str, str]] = []
    for text in excerpts:
        for name in _NAMED.findall(text):
            eligible = name in grants and risks.get(name) is Risk.READ and registry.needs_only_device(name)
            if eligible and name not in (p[0] for p in planned) and len(planned) < limit:
                planned.append((name, json.dumps({"device": device})))
    return planned
