"""Slack fixtures: a local Slack API (Web API + Socket Mode WebSocket, `evals.slack_api`), and one real gateway
over the real model and the FRR lab with the bot attached on `/slack/events`, its channels and users mapped.

Tenants: `demo` (channel C0DEMO; users U0ADMIN admin, U0APPR and U0APPR2 approvers, U0USER user), `acme`
(channel C0ACME, user U0ACME), `tight` (channel C0TIGHT, user U0TIGHT, a token budget of 1: every chat is 402),
`onerpm` (channel C0ONE, user U0ONE, one request a minute: the second chat is 429).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from evals.slack_api import LocalSlack, event_callback, form, sign, slash_command
from gateway.app import create_app
from gateway.demo import build_index, ensure_demo_key
from gateway.services import Services
from gateway.settings import RetrievalSettings, SlackSettings, ToolSettings
from gateway.slack.http import SlackEndpoint
from gateway.slack.keys import KeyFile
from gateway.slack.mapping import map_channel, map_user
from gateway.slack.store import SlackStore
from gateway.slack.wiring import bolt_app, build_bot
from routing.limits import Quota
from tests.conftest import ModelEndpoint, gateway_settings
from tests.support import ThreadedServer, free_port
from tests.tools.conftest import INVENTORY, REPO, lab  # noqa: F401 - the session lab fixture
from tools.lab import Lab

TEAM = "T0TEST"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class SlackRig:
    """The gateway with the bot on /slack/events, the local Slack, and helpers to send Slack's requests."""

    url: str
    svc: Services
    slack: LocalSlack
    slack_url: str
    settings: SlackSettings
    store: SlackStore

    def post(self, body: bytes, content_type: str, **headers: str) -> httpx.Response:
        signed = {**sign(SECRET, body), "content-type": content_type, **headers}
        return httpx.post(f"{self.url}/slack/events", content=body, headers=signed, timeout=30)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **headers: str
    ) -> tuple[httpx.Response, str]:
        body = event_callback(TEAM, event, event_id=event_id)
        return self.post(json.dumps(body).encode(), "application/json", **headers), str(body["event_id"])

    def mention(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> str:
        """An app_mention; returns the thread the answer goes to."""
        ts = f"{time.time():.6f}"
        event = {"type": "app_mention", "user": user, "text": f"<@U0NETOPSBOT> {text}", "ts": ts, "channel": channel}
        if thread_ts:
            event["thread_ts"] = thread_ts
        response, _ = self.event(event)
        assert response.status_code == 200, response.text
        return thread_ts or ts

    def command(self, channel: str, user: str, text: str) -> httpx.Response:
        return self.post(form(slash_command(TEAM, channel, user, text)), "application/x-www-form-urlencoded")

    def audit(self, kind: str, limit: int = 500) -> list[dict[str, Any]]:
        return [r for r in self.svc.audit.records(limit=limit) if r["kind"] == kind]


def wait_for(check: Callable[[], Any], timeout: float = 90.0) -> Any:
    """Poll until `check()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.fixture(scope="session")
def local_slack() -> Iterator[tuple[LocalSlack, str]]:
    api = LocalSlack(team=TEAM)
    server = ThreadedServer(api.app).start()
    yield api, server.url
    server.stop()


@pytest.fixture(scope="session")
def rig(
    lab: Lab,  # noqa: F811
    model: ModelEndpoint,
    local_slack: tuple[LocalSlack, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SlackRig]:
    api, api_url = local_slack
    data = tmp_path_factory.mktemp("slack-gateway")
    slack = SlackSettings(
        bot_token=SecretStr("xoxb-test"),
        app_token=SecretStr("xapp-test"),
        signing_secret=SecretStr(SECRET),
        mode="http",
        api_url=f"{api_url}/api/",
        update_interval_s=1.0,
        max_tokens=32,
    )
    tools = ToolSettings(inventory_dir=INVENTORY, lab_dir=lab.root, lab_prefix=lab.prefix, lab_ssh_port=lab.ssh_port)
    retrieval = RetrievalSettings(sources=[REPO / "infra" / "demo" / "runbooks"])
    svc = Services.build(gateway_settings(data, model.url, tools=tools, retrieval=retrieval, slack=slack))
    build_index(svc, lambda _: None)
    ensure_demo_key(svc)
    _map_everyone(svc)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(svc)
    bot = build_bot(svc.settings, engine=svc.engine, audit=svc.audit, url=url)
    app.state.slack = SlackEndpoint(bolt_app(bot, slack), SECRET, svc.audit)
    server = ThreadedServer(app, port=port).start()
    yield SlackRig(url, svc, api, api_url, slack, SlackStore(svc.engine))
    server.stop()
    svc.close()


def _map_everyone(svc: Services) -> None:
    store = SlackStore(svc.engine)
    keys = KeyFile(svc.settings.data_dir / "slack-keys.json")
    svc.tenants.create("acme", models=["*"], tools=[], rpm=100)
    svc.tenants.create("tight", models=["*"], tools=[], rpm=100)
    svc.tenants.create("onerpm", models=["*"], tools=[], rpm=1)
    svc.tenants.set_quota("tight", Quota(token_budget=1, period="day"))
    for channel, tenant in (("C0DEMO", "demo"), ("C0ACME", "acme"), ("C0TIGHT", "tight"), ("C0ONE", "onerpm")):
        map_channel(svc.tenants, store, team=TEAM, channel=channel, tenant=tenant)
    users = (
        ("U0ADMIN", "demo", "admin"),
        ("U0APPR", "demo", "approver"),
        ("U0APPR2", "demo", "approver"),
        ("U0USER", "demo", "user"),
        ("U0ACME", "acme", "user"),
        ("U0TIGHT", "tight", "user"),
        ("U0ONE", "onerpm", "user"),
    )
    for user, tenant, role in users:
        map_user(svc.tenants, store, keys, team=TEAM, user=user, tenant=tenant, role=role)
