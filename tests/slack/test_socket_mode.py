"""Socket Mode against the local Slack's WebSocket: apps.connections.open, hello, envelopes acknowledged, the
work done after, and a redelivered envelope handled once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from evals.slack_api import event_callback, slash_command
from gateway.slack.wiring import SocketMode, bolt_app, build_bot
from tests.slack.conftest import TEAM, SlackRig, wait_for


@pytest.fixture
def socket_bot(rig: SlackRig) -> Iterator[SocketMode]:
    settings = rig.svc.settings.model_copy(update={"slack": rig.settings.model_copy(update={"mode": "socket"})})
    bot = build_bot(settings, engine=rig.svc.engine, audit=rig.svc.audit, url=rig.url)
    runner = SocketMode(bolt_app(bot, settings.slack), settings.slack)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(runner.connect(), loop).result(30)
    wait_for(lambda: rig.slack.connected() == 1, timeout=10)
    yield runner
    asyncio.run_coroutine_threadsafe(runner.close(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_socket_mode_answers_a_mention_once_and_acknowledges_envelopes(rig: SlackRig, socket_bot: SocketMode) -> None:
    assert any(c.token == "xapp-test" for c in rig.slack.calls("apps.connections.open"))
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": "U0USER",
        "text": "<@U0NETOPSBOT> is bgp up on r1?",
        "ts": ts,
        "channel": "C0DEMO",
    }
    body = event_callback(TEAM, event)
    first = rig.slack.send_envelope("events_api", body)
    again = rig.slack.send_envelope("events_api", body)  # redelivered: same event id, new envelope
    wait_for(lambda: first in rig.slack.acks and again in rig.slack.acks, timeout=5)
    wait_for(lambda: [r for r in rig.audit("slack.handled") if r["payload"]["thread_ts"] == ts])
    time.sleep(1.0)
    assert len([c for c in rig.slack.calls("chat.postMessage") if c.args.get("thread_ts") == ts]) == 1


def test_socket_mode_slash_command(rig: SlackRig, socket_bot: SocketMode) -> None:
    envelope = rig.slack.send_envelope(
        "slash_commands", slash_command(TEAM, "C0DEMO", "U0APPR2", "search ospf neighbor down")
    )
    wait_for(lambda: envelope in rig.slack.acks, timeout=5)
    wait_for(
        lambda: [
            c
            for c in rig.slack.calls("chat.postEphemeral")
            if c.args["user"] == "U0APPR2" and "Runbooks for" in c.text()
        ]
    )


def test_netops_slack_run_starts_the_bot_and_ctrl_c_stops_it(rig: SlackRig) -> None:
    """The start path a NOC uses: `netops slack run` (Socket Mode) beside a running gateway, from settings only."""
    env = {
        **os.environ,
        "NETOPS_DATA_DIR": str(rig.svc.settings.data_dir),  # the same store: channel and user mappings, keys file
        "NETOPS_SLACK__MODE": "socket",
        "NETOPS_SLACK__BOT_TOKEN": "xoxb-test",
        "NETOPS_SLACK__APP_TOKEN": "xapp-run-test",
        "NETOPS_SLACK__API_URL": f"{rig.slack_url}/api/",
        "NETOPS_SLACK__GATEWAY_URL": rig.url,
    }
    before = rig.slack.connected()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "slack", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: rig.slack.connected() > before, timeout=60)
        envelope = rig.slack.send_envelope("slash_commands", slash_command(TEAM, "C0DEMO", "U0USER", "search dns"))
        wait_for(lambda: envelope in rig.slack.acks, timeout=10)
        wait_for(
            lambda: [
                c for c in rig.slack.calls("chat.postEphemeral") if c.args["user"] == "U0USER" and "dns" in c.text()
            ]
        )
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert "Slack bot: Socket Mode, gateway " + rig.url in output
    assert proc.returncode == 0, output[-2000:]
    assert "xoxb-test" not in output and "xapp-run-test" not in output
