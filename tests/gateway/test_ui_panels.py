"""The chat UI's side panels in a real browser against the real gateway: pending actions (two-person rule),
the device strip, and the inventory and runbook-section endpoints they read, scoped to the key."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import Gateway
from tests.gateway.ui_support import connect, shot
from tools import Plan


def test_pending_actions_need_another_approvers_key(page: Page, gateway: Gateway) -> None:
    svc = gateway.svc
    proposer = svc.tenants.authenticate(gateway.key)
    ctx = svc.toolbox.context("demo", proposer.tools, role="admin", key_id=proposer.key_id, request_id="ui-test")
    plan = Plan(
        tool="interface_shutdown",
        device="r1",
        template="interface_shutdown",
        params={"interface": "ui-test0"},
        arguments={"device": "r1", "interface": "ui-test0"},
        preview="on r1 run `configure terminal` / `interface ui-test0` / `shutdown`",
        rollback="interface_no_shutdown device=r1 interface=ui-test0",
        before={"interface": "ui-test0", "admin": "up", "oper": "up", "mtu": 1500},
    )
    action = svc.toolbox.approvals.propose(ctx, plan)
    approver = svc.tenants.create_key("demo", label="ui-approver", role="approver")

    connect(page, gateway.key)
    row = page.locator(f"#actions li[data-id='{action.id}']")
    expect(row).to_contain_text("interface_shutdown on r1")
    expect(row).to_contain_text("interface ui-test0")  # the exact lines that will run
    expect(row).to_contain_text("admin: up")  # the state before
    expect(row).to_contain_text("(this key: another approver must decide)")
    row.get_by_role("button", name="Approve interface_shutdown on r1").click()
    expect(row.locator(".outcome")).to_contain_text("403 approval_refused")  # the proposer's own key: refused
    shot(page, "actions-refused")

    page.fill("#approver-key", approver.plaintext)
    page.press("#approver-key", "Tab")  # `change` stores it for this tab
    row.get_by_role("button", name="Approve interface_shutdown on r1").click()
    expect(row.locator(".outcome")).to_contain_text("1/1 approvals")
    assert svc.toolbox.approvals.get("demo", action.id).approvals == (approver.key_id,)
    assert page.evaluate("sessionStorage.getItem('netops-approver-key')") == approver.plaintext
    assert approver.plaintext not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    shot(page, "actions-approved")


def test_device_strip_shows_the_tenant_inventory(page: Page, gateway: Gateway) -> None:
    connect(page, gateway.key)
    expect(page.locator("#devices .device")).to_have_count(5)
    expect(page.locator("#devices")).to_contain_text("r2-ssh")
    expect(page.locator("#devices .device.unknown")).to_contain_text("r2-ssh")  # SSH: not probed


def test_inventory_and_sections_are_scoped_to_the_key(gateway: Gateway) -> None:
    devices = httpx.get(f"{gateway.v1}/inventory", headers=auth(gateway.key)).json()["data"]
    assert {d["name"] for d in devices} == {"r1", "r2", "r3", "h1", "r2-ssh"}
    assert set(devices[0]) == {"name", "platform", "transport", "live"}  # no sockets, hosts, users or key files
    if not gateway.svc.tenants.exists("uiother"):
        gateway.svc.tenants.create("uiother", models=["*"], tools=[], rpm=100)
    other = gateway.svc.tenants.create_key("uiother", label="ui", role="admin").plaintext
    assert httpx.get(f"{gateway.v1}/inventory", headers=auth(other)).json()["data"] == []

    found = httpx.post(
        f"{gateway.v1}/retrieval/search",
        json={"query": "break-glass access core router", "top_k": 5},
        headers=auth(gateway.key),
    ).json()["results"]
    hit = next(r for r in found if "break-glass" in r["path"])
    query = {"path": hit["path"], "heading": hit["heading"]}
    section = httpx.get(f"{gateway.v1}/runbooks/section", params=query, headers=auth(gateway.key))
    assert section.status_code == 200 and section.json()["heading"] == hit["heading"]
    assert section.json()["index_version"].startswith("runbooks-v") and section.json()["text"]
    user = gateway.svc.tenants.create_key("demo", label="ui-user", role="user").plaintext
    hidden = httpx.get(f"{gateway.v1}/runbooks/section", params=query, headers=auth(user))  # confidential
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    missing = httpx.get(
        f"{gateway.v1}/runbooks/section", params={**query, "heading": "No such"}, headers=auth(gateway.key)
    )
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{gateway.v1}/runbooks/section", params=query).status_code == 401


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
