"""Tools through the real gateway (uvicorn, real model server, real lab): the model's forced tool call runs
through the registry and is audited; change actions are approved over HTTP; `audit verify` catches an edit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import text

from gateway.cli import cli
from tests.tools.conftest import ToolGateway
from tools.lab import Faults


def test_a_forced_tool_call_runs_through_the_registry_and_is_audited(gw: ToolGateway) -> None:
    body = {
        "model": "netops-assistant",
        "messages": [{"role": "user", "content": "Are the BGP sessions on router r1 up?"}],
        "tool_choice": {"type": "function", "function": {"name": "bgp_summary"}},
        "max_tokens": 48,
        "temperature": 0,
    }
    response = gw.post("/v1/chat/completions", gw.user, body)
    assert response.status_code == 200, response.text
    netops = response.json()["netops"]
    records = gw.svc.audit.records(tenant="demo", limit=20)
    rid = response.headers["x-request-id"]
    mine = [r for r in records if r["request_id"] == rid]
    kinds = {r["kind"] for r in mine}
    # the `device` argument's schema is the tenant's inventory as an enum, so the grammar-constrained model
    # can only name one of the tenant's own devices: the tool runs and the answer shows its result
    (ran,) = netops["tools"]
    assert ran["name"] == "bgp_summary" and ran["arguments"]["device"] in {"r1", "r2", "r3"}
    assert "2 Established" in ran["output"]
    assert {"tool.invoked", "chat.completed"} <= kinds
    assert all("output" not in r["payload"] for r in mine if r["kind"].startswith("tool."))


def test_a_runbook_step_names_a_tool_that_runs_on_the_users_device(gw: ToolGateway) -> None:
    body = {
        "model": "netops-assistant",
        "messages": [{"role": "user", "content": "Alert: BGP session down on r3. What is the session state?"}],
        "max_tokens": 32,
        "temperature": 0,
    }
    response = gw.post("/v1/chat/completions", gw.user, body)
    assert response.status_code == 200, response.text
    netops = response.json()["netops"]
    assert any("bgp-session-down" in c["path"] for c in netops["citations"])
    ran = {t["name"]: t for t in netops["checks"]}
    assert ran["bgp_summary"]["arguments"] == {"device": "r3"} and "2 Established" in ran["bgp_summary"]["output"]
    rid = response.headers["x-request-id"]
    invoked = [r for r in gw.svc.audit.records(tenant="demo", limit=50) if r["request_id"] == rid]
    assert "tool.invoked" in {r["kind"] for r in invoked}


def test_a_user_key_cannot_force_a_change_tool(gw: ToolGateway) -> None:
    body = {
        "model": "netops-assistant",
        "messages": [{"role": "user", "content": "shut r1-r3"}],
        "tool_choice": {"type": "function", "function": {"name": "interface_shutdown"}},
    }
    response = gw.post("/v1/chat/completions", gw.user, body)
    assert response.status_code == 403 and response.json()["code"] == "tool_not_allowed"


def test_invoke_api_refuses_before_running(gw: ToolGateway) -> None:
    bad = gw.post(
        "/v1/tools/interface_status/invoke", gw.user, {"arguments": {"device": "r1", "interface": "x; reboot"}}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "tool_arguments_invalid"
    outside = gw.post("/v1/tools/bgp_summary/invoke", gw.user, {"arguments": {"device": "10.0.0.1"}})
    assert outside.status_code == 422 and outside.json()["code"] == "unknown_device"
    assert gw.post("/v1/tools/show_running_config/invoke", gw.user, {"arguments": {"device": "r1"}}).status_code == 403
    listed = {t["function"]["name"]: t["risk"] for t in gw.get("/v1/tools", gw.user).json()["data"]}
    assert listed["bgp_summary"] == "read" and "interface_shutdown" not in listed
    assert gw.audit_kinds()[-3:] == ["tool.denied", "tool.denied", "tool.denied"]


def test_change_over_http_needs_an_approver_runs_once_and_refuses_a_replay(gw: ToolGateway) -> None:
    proposed = gw.post(
        "/v1/tools/interface_shutdown/invoke", gw.admin, {"arguments": {"device": "r3", "interface": "r3-dns"}}
    )
    assert proposed.status_code == 200 and "Nothing has run yet" in proposed.json()["output"]
    (action,) = gw.get("/v1/tools/actions?status=pending", gw.approver).json()["data"]
    status = gw.post(
        "/v1/tools/interface_status/invoke", gw.user, {"arguments": {"device": "r3", "interface": "r3-dns"}}
    )
    assert "admin up" in status.json()["output"]
    path = f"/v1/tools/actions/{action['id']}"
    assert gw.post(f"{path}/approve", gw.user).json()["code"] == "approval_refused"
    assert gw.post(f"{path}/approve", gw.admin).json()["code"] == "approval_refused"  # own proposal
    done = gw.post(f"{path}/approve", gw.approver)
    assert done.status_code == 200 and done.json()["status"] == "executed"
    assert done.json()["rollback"] == "interface_no_shutdown device=r3 interface=r3-dns"
    replay = gw.post(f"{path}/approve", gw.approver)
    assert replay.status_code == 409 and replay.json()["code"] == "action_not_pending"
    status = gw.post(
        "/v1/tools/interface_status/invoke", gw.user, {"arguments": {"device": "r3", "interface": "r3-dns"}}
    )
    assert "admin down" in status.json()["output"]
    kinds = gw.audit_kinds()
    assert kinds[-4:] == ["action.decided", "action.executed", "action.decided", "tool.invoked"]
    gw.post("/v1/tools/interface_no_shutdown/invoke", gw.admin, {"arguments": {"device": "r3", "interface": "r3-dns"}})
    (undo,) = gw.get("/v1/tools/actions?status=pending", gw.approver).json()["data"]
    assert gw.post(f"/v1/tools/actions/{undo['id']}/approve", gw.approver).json()["status"] == "executed"


def test_audit_verify_catches_an_edited_tool_record(gw: ToolGateway, tmp_path: Path) -> None:
    env = {"NETOPS_DATA_DIR": str(gw.settings.data_dir)}
    ok = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    records = [r for r in gw.svc.audit.records(tenant="demo", limit=1000) if r["kind"] == "action.executed"]
    seq = records[-1]["seq"]
    forged = {**records[-1]["payload"], "status": "denied"}
    with gw.svc.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET payload = :p WHERE seq = :s"), {"p": json.dumps(forged), "s": seq})
    broken = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and str(seq) in broken.output
    assert gw.svc.audit.verify().first_bad_seq == seq


def test_an_alert_gets_evidence_first_with_progress_findings_and_audit(gw: ToolGateway, faults: Faults) -> None:
    faults.inject("bgp-shutdown")
    time.sleep(2)  # the session goes Idle at once; give bgpd a moment to report it
    body = {
        "model": "netops-assistant",
        "stream": True,
        "max_tokens": 48,
        "messages": [{"role": "user", "content": "[FIRING:1] BGPSessionDown instance=r1 peer=10.0.13.2"}],
    }
    with httpx.stream(
        "POST", f"{gw.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gw.user}"}, timeout=120
    ) as response:
        assert response.status_code == 200
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
        rid = response.headers["x-request-id"]
    events = [c["netops"]["event"] for c in chunks if not c["choices"] and "event" in c.get("netops", {})]
    assert events[0] == "check.start" and events.count("check.start") == events.count("check.end") >= 2
    assert events[-1] == "findings"
    final = chunks[-1]["netops"]
    problems = [f["headline"] for f in final["findings"] if f["severity"] == "problem"]
    assert any(p.startswith("r1: BGP neighbor 10.0.13.2 (r3) Idle (Admin)") for p in problems), problems
    assert "unsupported" in final and all(c["output"] for c in final["checks"])
    records = [r for r in gw.svc.audit.records(tenant="demo", limit=100) if r["request_id"] == rid]
    kinds = [r["kind"] for r in records]
    assert kinds.count("tool.invoked") == len(final["checks"]) and "chat.completed" in kinds
