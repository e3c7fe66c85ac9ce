"""Slack bot benchmark: seconds from a Slack event to the bot's first Slack update and to the full answer.

One real gateway (the embedded model server, SQLite, the demo runbook index) with the bot on `/slack/events`,
a local Slack API (`evals.slack_api`) and signed `app_mention` events, one at a time:

    ack         the HTTP Events API acknowledgment (Slack wants it within 3 s)
    first       the bot's first message in the thread (chat.postMessage)
    full        the final chat.update (the complete answer with findings, sources and warnings)

Without the FRR lab up, the evidence checks fail fast and the timings are the model's and the bot's.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from evals.slack_api import LocalSlack, event_callback, sign
from gateway.local import ThreadedServer, free_port

if TYPE_CHECKING:
    from gateway.services import Services

__all__ = ["SlackRun", "format_table", "measure", "write_json"]

QUESTIONS = [
    "BGP session to 192.0.2.2 is down. What should I check first?",
    'InterfaceDown{instance="r1", interface="r1-r3"}: ifOperStatus is down',
    "DNS lookups fail from h1, where do I start?",
]
_TEAM, _SECRET = "T0BENCH", "bench-signing-secret"


@dataclass(frozen=True, slots=True)
class SlackRun:
    """One question: seconds to the ack, to the first Slack update and to the full answer; chat.update calls."""

    question: str
    ack_s: float
    first_update_s: float
    full_answer_s: float
    updates: int


def measure(*, questions: int = 3) -> list[SlackRun]:
    """Start everything in-process, ask `questions` questions, stop everything."""
    from gateway.app import create_app  # noqa: PLC0415 - heavy imports only when measuring
    from gateway.demo import build_index, ensure_demo_key  # noqa: PLC0415
    from gateway.services import Services  # noqa: PLC0415
    from gateway.settings import ModelServerSettings, RetrievalSettings, Settings, SlackSettings  # noqa: PLC0415
    from gateway.slack.http import SlackEndpoint  # noqa: PLC0415
    from gateway.slack.keys import KeyFile  # noqa: PLC0415
    from gateway.slack.mapping import map_channel, map_user  # noqa: PLC0415
    from gateway.slack.store import SlackStore  # noqa: PLC0415
    from gateway.slack.wiring import bolt_app, build_bot  # noqa: PLC0415
    from gateway.supervisor import ModelServer  # noqa: PLC0415

    data = Path(tempfile.mkdtemp(prefix="netops-slack-bench-"))
    api = LocalSlack(team=_TEAM)
    slack_server = ThreadedServer(api.app).start()
    model = ModelServer(ModelServerSettings(port=free_port()), log_dir=data / "logs")
    model.start()
    slack = SlackSettings(
        bot_token=SecretStr("xoxb-bench"),
        signing_secret=SecretStr(_SECRET),
        mode="http",
        api_url=f"{slack_server.url}/api/",
        max_tokens=64,
    )
    settings = Settings(
        data_dir=data,
        model_server=ModelServerSettings(enabled=False, port=model.settings.port),
        retrieval=RetrievalSettings(sources=[Path(__file__).resolve().parents[1] / "infra" / "demo" / "runbooks"]),
        slack=slack,
    )
    svc = Services.build(settings)
    try:
        build_index(svc, lambda _: None)
        ensure_demo_key(svc)
        store, keys = SlackStore(svc.engine), KeyFile(data / "slack-keys.json")
        map_channel(svc.tenants, store, team=_TEAM, channel="C0BENCH", tenant="demo")
        map_user(svc.tenants, store, keys, team=_TEAM, user="U0BENCH", tenant="demo", role="user")
        model.wait_ready()
        port = free_port()
        app = create_app(svc)
        bot = build_bot(svc.settings, engine=svc.engine, audit=svc.audit, url=f"http://127.0.0.1:{port}")
        app.state.slack = SlackEndpoint(bolt_app(bot, slack), _SECRET, svc.audit)
        gateway = ThreadedServer(app, port=port).start()
        try:
            return [_ask(gateway.url, api, svc, QUESTIONS[n % len(QUESTIONS)]) for n in range(questions)]
        finally:
            gateway.stop()
    finally:
        svc.close()
        model.stop()
        slack_server.stop()


def _ask(url: str, api: LocalSlack, svc: Services, question: str) -> SlackRun:
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": "U0BENCH",
        "text": f"<@U0NETOPSBOT> {question}",
        "ts": ts,
        "channel": "C0BENCH",
    }
    body = json.dumps(event_callback(_TEAM, event)).encode()
    started = time.monotonic()
    response = httpx.post(
        f"{url}/slack/events",
        content=body,
        timeout=30,
        headers={**sign(_SECRET, body), "content-type": "application/json"},
    )
    acked = time.monotonic()
    response.raise_for_status()
    audit = svc.audit
    deadline = started + 180
    while time.monotonic() < deadline:
        done = [r for r in audit.records(limit=20) if r["kind"] == "slack.handled" and r["payload"]["thread_ts"] == ts]
        if done:
            break
        time.sleep(0.05)
    (reply,) = [c for c in api.calls("chat.postMessage") if c.args.get("thread_ts") == ts]
    updates = [c for c in api.calls("chat.update") if c.args.get("ts") == reply.ts]
    last = updates[-1].at if updates else reply.at
    return SlackRun(
        question[:48], round(acked - started, 3), round(reply.at - started, 3), round(last - started, 3), len(updates)
    )


def format_table(runs: list[SlackRun]) -> str:
    lines = [f"{'question':50} {'ack s':>7} {'first s':>8} {'full s':>8} {'updates':>8}"]
    lines += [
        f"{r.question:50} {r.ack_s:7.3f} {r.first_update_s:8.3f} {r.full_answer_s:8.3f} {r.updates:8d}" for r in runs
    ]
    if runs:
        med = statistics.median
        lines.append(
            f"{'median':50} {med(r.ack_s for r in runs):7.3f} {med(r.first_update_s for r in runs):8.3f} "
            f"{med(r.full_answer_s for r in runs):8.3f}"
        )
    return "\n".join(lines)


def write_json(runs: list[SlackRun], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([asdict(r) for r in runs], indent=1))
