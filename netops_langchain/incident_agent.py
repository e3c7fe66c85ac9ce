"""An example LangGraph agent built on the three pieces: diagnose an alert, confirm with a read tool, propose a
fix, and stop at the approval. It is the example in docs/langchain.md, and the test runs it on the FRR lab.

    runbooks -> diagnose -> confirm -> propose -> END (the proposal waits for a human)

- *runbooks*: `NetOpsRetriever` finds the runbooks for the alert (guarded server-side);
- *diagnose*: `ChatNetOps` asks the incident assistant, whose gateway runs its read-only checks and returns
  findings (device, subject, fact, the tool that showed it) in `response_metadata["netops"]`;
- *confirm*: the agent re-reads the first problem's subject with the granted read tool (`interface_status`,
  `bgp_neighbor`), through the gateway;
- *propose*: a change tool (`interface_no_shutdown` for an interface shut down) returns a pending action and its
  approval link; nothing runs until an approver approves it through the gateway.

    graph = build_incident_agent(client, ChatNetOps(base_url=..., api_key=..., model="netops-assistant"))
    state = graph.invoke({"alert": 'InterfaceDown{instance="r1", interface="r1-r3"}'})
    state["proposal"]["approve_url"]
"""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from netops_langchain.client import NetOpsClient
from netops_langchain.retriever import NetOpsRetriever
from netops_langchain.tools import netops_tools

__all__ = ["IncidentState", "build_incident_agent"]

_INTERFACE = re.compile(r"^interface (\S+)$")


class IncidentState(TypedDict, total=False):
    """What the agent knows: the alert, the runbooks, the assistant's answer and findings, and its proposal."""

    alert: str
    runbooks: list[str]
    answer: str
    findings: list[dict[str, Any]]
    confirmed: str
    proposal: dict[str, Any] | None


def build_incident_agent(client: NetOpsClient, llm: BaseChatModel) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph; every step goes through the gateway that `client` and `llm` point at."""
    retriever = NetOpsRetriever(client=client, top_k=3)
    tools = {tool.name: tool for tool in netops_tools(client)}

    def runbooks(state: IncidentState) -> IncidentState:
        docs = retriever.invoke(state["alert"])
        return {"runbooks": [f"{d.metadata['path']} ({d.metadata['heading']})" for d in docs]}

    def diagnose(state: IncidentState) -> IncidentState:
        message = llm.invoke(state["alert"])
        netops = message.response_metadata.get("netops") or {}
        problems = [f for f in netops.get("findings", []) if f.get("severity") == "problem"]
        return {"answer": str(message.content), "findings": problems}

    def confirm(state: IncidentState) -> IncidentState:
        target = _interface(state)
        if target is None or "interface_status" not in tools:
            return {"confirmed": ""}
        return {"confirmed": str(tools["interface_status"].invoke(target))}

    def propose(state: IncidentState) -> IncidentState:
        target = _interface(state)
        shut = any("admin down" in str(f.get("fact", "")) for f in state.get("findings", [])[:1])
        if target is None or not shut or "interface_no_shutdown" not in tools:
            return {"proposal": None}
        return {"proposal": json.loads(str(tools["interface_no_shutdown"].invoke(target)))}

    graph = StateGraph(IncidentState)
    for name, step in (("runbooks", runbooks), ("diagnose", diagnose), ("confirm", confirm), ("propose", propose)):
        graph.add_node(name, step)
    graph.add_edge(START, "runbooks")
    graph.add_edge("runbooks", "diagnose")
    graph.add_edge("diagnose", "confirm")
    graph.add_edge("confirm", "propose")
    graph.add_edge("propose", END)
    return graph.compile()


def _interface(state: IncidentState) -> dict[str, str] | None:
    """The device and interface of the first problem found, when it is about an interface."""
    findings = state.get("findings") or []
    match = _INTERFACE.match(str(findings[0].get("subject", ""))) if findings else None
    return {"device": str(findings[0]["device"]), "interface": match.group(1)} if match else None
