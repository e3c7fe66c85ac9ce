"""Kill switches in the chat UI, in a real browser against the real gateway: an operator throws a switch from the
page and another user's page shows it with its reason within the refresh interval (5 s), and drops it once revived;
only an operator's page has the controls. `GET /v1/kill/active` (the banner's source) is scoped to the key: a
tenant never sees another tenant's tenant switch, nor switches of routes, deployments, tools or prompt versions it
does not use; it needs a key.

The session gateway is shared: every switch thrown here is revived in a `finally`, and nothing the other tests use
(the `netops-assistant` route, the `local-smollm2` deployment, the `demo` tenant) is ever switched off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from gateway.kills import Target
from routing.table import Deployment, Route
from tests.conftest import Gateway, ModelEndpoint, one_tenant_gateway
from tests.gateway.ui_support import connect, shot

TOOL = "clear_bgp_session"  # granted to the demo tenant, run by no chat check
SEEN_WITHIN_MS = 5000 + 3000  # the page's refresh interval, and room for a loaded 2-core CI machine


@contextmanager
def reviving(gateway: Gateway, *switches: tuple[str, str]) -> Iterator[None]:
    """Revive each (kind, name) still thrown on the way out, however the test ends."""
    try:
        yield
    finally:
        for kind, name in switches:
            if any(s.kind == kind and s.name == name for s in gateway.svc.kill.list()):
                gateway.svc.kill.revive(Target(kind), name, author="test_ui_kills")
        gateway.svc.live.refresh()


@contextmanager
def page_for(browser: Browser, gateway: Gateway, key: str) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(gateway.url + "/")
        connect(page, key)
        yield page
    finally:
        page.close()


def test_an_operator_throws_a_tool_switch_and_a_users_page_shows_it_until_revived(
    browser: Browser, gateway: Gateway
) -> None:
    user_key = gateway.svc.tenants.create_key("demo", label="ui-kills-user", role="user").plaintext
    reason = "flapping peers, INC-4411 (ui test)"
    with (
        reviving(gateway, ("tool", TOOL)),
        page_for(browser, gateway, gateway.operator) as ops,
        page_for(browser, gateway, user_key) as user,
    ):
        expect(ops.locator("#kill-panel")).to_be_visible()  # the operator's controls
        expect(user.locator("#kills-status")).to_have_text("Nothing switched off.")
        expect(user.locator("#kills")).to_be_hidden()
        expect(user.locator("#kill-panel")).to_be_hidden()  # a tenant key: no controls

        ops.select_option("#kill-kind", "tool")
        ops.fill("#kill-name", TOOL)
        ops.fill("#kill-reason", reason)
        ops.get_by_role("button", name="Switch off").click()
        expect(ops.locator("#kill-outcome")).to_contain_text(f"Switched off tool {TOOL}")
        mine = ops.locator(f"#kill-list li[data-kind='tool'][data-name='{TOOL}']")
        expect(mine).to_contain_text(reason)  # the operator's own banner, at once

        seen = user.locator(f"#kill-list li[data-kind='tool'][data-name='{TOOL}']")
        expect(seen).to_contain_text(reason, timeout=SEEN_WITHIN_MS)  # the next poll
        expect(user.locator("#kills")).to_be_visible()
        expect(seen).to_contain_text("tool refused")
        expect(seen).to_contain_text(f"by key {operator_key_id(gateway)}")
        expect(seen.locator("time")).to_contain_text("now")
        expect(seen.get_by_role("button")).to_have_count(0)  # no Revive for a tenant key
        shot(user, "kills-banner")
        shot(ops, "kills-operator")

        mine.get_by_role("button", name=f"Revive tool {TOOL}").click()
        expect(ops.locator("#kill-outcome")).to_have_text(f"Revived tool {TOOL}.")
        expect(mine).to_have_count(0)
        expect(seen).to_have_count(0, timeout=SEEN_WITHIN_MS)
        expect(user.locator("#kills")).to_be_hidden()
    assert not [s for s in gateway.svc.kill.list() if s.name == TOOL]


def test_a_refused_throw_is_shown_on_the_operator_panel(browser: Browser, gateway: Gateway) -> None:
    with page_for(browser, gateway, gateway.operator) as ops:
        ops.select_option("#kill-kind", "route")
        ops.fill("#kill-name", "x" * 128)
        ops.fill("#kill-reason", "   ")  # blank once trimmed: the gateway refuses it (422)
        ops.get_by_role("button", name="Switch off").click()
        expect(ops.locator("#kill-outcome")).to_contain_text("422 invalid_request")
    assert not [s for s in gateway.svc.kill.list() if s.name == "x" * 128]


def test_a_tenant_sees_only_the_switches_that_affect_it(gateway: Gateway) -> None:
    svc = gateway.svc
    if not svc.tenants.exists("uikills"):
        svc.tenants.create("uikills", models=["*"], tools=[], rpm=100)
    other = svc.tenants.create_key("uikills", label="ui-kills", role="admin").plaintext
    thrown = [
        ("tenant", "uikills", "key leaked, rotating"),
        ("tool", TOOL, "flapping peers"),
        ("deployment", "ui-test-gpu", "driver update"),  # serves no route
        ("route", "ui-test-route", "bad answers"),  # no such route
        ("prompt", "0123456789ab", "echoes its instructions"),  # nobody's version
    ]
    with reviving(gateway, *[(kind, name) for kind, name, _ in thrown]):
        for kind, name, reason in thrown:
            body = {"kind": kind, "name": name, "reason": reason}
            assert httpx.post(f"{gateway.v1}/kill", json=body, headers=auth(gateway.operator)).status_code == 200

        demo = active(gateway.url, gateway.key)
        assert demo["tenant"] == "demo" and demo["operator"] is False
        assert [(s["kind"], s["name"], s["reason"]) for s in demo["data"]] == [("tool", TOOL, "flapping peers")]
        assert set(demo["data"][0]) == {"kind", "name", "reason", "author", "at", "routes"}

        ops = active(gateway.url, gateway.operator)  # an operator sees every switch
        assert ops["operator"] is True
        assert {(s["kind"], s["name"]) for s in ops["data"]} == {(kind, name) for kind, name, _ in thrown}

        refused = httpx.get(f"{gateway.v1}/kill/active", headers=auth(other))  # its own tenant is off
        assert refused.status_code == 503 and refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "killed" and "key leaked, rotating" in refused.json()["detail"]

        svc.kill.revive(Target.TENANT, "uikills", author="test_ui_kills")
        svc.live.refresh()
        theirs = active(gateway.url, other)
        assert theirs["tenant"] == "uikills" and theirs["data"] == []  # no tools granted: not even TOOL's switch


def test_drains_and_prompt_versions_are_shown_to_the_tenants_they_serve(model: ModelEndpoint, tmp_path: Path) -> None:
    """A gateway of its own (two deployments, and a prompt version to switch off without touching the session's)."""
    deployments = [Deployment(name=n, model="smollm2-135m-instruct", base_url=model.url) for n in ("a", "b", "c")]
    routes = [Route(name="pair", deployments=["a", "b"], assistant=False), Route(name="solo", deployments=["c"])]
    with one_tenant_gateway(tmp_path / "data", model.url, deployments=deployments, routes=routes) as gw:
        gw.svc.tenants.create("narrow", models=["solo"], tools=[], rpm=100)
        narrow = gw.svc.tenants.create_key("narrow", label="ui-kills").plaintext
        in_force = gw.svc.rollouts.in_force("t")
        gw.svc.kill.throw(Target.DEPLOYMENT, "a", reason="driver update", author="test_ui_kills")
        gw.svc.kill.throw(Target.PROMPT, in_force, reason="echoes its instructions", author="test_ui_kills")
        gw.svc.live.refresh()
        seen = {s["kind"]: s for s in active(gw.url, gw.key)["data"]}
        assert seen["deployment"]["name"] == "a" and seen["deployment"]["routes"] == ["pair"]
        assert seen["prompt"]["name"] == in_force and seen["prompt"]["reason"] == "echoes its instructions"
        narrow_seen = active(gw.url, narrow)["data"]  # may call `solo` only: `a` serves none of its routes
        assert [(s["kind"], s["name"]) for s in narrow_seen] == [("prompt", in_force)]


def test_the_active_switches_need_a_key(gateway: Gateway) -> None:
    missing = httpx.get(f"{gateway.v1}/kill/active")
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "missing_key"
    unknown = httpx.get(f"{gateway.v1}/kill/active", headers=auth("nk-nosuch-key"))
    assert unknown.status_code == 401 and unknown.json()["code"] in {"unknown_key", "missing_key"}
    assert httpx.get(f"{gateway.v1}/kill", headers=auth(gateway.key)).status_code == 403  # the full list: operators


def active(url: str, key: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/v1/kill/active", headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operator_key_id(gateway: Gateway) -> str:
    return gateway.svc.tenants.authenticate(gateway.operator).key_id


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
