"""The LangChain integration against the real gateway, the embedded model and the FRR lab: the retriever, the
granted tools (a change tool stops at the approval), ChatNetOps keeping `netops` (also streamed), and the
example LangGraph incident agent from docs/langchain.md."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

from netops_langchain import ChatNetOps, NetOpsClient, NetOpsRetriever, netops_tools
from netops_langchain.incident_agent import build_incident_agent
from tests.tools.conftest import ToolGateway
from tools.lab import Faults

ALERT = 'InterfaceDown{instance="r1", interface="r1-r3"}: ifOperStatus is down'


def _llm(gw: ToolGateway, key: str, **extra: Any) -> ChatNetOps:
    return ChatNetOps(
        base_url=f"{gw.url}/v1", api_key=key, model="netops-assistant", temperature=0, max_tokens=48, **extra
    )


def test_the_retriever_returns_guarded_runbooks_with_their_origin(gw: ToolGateway) -> None:
    client = NetOpsClient(gw.url, gw.user)
    retriever = NetOpsRetriever(client=client, top_k=3)
    docs = retriever.invoke("BGP session down, neighbor Idle")
    assert docs and docs[0].metadata["path"].endswith("bgp-session-down.md")
    assert {"path", "heading", "index_version", "score"} <= set(docs[0].metadata)
    assert len({d.metadata["path"] for d in docs}) == len(docs)  # one section per runbook
    again = asyncio.run(retriever.ainvoke("BGP session down, neighbor Idle"))
    assert [d.metadata["path"] for d in again] == [d.metadata["path"] for d in docs]
    records = gw.svc.audit.records(tenant="demo", limit=5)
    searches = [
        r for r in records if r["kind"] == "request.completed" and r["payload"]["route"] == "/v1/retrieval/search"
    ]
    assert searches and searches[0]["payload"]["detail"]["results"] == len(docs)  # audited by the gateway


def test_tools_are_the_keys_grants_and_refusals_come_back_as_text(gw: ToolGateway) -> None:
    user_tools = {t.name: t for t in netops_tools(NetOpsClient(gw.url, gw.user))}
    assert "bgp_summary" in user_tools and "interface_shutdown" not in user_tools  # a user may not propose changes
    assert user_tools["bgp_summary"].metadata == {"risk": "read", "gateway": gw.url}
    out = user_tools["bgp_summary"].invoke({"device": "r1"})
    assert "10.0.13.2" in out
    refused = user_tools["bgp_summary"].invoke({"device": "core-99"})  # not in the tenant's inventory
    assert "unknown_device" in refused or "422" in refused


def test_chat_keeps_the_netops_field_also_when_streamed(gw: ToolGateway) -> None:
    question = "[FIRING:1] BGPSessionDown instance=r1 peer=10.0.13.2"
    message = _llm(gw, gw.user).invoke(question)
    netops = message.response_metadata["netops"]
    assert netops["route"] == "netops-assistant" and netops["checks"] and "citations" in netops
    merged: AIMessageChunk | None = None
    for chunk in _llm(gw, gw.user, streaming=True).stream(question):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert merged.response_metadata["netops"]["checks"]
    events = [e.get("event") for e in merged.response_metadata["netops_events"]]
    assert "check.start" in events and events[-1] == "findings"


def test_the_example_agent_diagnoses_confirms_and_stops_at_the_approval(gw: ToolGateway, faults: Faults) -> None:
    faults.inject("link-down")
    time.sleep(6)
    agent_key = gw.svc.tenants.create_key("demo", label="langgraph-agent", role="admin").plaintext
    client = NetOpsClient(gw.url, agent_key)
    state = build_incident_agent(client, _llm(gw, agent_key)).invoke({"alert": ALERT})

    assert any("interface-errors-flapping" in r for r in state["runbooks"]), state["runbooks"]
    assert state["findings"][0]["headline"].startswith("r1: interface r1-r3 admin down"), state["findings"]
    assert "r1-r3" in state["confirmed"] and "down" in state["confirmed"]
    proposal = state["proposal"]
    assert proposal is not None and proposal["status"] == "pending" and proposal["tool"] == "interface_no_shutdown"
    assert proposal["approve_url"] == f"{gw.url}/v1/tools/actions/{proposal['pending_action']}/approve"
    still = client.invoke("interface_status", {"device": "r1", "interface": "r1-r3"})["output"]
    assert "r1-r3: admin down" in still  # nothing ran from the agent's side

    headers = {"authorization": f"Bearer {gw.approver}"}
    approved = httpx.post(proposal["approve_url"], headers=headers, timeout=60)
    assert approved.status_code == 200 and approved.json()["status"] == "executed", approved.text
    after = client.invoke("interface_status", {"device": "r1", "interface": "r1-r3"})["output"]
    assert "r1-r3: admin up" in after
    kinds = [r["kind"] for r in gw.svc.audit.records(tenant="demo", limit=200)]
    assert {"tool.invoked", "action.decided", "action.executed"} <= set(kinds)


@pytest.mark.parametrize("bad", ["", "not-a-key"])
def test_a_bad_key_is_a_clear_error_not_a_crash(gw: ToolGateway, bad: str) -> None:
    with pytest.raises(Exception, match="401") as info:
        NetOpsClient(gw.url, bad).search("bgp")
    assert getattr(info.value, "code", "") in ("missing_key", "unknown_key")
